"""What the suite's stacks are set up with, shared by the fixtures (tests/conftest.py) and the tests."""

from __future__ import annotations

import dataclasses
import socket

from functions.catalog import INGRESS_URL_VARIABLE, http_api_named
from local.lambda_runtime import FunctionSpec, spec_for_http_api
from local.stack import LocalStack
from tests.polling import wait_until

TEST_SETTINGS: dict[str, str] = {
    # Pattern settings shortened so that the suite runs the long waits quickly (one line per setting).
    "PAYMENT_REMINDER_INTERVAL_SECONDS": "1",  # scheduling_tasks: a full loop (3 reminders, escalation) in ~3 s
    "UPLOAD_MIN_SECONDS": "1",  # data_upload: at least 1 s, so a 0.1 s client wait is always the slow path
    "UPLOAD_MAX_SECONDS": "1.5",
    "MODERATION_POLL_SECONDS": "0.3",
    "MODERATION_MIN_PENDING_POLLS": "2",
    "MODERATION_MAX_PENDING_POLLS": "2",
    "BOOKING_CHARGE_MAX_ATTEMPTS": "3",  # sagas: a test card losing 3 charge answers makes the saga give up
    "MACHINE_TRANSITION_SECONDS": "1",  # stateful_actors: long enough for a's and b's transitions to overlap
    "MACHINE_CRASH_MODE": "once",  # stateful_actors: every transition crashes once, so retries are certain
    "FANOUT_SUBTASK_SECONDS": "2",  # parallelize_work: longer than a few cold starts, so subtasks overlap
    "FANOUT_FLAKY_SUBTASKS": "flaky",  # parallelize_work: a subtask named "flaky" fails once, then succeeds
    "FEED_MAX_POSTS": "3",  # event_transactions: a fourth post pushes the oldest out of the feed
    "PACKAGE_MAX_LOCATIONS": "30",  # event_enrichment: more than the broker-restart test sends one package
}

TEST_FUNCTIONS = (
    FunctionSpec(name="probe", handler="tests.lambda_functions.probe.handler", timeout_seconds=2.0, max_concurrency=6),
    FunctionSpec(
        name="probe_limited", handler="tests.lambda_functions.probe.handler", timeout_seconds=5.0, max_concurrency=2
    ),
    FunctionSpec(name="crash_once", handler="tests.lambda_functions.crash_once.app", timeout_seconds=10.0),
)

UNREACHABLE_PORT = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
UNREACHABLE_PORT.bind(("127.0.0.1", 0))
"""Bound for the whole session but never listening: connections to it are refused, and no server
started meanwhile can take the port over."""
FRONT_DOOR_WITHOUT_RESTATE = dataclasses.replace(
    spec_for_http_api(
        http_api_named("front_door"),
        {INGRESS_URL_VARIABLE: f"http://127.0.0.1:{UNREACHABLE_PORT.getsockname()[1]}"},
    ),
    name="front_door_without_restate",
)
"""The front door's real handler pointed at an ingress that is down (tests/stack/test_front_door.py)."""


SETTLE_SECONDS = 60.0
"""How long a transient retry (a crash-once machine, a lost charge answer) may take to go through."""


def retrying_invocations(stack: LocalStack) -> list[str]:
    """One line per invocation Restate is retrying or has paused: its id, target, attempts and last failure."""
    return stack.harness.retrying_invocations()


def assert_nothing_left_retrying(stack: LocalStack) -> None:
    """Fails listing what Restate still retries: a retry that never ends is a bug even when every test passed.

    A test that leaves an invocation retrying on purpose kills it before it ends
    (``PATCH /invocations/<id>/kill`` on the admin API); none does today.
    """
    wait_until(
        lambda: retrying_invocations(stack),
        f"no invocation retrying on {stack.ingress_url} at the end of the session",
        accept=lambda retrying: not retrying,
        timeout=SETTLE_SECONDS,
    )

"""Fixtures: one real local stack per test session, on random free ports.

The stack is the one `make dev` runs - restate-server, the local Lambda runtime serving the real
handler modules, moto - plus a few test-only functions. Kafka starts only when a test asks for
the ``kafka_stack`` fixture. Each test gets its own keys (:func:`unique`), so tests share the
stack without sharing state. When a test fails, the tails of the server and function logs are
printed with it.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from types import CodeType, FunctionType

import boto3
import httpx
import pytest
from moto import mock_aws
from restate_lambda.local.processes import tail
from restate_lambda.registration.admin import RestateAdmin

from functions.catalog import INGRESS_URL_VARIABLE, http_api_named
from local.lambda_runtime import FunctionSpec, spec_for_http_api
from local.stack import LocalStack, StackPorts
from tests.cdk_support import TOKEN
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
"""The front door's real handler pointed at an ingress that is down (tests/test_front_door.py)."""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


STACK_STARTERS = frozenset({"LocalStack", "LocalHarness", "private_restate", "RestateServer"})
"""Names whose use starts a restate-server: the local stack, the package's harness, or a Restate of a test's own."""
STACK_COMMAND = "local.stack"
"""``python -m local.stack``: `make dev`'s stack, started as a process of its own."""
SYNTH_MODULES = re.compile(r"test_cdk_\w+\.py")
"""Modules that synthesize the CDK app or build Lambda bundles: seconds each, too slow for `make unit`."""

_starts_restate_verdicts: dict[FunctionType, bool] = {}


def _constants(code: CodeType) -> Iterator[object]:
    for constant in code.co_consts:
        # A literal list of strings is compiled to one tuple constant.
        yield from constant if isinstance(constant, tuple | frozenset) else (constant,)


def _helpers_of_the_tests(value: object) -> list[FunctionType]:
    """The functions behind a name that the tests define themselves: a function, or a class's methods."""
    if not str(getattr(value, "__module__", "")).startswith("tests."):
        return []
    if isinstance(value, FunctionType):
        return [value]
    if isinstance(value, type):
        methods = (getattr(member, "__func__", member) for member in vars(value).values())
        return [method for method in methods if isinstance(method, FunctionType)]
    return []


def _starts_restate(function: FunctionType) -> bool:
    """Whether calling ``function`` starts a restate-server, told from the names its code uses."""
    if function not in _starts_restate_verdicts:
        _starts_restate_verdicts[function] = False  # reached again through itself, a helper adds nothing
        _starts_restate_verdicts[function] = _names_a_stack_starter(function)
    return _starts_restate_verdicts[function]


def _names_a_stack_starter(function: FunctionType) -> bool:
    """Follows the functions nested in ``function`` and the helpers of the tests it names (a fixture
    calling ``_start_stack``, a test constructing a ``StackProcess``), but nothing of the project's own."""
    pending = [function.__code__]
    while pending:
        code = pending.pop()
        if STACK_STARTERS.intersection(code.co_names) or STACK_COMMAND in _constants(code):
            return True
        named = (function.__globals__.get(name) for name in code.co_names)
        if any(_starts_restate(helper) for value in named for helper in _helpers_of_the_tests(value)):
            return True
        pending.extend(constant for constant in code.co_consts if isinstance(constant, CodeType))
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks what `make unit` leaves out: ``stack`` for tests that start Restate, ``synth`` for CDK work.

    Told from the code, so that test modules carry no markers of their own and a new test is sorted
    the moment it is written: ``stack`` if the test, or any fixture it reaches (``item.fixturenames``
    holds them all, directly taken or not), starts a restate-server.
    """
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        definitions = item._fixtureinfo.name2fixturedefs  # the only place pytest keeps an item's fixture functions
        fixtures = [fixture.func for name in item.fixturenames for fixture in definitions.get(name, ())]
        if any(
            _starts_restate(function) for function in (item.function, *fixtures) if isinstance(function, FunctionType)
        ):
            item.add_marker(pytest.mark.stack)
        if SYNTH_MODULES.fullmatch(item.path.name):
            item.add_marker(pytest.mark.synth)


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def _start_stack(tmp_path_factory: pytest.TempPathFactory, name: str, with_kafka: bool) -> LocalStack:
    state_dir = tmp_path_factory.mktemp(name)
    probe_dir = state_dir / "probe"
    probe_dir.mkdir()
    functions = tuple(
        FunctionSpec(
            spec.name,
            spec.handler,
            spec.timeout_seconds,
            spec.memory_mb,
            {"PROBE_DIR": str(probe_dir)},
            spec.max_concurrency,
        )
        for spec in TEST_FUNCTIONS
    )
    return LocalStack(
        state_dir=state_dir,
        ports=StackPorts.random(),
        with_kafka=with_kafka,
        function_settings=TEST_SETTINGS,
        extra_functions=(*functions, FRONT_DOOR_WITHOUT_RESTATE),
    ).start()


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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """restate-server + local Lambda runtime + moto, every catalog function registered by ARN."""
    started = _start_stack(tmp_path_factory, "stack", with_kafka=False)
    yield started
    try:
        assert_nothing_left_retrying(started)
    finally:
        started.stop()


@pytest.fixture(scope="session")
def kafka_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The same stack with a real Kafka broker, cluster `my-cluster` and the catalog's subscriptions."""
    started = _start_stack(tmp_path_factory, "kafka-stack", with_kafka=True)
    yield started
    try:
        assert_nothing_left_retrying(started)
    finally:
        started.stop()


def _log_files(stack: LocalStack) -> list[Path]:
    return sorted(stack.log_dir.rglob("*.log"))


@pytest.fixture(autouse=True)
def show_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not _failed(request):
        return
    for name in ("stack", "kafka_stack"):
        if name in request.fixturenames:
            running: LocalStack = request.getfixturevalue(name)
            for path in _log_files(running):
                print(f"\n----- {path.name} (last lines) -----\n{tail(path, 40)}")


@pytest.fixture
def token_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a secret holding the admin token, in an in-process moto."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="restate/admin-token", SecretString=TOKEN)
        yield "restate/admin-token"


@pytest.fixture
def unique() -> str:
    """A fresh key for this test: product ids, task ids, ... never collide across tests or runs."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def ingress(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.ingress_url, timeout=60) as client:
        yield client


@pytest.fixture
def admin(stack: LocalStack) -> RestateAdmin:
    return stack.admin()

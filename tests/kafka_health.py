"""After a test restarts the session's Kafka broker: every catalog subscription consumes again before the next test.

restate-server (1.7.12) ends a subscription's consumer on every broker transport error and starts a
new one, dozens of times during a few seconds of broker downtime; the last one joins the consumer
group once the broker is back, and the group lets the dead member go after the subscription's
``session.timeout.ms``. A consumer that instead saw no transport error, only "not coordinator"
answers until its session timed out on its own side, revoked its partitions and never joined again:
in CI and once here, in full runs of the suite, both subscriptions stayed silent for minutes (the
records kept, not consumed) and every later Kafka test failed. The catalog's session timeout is now
long enough for a broker restart; should a consumer stall all the same, a test that restarts the
broker checks liveness apart from correctness: a subscription that does not consume a probe record
in time is deleted and created again (a new consumer, same group, so it resumes at the committed
offset), and the test says so with a warning naming it and restate's consumer lines, instead of
leaving a silent broker to the tests after it.
"""

from __future__ import annotations

import uuid
import warnings
from functools import partial

from functions.catalog import PATTERNS, all_subscriptions
from functions.catalog import Subscription as CatalogSubscription
from local.produce import produce
from local.stack import LocalStack, subscription_spec
from tests.polling import wait_until

PROBE_TIMEOUT = 120.0
"""Far above what a restarted broker normally costs: the subscriptions' session timeout (30 s) and a rebalance."""


class SubscriptionStalled(UserWarning):
    """A subscription consumed nothing after a broker restart until it was created again."""


def invocations(stack: LocalStack, subscription: CatalogSubscription, keys: list[str], over: bool) -> int:
    """How many invocations the subscription's handler has for these keys that are over, or not over yet."""
    listed = ", ".join(f"'{key}'" for key in keys)
    rows = stack.admin().query(
        "SELECT count(*) AS found FROM sys_invocation "
        f"WHERE target_service_name = '{subscription.service}' AND target_handler_name = '{subscription.handler}' "
        f"AND target_service_key IN ({listed}) AND status {'=' if over else '<>'} 'completed'"
    )
    return int(rows[0]["found"])


def stalled_subscriptions(stack: LocalStack, timeout: float = PROBE_TIMEOUT) -> list[CatalogSubscription]:
    """The catalog subscriptions that have not consumed a probe record, produced now, within ``timeout``.

    A subscription consumes its topic in order, so a consumed probe means every record before it
    was consumed too. The probe need not be valid: a handler refusing it has consumed it all the same.
    """
    probes = {subscription: f"consuming-{uuid.uuid4().hex[:12]}" for subscription in all_subscriptions()}
    for subscription, key in probes.items():
        produce(stack.kafka_bootstrap, subscription.topic, [(key, "{}")])
    stalled = []
    for subscription, key in probes.items():
        try:
            wait_until(
                partial(invocations, stack, subscription, [key], over=True),
                f"the subscription of {subscription.topic} to consume again",
                timeout=timeout,
            )
        except AssertionError:
            stalled.append(subscription)
        # The others had as long as this one: no need to give each its own full timeout.
        timeout = min(timeout, 5.0) if stalled else timeout
    return stalled


def consumer_lines(stack: LocalStack, last: int = 6) -> str:
    """restate-server's last lines about its Kafka consumers: what they did when a subscription stalled."""
    lines = (stack.log_dir / "restate-server.log").read_text(errors="replace").splitlines()
    about_consumers = [line.strip() for line in lines if "Consumer task" in line or "SESSTMOUT" in line]
    restarts = sum("Consumer task" in line for line in about_consumers)
    return f"{restarts} consumer restarts in restate-server.log; last lines: " + " | ".join(about_consumers[-last:])


def recreate(stack: LocalStack, subscription: CatalogSubscription) -> None:
    pattern = next(pattern for pattern in PATTERNS if subscription in pattern.subscriptions)
    spec = subscription_spec(pattern, subscription)
    admin = stack.admin()
    existing = admin.find_subscription(spec.source, spec.sink)
    if existing is not None:
        admin.delete_subscription(existing["id"])
    admin.create_subscription(spec)


def ensure_every_subscription_consumes(stack: LocalStack, timeout: float = PROBE_TIMEOUT) -> None:
    """Return once every catalog subscription consumes, creating again those that stalled (with a warning).

    Fails when one still consumes nothing after that: the broker is then broken for the tests after.
    """
    stalled = stalled_subscriptions(stack, timeout)
    if not stalled:
        return
    names = ", ".join(f"{subscription.topic} -> {subscription.sink}" for subscription in stalled)
    diagnosis = consumer_lines(stack)
    for subscription in stalled:
        recreate(stack, subscription)
    still = stalled_subscriptions(stack)
    assert not still, f"still consuming nothing after being created again: {still}; {diagnosis}"
    warnings.warn(SubscriptionStalled(f"created again after consuming nothing: {names}; {diagnosis}"), stacklevel=2)

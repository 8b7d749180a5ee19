"""Fault: the Kafka broker restarted while Restate consumes 1,000 location updates for 50 packages.

Half the records are produced, the broker is restarted while Restate is still working through
them, then the other half follows. Each package must end with exactly its 20 locations, in the
order they were produced (20 stays under PACKAGE_MAX_LOCATIONS, so the bounded list keeps them all).

The broker is the session's: before the test ends, every catalog subscription has consumed a record
produced after the restart (tests/kafka_health.py), so the tests after it find Kafka working.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from functions.catalog import all_subscriptions
from local.produce import produce
from local.stack import LocalStack
from tests.fault_figures import report_fault
from tests.kafka_health import ensure_every_subscription_consumes, invocations
from tests.polling import wait_until
from tests.stack.test_event_enrichment import TOPIC, location, package_info, register
from tests.stack_setup import TEST_SETTINGS

pytestmark = [
    pytest.mark.fault,
    pytest.mark.kafka,
    pytest.mark.skipif(os.environ.get("CHAOS") != "1", reason="slow: `make chaos` runs it"),
    pytest.mark.timeout(900),
]

LOCATION_UPDATES = next(subscription for subscription in all_subscriptions() if subscription.topic == TOPIC)
PACKAGES = 50
EVENTS = 1000
assert int(TEST_SETTINGS["PACKAGE_MAX_LOCATIONS"]) >= EVENTS // PACKAGES, "a package would drop its oldest locations"


def test_broker_restart_under_1000_events_loses_none_duplicates_none_keeps_order_per_key(
    kafka_stack: LocalStack, unique: str
):
    assert kafka_stack.kafka is not None
    packages = [f"pkg{n}-{unique}" for n in range(PACKAGES)]
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda package: register(kafka_stack, package), packages))
    events = [(packages[n % PACKAGES], location(f"{n:04d}", f"stop {n}")) for n in range(EVENTS)]

    try:
        produce(kafka_stack.kafka_bootstrap, TOPIC, events[: EVENTS // 2])
        consumed_before = sum(len(package_info(kafka_stack, package).get("locations", [])) for package in packages)
        kafka_stack.kafka.restart()
        produce(kafka_stack.kafka_bootstrap, TOPIC, events[EVENTS // 2 :])

        wait_until(
            partial(invocations, kafka_stack, LOCATION_UPDATES, packages, over=True),
            f"all {EVENTS} location updates",
            accept=lambda done: done >= EVENTS,
            timeout=600,
        )
    finally:
        ensure_every_subscription_consumes(kafka_stack)
    # A record read twice after the restart would be queued behind the originals: wait for the queues to drain.
    wait_until(
        partial(invocations, kafka_stack, LOCATION_UPDATES, packages, over=False),
        "no location update left to run",
        accept=lambda left: left == 0,
    )
    expected = {package: [f"{n:04d}" for n in range(index, EVENTS, PACKAGES)] for index, package in enumerate(packages)}
    found = {
        package: [entry["timestamp"] for entry in package_info(kafka_stack, package)["locations"]]
        for package in packages
    }

    received = [timestamp for timestamps in found.values() for timestamp in timestamps]
    lost = sum(len(set(expected[package]) - set(found[package])) for package in packages)
    duplicated = len(received) - len(set(received))
    order_kept = sum(found[package] == sorted(found[package]) for package in packages)
    report_fault(
        f"Kafka broker restart under {EVENTS} events over {PACKAGES} keys",
        f"{consumed_before} consumed before the restart; done {len(set(received))}, lost {lost}, "
        f"duplicated {duplicated}, order kept for {order_kept}/{PACKAGES} keys",
    )
    assert found == expected

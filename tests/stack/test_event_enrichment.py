"""PackageTracker: registered over HTTP, located by Kafka records, read over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local.produce import produce
from tests.kafka_health import ensure_every_subscription_consumes
from tests.polling import wait_until

pytestmark = pytest.mark.kafka

TOPIC = "package-location-updates"


def register(stack, package: str, destination: str = "Bridge 6, Amsterdam") -> None:
    response = httpx.post(
        f"{stack.ingress_url}/PackageTracker/{package}/RegisterPackage",
        json={"finalDestination": destination},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def package_info(stack, package: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.ingress_url}/PackageTracker/{package}/GetPackageInfo", timeout=30)
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def location(timestamp: str, place: str) -> str:
    return json.dumps({"timestamp": timestamp, "location": place})


def locations_of(stack, package: str, count: int, timeout: float = 30) -> list[dict[str, str]]:
    info = wait_until(
        lambda: package_info(stack, package),
        f"{count} locations of {package}",
        accept=lambda info: len(info.get("locations", [])) >= count,
        timeout=timeout,
    )
    found: list[dict[str, str]] = info["locations"]
    return found


def test_the_example_scenario_register_then_two_locations_from_kafka(kafka_stack, unique):
    package = f"package-{unique}"
    register(kafka_stack, package)
    produce(
        kafka_stack.kafka_bootstrap,
        TOPIC,
        [
            (package, location("2024-10-10 13:00", "Pinetree Road 5, Paris")),
            (package, location("2024-10-10 14:00", "Mountain Road 155, Brussels")),
        ],
    )
    locations_of(kafka_stack, package, 2)
    assert package_info(kafka_stack, package) == {
        "finalDestination": "Bridge 6, Amsterdam",
        "locations": [
            {"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"},
            {"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"},
        ],
    }


def test_unknown_package_event_fails_terminally_and_does_not_block_later_events(kafka_stack, unique):
    unknown, known = f"unknown-{unique}", f"known-{unique}"
    register(kafka_stack, known)
    produce(
        kafka_stack.kafka_bootstrap,
        TOPIC,
        [
            (unknown, location("t1", "nowhere")),
            (known, location("t2", "Paris")),
        ],
    )
    assert locations_of(kafka_stack, known, 1) == [{"timestamp": "t2", "location": "Paris"}]
    # The same key works too, once the package exists: the failed record did not stall it.
    register(kafka_stack, unknown)
    produce(kafka_stack.kafka_bootstrap, TOPIC, [(unknown, location("t3", "Brussels"))])
    assert locations_of(kafka_stack, unknown, 1) == [{"timestamp": "t3", "location": "Brussels"}]
    failures = kafka_stack.admin().query(
        "SELECT completion_failure FROM sys_invocation "
        f"WHERE target_service_key = '{unknown}' AND target_handler_name = 'UpdateLocation' "
        "AND completion_result = 'failure'"
    )
    assert [row["completion_failure"] for row in failures] == [f"[404] package {unknown} is not registered"]


def test_update_of_an_unknown_package_over_http_is_a_404(kafka_stack, unique):
    response = httpx.post(
        f"{kafka_stack.ingress_url}/PackageTracker/{unique}/UpdateLocation",
        json={"timestamp": "t", "location": "l"},
        timeout=30,
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"), [({"timestamp": "t"}, "location"), ({"location": 3, "timestamp": "t"}, "location")]
)
def test_bad_location_update_is_a_terminal_400_naming_the_field(kafka_stack, unique, payload, field):
    register(kafka_stack, unique)
    response = httpx.post(f"{kafka_stack.ingress_url}/PackageTracker/{unique}/UpdateLocation", json=payload, timeout=30)
    assert response.status_code == 400 and field in response.json()["message"]


def test_bad_registration_is_a_terminal_400_naming_the_field(kafka_stack, unique):
    response = httpx.post(f"{kafka_stack.ingress_url}/PackageTracker/{unique}/RegisterPackage", json={}, timeout=30)
    assert response.status_code == 400 and "finalDestination" in response.json()["message"]


@pytest.mark.fault
def test_broker_restart_mid_stream_loses_nothing_duplicates_nothing_keeps_order(kafka_stack, unique):
    packages = [f"pkg{n}-{unique}" for n in range(10)]
    for package in packages:
        register(kafka_stack, package)
    events = [(packages[n % 10], location(f"{n:04d}", f"stop {n}")) for n in range(240)]
    produce(kafka_stack.kafka_bootstrap, TOPIC, events[:120])
    assert kafka_stack.kafka is not None
    kafka_stack.kafka.restart()
    try:
        produce(kafka_stack.kafka_bootstrap, TOPIC, events[120:])
    finally:
        # The broker is the session's: every subscription consumes again before the next test relies on it.
        ensure_every_subscription_consumes(kafka_stack)
    for index, package in enumerate(packages):
        expected = [f"{n:04d}" for n in range(index, 240, 10)]
        found = locations_of(kafka_stack, package, len(expected))
        assert [entry["timestamp"] for entry in found] == expected

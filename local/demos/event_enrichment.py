"""The package scenario of `make demo`: register over HTTP, two locations from Kafka, read the joined info."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from local.clients import Ingress, IngressError
from local.clients.event_enrichment import package_info, register_package
from local.produce import DEFAULT_BOOTSTRAP, produce

TOPIC = "package-location-updates"
LOCATIONS = [
    {"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"},
    {"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"},
]


def run_demo(ingress: Ingress, bootstrap: str = DEFAULT_BOOTSTRAP, timeout: float = 60.0) -> str:
    package = f"package123-{uuid.uuid4().hex[:8]}"
    register_package(ingress, package, "Bridge 6, Amsterdam")
    produce(bootstrap, TOPIC, [(package, json.dumps(update)) for update in LOCATIONS])
    expected: dict[str, Any] = {"finalDestination": "Bridge 6, Amsterdam", "locations": LOCATIONS}
    deadline = time.monotonic() + timeout
    while (info := package_info(ingress, package)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected}, got {info} after {timeout:.0f} s")
        time.sleep(0.2)
    try:
        package_info(ingress, f"never-registered-{package}")
    except IngressError as error:
        if error.status_code != 404:
            raise
    else:
        raise AssertionError("an unregistered package should be a 404")
    return "registered over HTTP, two Kafka locations joined in arrival order"

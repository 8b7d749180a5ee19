"""The fan-out scenario, as `make demo` runs it: split "a,b,c", run the parts at once, gather."""

from __future__ import annotations

import time

from local.clients import Ingress, call_key, checked, ingress_client


def run_task(ingress: Ingress, description: str, timeout: float = 120.0) -> str:
    """Run ``FanOutWorker/Run`` and return its aggregated description."""
    with ingress_client(ingress, timeout=timeout) as client:
        # A key of its own: sent again to another node of a cluster, the fan-out still runs once.
        run = client.post(
            "/FanOutWorker/Run", json={"description": description}, headers={"idempotency-key": call_key()}
        )
        response = checked(run)
    result: str = response.json()["description"]
    return result


def run_demo(ingress: Ingress) -> str:
    started = time.monotonic()
    result = run_task(ingress, "a,b,c")
    elapsed = time.monotonic() - started
    expected = "a: DONE, b: DONE, c: DONE"
    if result != expected:
        raise AssertionError(f"expected {expected!r}, got {result!r}")
    return f"'a,b,c' -> {result!r} in {elapsed:.1f} s, the three subtasks in parallel"

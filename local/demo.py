"""`make demo`: run every catalog pattern's demo scenario, one PASS/FAIL line each.

Uses the stack already running on the contract's ports (`make dev` in another terminal), or
starts one for the duration of the demo.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable

from functions.catalog import PATTERNS
from functions.common.ingress import DEFAULT_INGRESS_URL
from local.processes import STATE_DIR, port_is_open
from local.stack import LocalStack, StackPorts, settings_from


def demo_of(pattern_name: str) -> Callable[[str], str]:
    module = importlib.import_module(f"functions.{pattern_name}.demo")
    run_demo: Callable[[str], str] = module.run_demo
    return run_demo


def run_all(ingress_url: str) -> bool:
    all_passed = True
    for pattern in PATTERNS:
        started = time.monotonic()
        try:
            summary = demo_of(pattern.name)(ingress_url)
        except Exception as error:  # noqa: BLE001 - a failing demo is reported, the others still run
            all_passed = False
            print(f"FAIL  {pattern.name:<18} {type(error).__name__}: {error}", flush=True)
            continue
        print(f"PASS  {pattern.name:<18} {summary} ({time.monotonic() - started:.1f} s)", flush=True)
    return all_passed


def main() -> None:
    ports = StackPorts()
    if port_is_open(ports.admin) and port_is_open(ports.ingress):
        print(f"Using the running stack at {DEFAULT_INGRESS_URL}", flush=True)
        sys.exit(0 if run_all(DEFAULT_INGRESS_URL) else 1)
    state_dir = STATE_DIR / "demo"
    shutil.rmtree(state_dir, ignore_errors=True)
    needs_kafka = any(pattern.subscriptions for pattern in PATTERNS)
    print("No stack running: starting one for the demo...", flush=True)
    with LocalStack(
        state_dir=state_dir, ports=ports, with_kafka=needs_kafka, function_settings=settings_from(os.environ)
    ) as stack:
        passed = run_all(stack.ingress_url)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()

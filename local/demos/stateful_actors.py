"""The machine scenario, as `make demo` runs it: five machine calls at once, answered per machine in order.

Each call is *sent* (``/send``) one after the other, so Restate has them queued per machine in the
order the pattern's README lists them before any has finished, then the demo attaches to all five
for their answers. With the default settings (5 s transitions, random crashes) this usually takes
10 to 30 seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import quote

from local.clients import Ingress, attach_to_invocation, call_key, checked, ingress_client

MachineCall = tuple[str, str]
"""(machine id, handler name)"""


def send_machine_calls(ingress: Ingress, calls: Sequence[MachineCall]) -> list[str]:
    """Queue the calls in this order without waiting for them; returns their invocation ids.

    Each call has a key of its own: sent again to another node of a cluster, it is still queued once.
    """
    with ingress_client(ingress) as client:
        return [
            checked(
                client.post(
                    f"/MachineOperator/{quote(machine, safe='')}/{handler}/send",
                    headers={"idempotency-key": call_key()},
                )
            ).json()["invocationId"]
            for machine, handler in calls
        ]


def attach_to_invocations(ingress: Ingress, invocation_ids: Sequence[str], timeout: float = 300.0) -> list[str]:
    """The answers of the invocations, waiting for those still running."""
    return [attach_to_invocation(ingress, invocation_id, timeout=timeout) for invocation_id in invocation_ids]


def run_demo(ingress: Ingress) -> str:
    suffix = uuid.uuid4().hex[:8]
    a, b = f"a-{suffix}", f"b-{suffix}"
    calls = [(a, "SetUp"), (a, "TearDown"), (b, "SetUp"), (b, "SetUp"), (b, "TearDown")]
    answers = attach_to_invocations(ingress, send_machine_calls(ingress, calls))
    expected = [
        f"{a} is now up",
        f"{a} is now down",
        f"{b} is now up",
        f"{b} is already up, so nothing to do",
        f"{b} is now down",
    ]
    if answers != expected:
        raise AssertionError(f"expected {expected}, got {answers}")
    return "a: up, down; b: up, already up, down - each machine in order, crashes retried"

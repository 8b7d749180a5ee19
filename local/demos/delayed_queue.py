"""The queue scenario, as `make demo` runs it: send delayed, send again, attach for the result."""

from __future__ import annotations

import uuid

from local.clients import Ingress
from local.clients.delayed_queue import attach_to_task, submit_task


def run_demo(ingress: Ingress) -> str:
    task_id = f"task-{uuid.uuid4().hex[:8]}"
    first = submit_task(ingress, task_id, "send the newsletter", delay="1s")
    again = submit_task(ingress, task_id, "send the newsletter", delay="1s")
    if (first.status, again.status) != ("Accepted", "PreviouslyAccepted"):
        raise AssertionError(f"expected Accepted then PreviouslyAccepted, got {first.status}, {again.status}")
    if again.invocation_id != first.invocation_id:
        raise AssertionError("the repeated submission started a second invocation")
    result = attach_to_task(ingress, task_id, timeout=60)
    expected = {"description": f"Finished task {task_id}: send the newsletter"}
    if result != expected:
        raise AssertionError(f"expected {expected}, got {result}")
    return "Accepted, PreviouslyAccepted, then the delayed task's result by attach"

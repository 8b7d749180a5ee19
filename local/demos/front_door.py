"""The durable-RPC and queue scenarios through the front door, as `make demo` runs them.

Every request goes curl-style to the API's (local) Function URL, through Mangum and FastAPI, and
from there through the Restate ingress to the patterns' functions.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

TASK_DEADLINE_SECONDS = 60.0


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: expected HTTP {status}, got "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


def run_demo(api_url: str) -> str:
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=api_url, timeout=60) as api:
        # Durable RPC: reservation ids 1, 2, 1 of a fresh product answer true, false, true.
        product = f"product-{run}"
        answers = [
            expect(api.post(f"/products/{product}/reserve", json={"reservationId": f"{product}-{reservation}"}), 200)
            for reservation in ("r1", "r2", "r1")
        ]
        if answers != [True, False, True]:
            raise AssertionError(f"expected true, false, true; got {answers}")

        # Queue: the same delayed task twice is queued once, and its result comes by polling.
        task = {"id": f"task-{run}", "description": "send the newsletter", "delay": "1s"}
        first, again = (expect(api.post("/tasks", json=task), 202) for _ in range(2))
        if (first["status"], again["status"]) != ("Accepted", "PreviouslyAccepted"):
            raise AssertionError(f"expected Accepted then PreviouslyAccepted, got {first['status']}, {again['status']}")
        if again["invocationId"] != first["invocationId"]:
            raise AssertionError("the repeated submission started a second invocation")
        deadline = time.monotonic() + TASK_DEADLINE_SECONDS
        while (state := expect(api.get(f"/tasks/{task['id']}"), 200))["status"] == "pending":
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task['id']} still pending after {TASK_DEADLINE_SECONDS:g} s")
            time.sleep(0.2)
        expected = {"description": f"Finished task {task['id']}: send the newsletter"}
        if state != {"taskId": task["id"], "status": "done", "result": expected}:
            raise AssertionError(f"expected the task's result {expected}, got {state}")
    return "via the Function URL: reservations true, false, true; task Accepted, PreviouslyAccepted, then done"

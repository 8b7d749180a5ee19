"""A plain Lambda handler (no Restate) whose behaviour the test chooses per event."""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "sleep":
        started = time.time()
        time.sleep(float(event["seconds"]))
        return {"pid": os.getpid(), "started": started, "finished": time.time()}
    if action == "raise":
        raise ValueError("the probe was asked to fail")
    if action == "exit":
        os._exit(3)
    if action == "answer_bytes":
        return {"padding": "x" * int(event["size"])}
    return {
        "pid": os.getpid(),
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "environment_function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
    }

"""A Function URL handler (no Restate, no framework) that answers in the shape the request path names."""

from __future__ import annotations

import base64
import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    path = event["rawPath"]
    if path == "/string":
        return "Hello, world!"
    if path == "/object":
        return {"message": "no statusCode, so a 200 JSON answer"}
    if path == "/binary":
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/octet-stream", "x-custom": "yes"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
            "cookies": ["a=1; Max-Age=60", "b=2"],
        }
    if path == "/bad-status":
        return {"statusCode": "teapot", "body": ""}
    if path == "/raise":
        raise RuntimeError("the handler failed")
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}

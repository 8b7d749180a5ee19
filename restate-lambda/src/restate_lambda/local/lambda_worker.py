"""One Lambda execution environment: imports a handler once, then serves events one at a time.

Started by :mod:`restate_lambda.local.lambda_runtime` with the Lambda environment variables
already set, so ``restate.app(...)`` sees ``AWS_LAMBDA_FUNCTION_NAME`` when the handler module is
imported and returns a Lambda handler, exactly as on AWS. The handler runs on this process's main thread (the
SDK requires the thread that created it).

Protocol on stdin/stdout: frames of a 4-byte big-endian length followed by a JSON document.
The runtime sends ``{"event": ..., "context": {...}}``; the worker answers
``{"ok": <handler result>}`` or ``{"error": {"errorMessage", "errorType", "stackTrace"}}``.
Before its first event the worker sends ``{"ready": true, "at": <time.monotonic()>}`` or an init
error, like Lambda's init phase (the monotonic clock is the system's, so the runtime tells the init
duration from it even when the ready frame waited in the pipe of a worker started ahead of time).
Anything the handler prints goes to stderr, which the runtime keeps as the function's log.

It runs as a file (``python -P lambda_worker.py <handler>``), not as a module of the package: the
function imports its own code only, and a cold start pays for nothing of the harness's. So it imports
the standard library alone.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    payload = json.dumps(message).encode()
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    message: dict[str, Any] = json.loads(payload)
    return message


class LambdaContext:
    """The attributes of AWS's context object that handlers commonly read."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields["function_version"]
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = fields["memory_limit_in_mb"]
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name: str = fields["log_stream_name"]
        self._deadline_ms: int = fields["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def load_handler(handler_path: str) -> Any:
    """The handler named ``module.attribute`` (Lambda's spelling) or ``module:attribute`` (an ASGI app's)."""
    separator = ":" if ":" in handler_path else "."
    module_name, _, attribute = handler_path.rpartition(separator)
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def main() -> None:
    handler_path = sys.argv[1]
    # The protocol owns the original stdout; print() in handlers must land in the log instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    protocol_in = sys.stdin.buffer
    # Lambda's Python runtime gives the root logger a handler and, with JSON logs, the level
    # from AWS_LAMBDA_LOG_LEVEL (INFO by default); handlers' logging.info lines must show here too.
    logging.basicConfig(
        level=os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        format="[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s",
        stream=sys.stderr,
    )

    try:
        handler = load_handler(handler_path)
    except Exception as error:  # noqa: BLE001 - reported to the caller like Lambda's init error
        traceback.print_exc()
        write_frame(protocol_out, {"error": error_payload(error, "Runtime.ImportModuleError")})
        sys.exit(1)
    write_frame(protocol_out, {"ready": True, "at": time.monotonic()})

    while True:
        request = read_frame(protocol_in)
        if request is None:
            return
        context = LambdaContext(request["context"])
        try:
            result = handler(request["event"], context)
        except Exception as error:  # noqa: BLE001 - an unhandled error is the invocation's result
            traceback.print_exc()
            write_frame(protocol_out, {"error": error_payload(error)})
            continue
        write_frame(protocol_out, {"ok": result})


if __name__ == "__main__":
    main()

"""Helpers for the CDK tests: CloudFormation-shaped events, a Lambda context, a private Restate.

The registration handler is driven exactly as the CDK Provider framework drives it in AWS: with
the event CloudFormation sends (``RequestType``, ``ResourceProperties``, ``PhysicalResourceId``,
...) and a context whose remaining time shrinks as the clock runs.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.lambda_runtime import FunctionSpec, LocalLambdaRuntime
from local.lambda_worker import LambdaContext
from local.processes import free_port
from local.restate_server import RestatePorts, RestateServer

SERVICE_TOKEN = "arn:aws:lambda:us-east-1:000000000000:function:restate-patterns-registration-provider"
TOKEN = "restate-admin-token-for-tests"
"""The admin token the registration tests keep in (moto's) Secrets Manager (fixture ``token_secret``)."""
STACK_ID = "arn:aws:cloudformation:us-east-1:000000000000:stack/restate-patterns-test/1"


def new_stack_id(name: str = "restate-patterns-test") -> str:
    """The id CloudFormation gives a stack when it is created (again): the name plus a fresh GUID."""
    return f"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/{uuid.uuid4()}"


def lambda_context(seconds: float) -> LambdaContext:
    """A context as the local Lambda runtime gives one to the registration function, ``seconds`` before its timeout."""
    return LambdaContext(
        {
            "function_name": "restate-patterns-registration",
            "function_version": "$LATEST",
            "invoked_function_arn": SERVICE_TOKEN,
            "memory_limit_in_mb": 256,
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": "/aws/lambda/restate-patterns-registration",
            "log_stream_name": "tests",
            "deadline_ms": int((time.time() + seconds) * 1000),
        }
    )


def cfn_event(
    request_type: str,
    resource_type: str,
    properties: Mapping[str, Any],
    *,
    physical_id: str | None = None,
    old_properties: Mapping[str, Any] | None = None,
    stack_id: str = STACK_ID,
    logical_id: str = "Registration",
) -> dict[str, Any]:
    """A CloudFormation custom resource request, as the Provider framework hands it to onEvent."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/presigned",
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        # CloudFormation passes every scalar property as a string.
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **_stringified(properties)},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {
            "ServiceToken": SERVICE_TOKEN,
            **_stringified(old_properties),
        }
    return event


def _stringified(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _stringified(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stringified(item) for item in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class RecordingProxy:
    """Forwards requests to ``upstream`` and remembers each request's Authorization header.

    ``canned`` answers chosen paths itself: ``{path prefix: (status, JSON body)}``, the first
    matching prefix wins (``"/"`` answers everything), to stand for what a local restate-server
    cannot show: an older version, an authorizing proxy in front of Restate Cloud.
    """

    def __init__(self, upstream: str, canned: Mapping[str, tuple[int, Any]] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.canned = dict(canned or {})
        self.authorizations: list[str | None] = []
        self.paths: list[str] = []
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.authorizations.append(self.headers.get("authorization"))
                proxy.paths.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                canned = next((answer for prefix, answer in proxy.canned.items() if self.path.startswith(prefix)), None)
                if canned is not None:
                    status, payload = canned[0], json.dumps(canned[1]).encode()
                    content_type = "application/json"
                else:
                    request = urllib.request.Request(
                        proxy.upstream + self.path, data=body, headers=headers, method=self.command
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=60) as response:
                            status, payload = response.status, response.read()
                            content_type = response.headers.get("content-type", "application/json")
                    except urllib.error.HTTPError as error:
                        status, payload = error.code, error.read()
                        content_type = error.headers.get("content-type", "application/json")
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class RestateServerWithAws(RestateServer):
    """restate-server that assumes invoker roles through a local STS (moto) instead of AWS's."""

    def __init__(self, *args: Any, aws_endpoint: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aws_endpoint = aws_endpoint

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "AWS_ENDPOINT_URL_STS": self.aws_endpoint}


@dataclass
class PrivateRestate:
    server: RestateServer
    runtime: LocalLambdaRuntime


@contextlib.contextmanager
def private_restate(
    functions: Sequence[FunctionSpec], state_dir: Path, aws_endpoint: str | None = None
) -> Iterator[PrivateRestate]:
    """A restate-server of its own, invoking ``functions`` through a local Lambda runtime of its own.

    ``aws_endpoint`` (the session's moto) only where Restate must assume an invoker role through STS.
    """
    with LocalLambdaRuntime(functions, state_dir / "lambda") as runtime:
        base_dir, log_file = state_dir / "restate", state_dir / "restate-server.log"
        ports = RestatePorts(ingress=free_port(), admin=free_port(), node=free_port())
        server = (
            RestateServer(base_dir, ports, runtime.url, log_file)
            if aws_endpoint is None
            else RestateServerWithAws(base_dir, ports, runtime.url, log_file, aws_endpoint=aws_endpoint)
        ).start()
        try:
            yield PrivateRestate(server, runtime)
        finally:
            server.stop()

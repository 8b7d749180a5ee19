"""A local Lambda Function URL: plain HTTP on 127.0.0.1, turned into Function URL events.

The HTTP APIs of the catalog run on AWS behind a Function URL, which hands the function an event
in API Gateway's payload format 2.0 and turns the function's answer back into HTTP. This server
does the same for a function of the local Lambda runtime, so the real handler module - Mangum and
all - sees exactly the events it sees on AWS::

    curl --POST /tasks--> FunctionUrlServer --event 2.0--> LocalLambdaRuntime.invoke("front_door")
                                                                    |  worker process
    curl <--HTTP 202----- FunctionUrlServer <--{"statusCode": 202, "headers", "body", ...}--+

What follows Lambda's rules: header names lowercased and repeated headers joined with commas,
cookies moved to ``cookies``, a binary body base64-encoded, ``x-forwarded-*`` added; a response
with a ``statusCode`` is taken field by field (``cookies`` become ``set-cookie`` headers,
``isBase64Encoded`` bodies are decoded), any other return value is a 200 JSON answer; a function
error or timeout is a 502, a throttled invocation a 429.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from restate_lambda.local.lambda_runtime import InvokeResult, LocalLambdaRuntime
from restate_lambda.local.loopback_http import KeepAliveNoDelayHandler, LoopbackHttpServer

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous invocation's payload."""
TEXT_CONTENT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")
"""Bodies of these types reach the function as text; any other body arrives base64-encoded."""


@dataclass
class HttpReply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_text(content_type: str) -> bool:
    content_type = content_type.lower()
    return any(marker in content_type for marker in TEXT_CONTENT_TYPES)


def function_url_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str,
    account: str,
    port: int,
) -> dict[str, Any]:
    """The event a Function URL hands the function for this request (payload format 2.0)."""
    raw_path, _, raw_query = target.partition("?")
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    host = joined.get("host", f"127.0.0.1:{port}")
    joined.setdefault("x-forwarded-for", source_ip)
    joined["x-forwarded-proto"] = "http"
    joined["x-forwarded-port"] = str(port)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": account,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": raw_path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        event["queryStringParameters"] = parameters
    if body:
        if is_text(joined.get("content-type", "")):
            try:
                event["body"] = body.decode()
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def bad_gateway(reason: str) -> HttpReply:
    return HttpReply(502, [("content-type", "application/json")], json.dumps({"Message": reason}).encode())


def http_reply(result: InvokeResult) -> HttpReply:
    """The HTTP response a Function URL makes of the function's answer."""
    if result.status == 429:
        return HttpReply(429, [("content-type", "application/json")], b'{"Message":"Too Many Requests"}')
    if result.status != 200 or "X-Amz-Function-Error" in result.headers:
        return bad_gateway("Internal Server Error")
    answer = result.body
    if not (isinstance(answer, dict) and "statusCode" in answer):
        # Any other valid JSON is the body of a 200 answer, serialized as the function returned it.
        return HttpReply(200, [("content-type", "application/json")], json.dumps(answer).encode())
    try:
        return structured_reply(answer)
    except (TypeError, ValueError):
        return bad_gateway("Internal Server Error")


def structured_reply(answer: dict[str, Any]) -> HttpReply:
    status = answer["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"invalid statusCode {status!r}")
    headers = [(str(name), str(value)) for name, value in (answer.get("headers") or {}).items()]
    headers.extend(("set-cookie", str(cookie)) for cookie in answer.get("cookies") or [])
    body = answer.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    data = base64.b64decode(body, validate=True) if answer.get("isBase64Encoded") else body.encode()
    return HttpReply(status, headers, data)


class FunctionUrlServer(LoopbackHttpServer):
    """Serves ``function`` of ``runtime`` as a Function URL on ``host:port`` (0 = a free port)."""

    def __init__(self, runtime: LocalLambdaRuntime, function: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.runtime = runtime
        self.function = function
        super().__init__(self._handler_class(), host=host, port=port, name=f"url-{function}")

    def handle(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpReply:
        event = function_url_event(
            method, target, headers, body, source_ip=source_ip, account=self.runtime.account, port=self.port
        )
        reply = http_reply(self.runtime.invoke(self.function, event))
        reply.headers.append(("x-amzn-requestid", event["requestContext"]["requestId"]))
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class FunctionUrlHandler(KeepAliveNoDelayHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    self._send(
                        HttpReply(413, [("content-type", "application/json")], b'{"Message":"Request Too Long"}')
                    )
                    self.close_connection = True
                    return
                body = self.rfile.read(length) if length else b""
                reply = server.handle(self.command, self.path, self.headers.items(), body, self.client_address[0])
                self._send(reply)

            def _send(self, reply: HttpReply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)

            # Function URLs take every method Lambda lists; the function decides what each means.
            def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_POST(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_PUT(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_PATCH(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_DELETE(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_HEAD(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

            def do_OPTIONS(self) -> None:  # noqa: N802 - http.server dispatches on this name
                self._serve()

        return FunctionUrlHandler

"""The local Function URL: HTTP requests become payload-2.0 events, the function's answers HTTP responses."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from restate_lambda.local.lambda_runtime import FunctionSpec, InvokeResult, LocalLambdaRuntime

from local.function_url import FunctionUrlServer, function_url_event, http_reply


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    echo = FunctionSpec(name="url_echo", handler="tests.lambda_functions.url_echo.handler", timeout_seconds=5.0)
    with (
        LocalLambdaRuntime([echo], tmp_path_factory.mktemp("function-url")) as runtime,
        FunctionUrlServer(runtime, "url_echo") as server,
    ):
        yield server.url


def test_the_request_arrives_as_a_function_url_event(url):
    response = httpx.post(
        f"{url}/a%20b/c?x=1&x=2&y=",
        json={"hello": "world"},
        headers={"X-Mixed-Case": "v", "Cookie": "one=1; two=2"},
    )
    assert response.status_code == 200
    event = response.json()
    assert (event["version"], event["routeKey"], event["isBase64Encoded"]) == ("2.0", "$default", False)
    assert (event["rawPath"], event["rawQueryString"]) == ("/a%20b/c", "x=1&x=2&y=")
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-mixed-case"] == "v" and "cookie" not in event["headers"]
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["cookies"] == ["one=1", "two=2"]
    assert json.loads(event["body"]) == {"hello": "world"}
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("POST", "/a%20b/c", "127.0.0.1")
    assert response.headers["x-amzn-requestid"] == event["requestContext"]["requestId"]


def test_a_binary_body_arrives_base64_encoded(url):
    payload = bytes(range(256))
    event = httpx.put(f"{url}/echo", content=payload, headers={"content-type": "application/octet-stream"}).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_structured_answer_sets_status_headers_cookies_and_a_decoded_body(url):
    response = httpx.get(f"{url}/binary")
    assert response.status_code == 201
    assert response.headers["x-custom"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1; Max-Age=60", "b=2"]
    assert response.content == bytes(range(256))


@pytest.mark.parametrize(
    ("path", "body"),
    [("/string", b'"Hello, world!"'), ("/object", b'{"message": "no statusCode, so a 200 JSON answer"}')],
)
def test_any_other_answer_is_a_200_with_the_answer_as_json(url, path, body):
    response = httpx.get(f"{url}{path}")
    assert (response.status_code, response.headers["content-type"], response.content) == (200, "application/json", body)


@pytest.mark.parametrize("path", ["/raise", "/bad-status"])
def test_a_function_error_or_a_malformed_answer_is_a_502(url, path):
    response = httpx.get(f"{url}{path}")
    assert response.status_code == 502
    assert response.json() == {"Message": "Internal Server Error"}


def test_a_head_request_gets_headers_without_a_body(url):
    response = httpx.head(f"{url}/binary")
    assert (response.status_code, response.content) == (201, b"")


def test_a_throttled_invocation_is_a_429():
    throttled = InvokeResult(
        status=429, body={"Type": "User"}, headers={"x-amzn-ErrorType": "TooManyRequestsException"}
    )
    assert http_reply(throttled).status == 429


def test_text_bodies_that_are_not_utf8_are_base64_encoded():
    event = function_url_event(
        "POST", "/", [("Content-Type", "text/plain")], b"\xff\xfe", source_ip="127.0.0.1", account="1", port=1
    )
    assert (event["body"], event["isBase64Encoded"]) == ("//4=", True)

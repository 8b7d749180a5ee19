"""The front door's real handler (Mangum + FastAPI) driven with Function URL events, no Restate needed.

Only requests the API answers by itself are sent: validation failures, unknown routes, the OpenAPI
document. Anything valid would call the ingress, which is what tests/stack/test_front_door.py does on a stack.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mangum import Mangum
from restate import TerminalError

from functions.catalog import INGRESS_URL_VARIABLE
from functions.common.validation import parse_input
from functions.data_upload.email_address import EmailAddress, looks_like_an_email_address
from functions.data_upload.settings import Settings as DataUploadSettings
from tests.events import load_event
from tests.stack_setup import UNREACHABLE_PORT


@pytest.fixture(scope="module")
def front_door() -> Iterator[Mangum]:
    # The configuration is read at import: pointed at a refused port, a request that wrongly got past
    # validation fails with a 503 here instead of reaching a `make dev` ingress on the default port.
    with pytest.MonkeyPatch.context() as environment:
        if "functions.front_door.api" not in sys.modules:
            environment.setenv(INGRESS_URL_VARIABLE, f"http://127.0.0.1:{UNREACHABLE_PORT.getsockname()[1]}")
        from functions.front_door.api import handler

        yield handler


@dataclass
class FunctionContext:
    """Lambda's context object as the Python runtime passes it to a function behind a Function URL."""

    function_name: str = "restate-patterns-front_door"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:210987654321:function:restate-patterns-front_door"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
    log_group_name: str = "/aws/lambda/restate-patterns-front_door"
    log_stream_name: str = "2026/04/12/[$LATEST]0123456789abcdef0123456789abcdef"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def answer_of(front_door: Mangum, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body, read the way a Function URL reads the handler's answer."""
    answer = front_door(event, FunctionContext())
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    return answer["statusCode"], answer.get("headers") or {}, json.loads(raw) if raw else None


def with_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    event["body"] = json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"]))
    return event


def test_a_reservation_without_its_id_is_a_422_naming_the_field(front_door):
    status, headers, body = answer_of(front_door, load_event("function_url_reserve_without_reservation_id"))
    assert status == 422
    assert headers["content-type"] == "application/json"
    assert body["message"] == "invalid request: reservationId: Field required"
    assert [problem["loc"] for problem in body["detail"]] == [["body", "reservationId"]]


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("/products/p1/reserve", {"reservationid": "r1"}, "reservationid: Extra inputs are not permitted"),
        ("/products/p1/reserve", {"reservationId": 1}, "reservationId: Input should be a valid string"),
        ("/products/p%20x/reserve", {"reservationId": "r1"}, "productId: String should match pattern"),
        ("/tasks", {"id": "t1", "description": "d", "delay": "10 seconds"}, "delay: use a number"),
        ("/tasks", {"id": "", "description": "d"}, "id: String should match pattern"),
        ("/uploads", {"uploadId": "u1", "email": "not-an-address"}, "email: expected an email address"),
        ("/uploads", {"uploadId": "u1", "email": "a@b.co", "waitSeconds": -1}, "waitSeconds: Input should be"),
    ],
)
def test_each_invalid_field_is_named_in_the_422(front_door, path, body, problem):
    event = with_body(load_event("function_url_reserve_without_reservation_id"), body)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    status, _, answer = answer_of(front_door, event)
    assert status == 422, answer
    assert problem in answer["message"]


def test_a_validator_s_words_are_the_same_in_the_422_a_pattern_s_400_and_a_setting_s_error(front_door):
    # One validator, three reports of it: pydantic's "Value error, " prefix in none of them.
    bad_address = "jane"
    with pytest.raises(ValueError) as own_words:
        looks_like_an_email_address(bad_address)

    event = with_body(
        load_event("function_url_reserve_without_reservation_id"), {"uploadId": "u1", "email": bad_address}
    )
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/uploads"
    status, _, answer = answer_of(front_door, event)
    assert (status, answer["message"]) == (422, f"invalid request: email: {own_words.value}")

    with pytest.raises(TerminalError) as refused:
        parse_input(EmailAddress, json.dumps(bad_address).encode())
    assert str(refused.value) == f"invalid EmailAddress: body: {own_words.value}"

    with pytest.raises(ValueError) as cold_start:
        DataUploadSettings.from_environment({"UPLOAD_EMAIL_SENDER": bad_address})
    assert str(cold_start.value) == f"UPLOAD_EMAIL_SENDER='{bad_address}' is not a valid setting: {own_words.value}"


def test_a_body_that_is_not_json_is_a_422(front_door):
    event = load_event("function_url_reserve_without_reservation_id")
    event["body"] = "{not json"
    status, _, answer = answer_of(front_door, event)
    assert status == 422
    assert "JSON decode error" in answer["message"]


def test_a_body_sent_without_a_json_content_type_arrives_decoded_and_is_refused_as_not_an_object(front_door):
    event = load_event("function_url_task_without_content_type")
    assert event["isBase64Encoded"] is True, "a Function URL base64-encodes a body of no text content type"
    status, _, answer = answer_of(front_door, event)
    assert status == 422
    assert answer["message"].startswith("invalid request: body: Input should be a valid dictionary")
    assert answer["detail"][0]["input"] == base64.b64decode(event["body"]).decode()


def test_an_unknown_route_is_a_404_in_the_api_s_problem_shape(front_door):
    status, _, answer = answer_of(front_door, load_event("function_url_unknown_route"))
    assert (status, answer) == (404, {"message": "Not Found"})


def test_the_openapi_document_lists_every_route(front_door):
    status, headers, document = answer_of(front_door, load_event("function_url_get_openapi_document"))
    assert status == 200 and headers["content-type"] == "application/json"
    assert set(document["paths"]) == {"/products/{productId}/reserve", "/tasks", "/tasks/{taskId}", "/uploads"}

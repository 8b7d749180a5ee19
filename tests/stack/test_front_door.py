"""The front door through its local Function URL -> local Lambda runtime -> Mangum -> FastAPI -> Restate.

Every request here is plain HTTP to the stack's Function URL server, which hands the real handler
module a Function URL event, exactly as on AWS. TEST_SETTINGS make uploads take 1-1.5 s, so a
20 s wait always gets the URL and a 0.1 s wait never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from restate_lambda.registration.admin import RestateAdmin

from functions.catalog import INGRESS_KEY_SECRET_VARIABLE, INGRESS_KEY_VARIABLE
from functions.front_door.config import api_key
from local.function_url import FunctionUrlServer
from tests.polling import wait_until
from tests.stack.test_data_upload import emails_to
from tests.stack_setup import FRONT_DOOR_WITHOUT_RESTATE

FAST = 20.0
SLOW = 0.1


@pytest.fixture
def api(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.http_api_url("front_door"), timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def api_without_restate(stack) -> Iterator[httpx.Client]:
    """The same handler behind its own Function URL, configured with an ingress that refuses connections."""
    with (
        FunctionUrlServer(stack.lambda_runtime, FRONT_DOOR_WITHOUT_RESTATE.name) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def invocations(admin: RestateAdmin, where: str) -> list[dict[str, Any]]:
    return admin.query(f"SELECT id, target, status, idempotency_key FROM sys_invocation WHERE {where}")


def test_reservations_answer_true_false_true_and_a_repeat_is_not_run_again(api, admin, unique):
    product = f"product-{unique}"
    answers = [
        api.post(f"/products/{product}/reserve", json={"reservationId": reservation}) for reservation in ("1", "2", "1")
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(200, True), (200, False), (200, True)]
    ran = invocations(admin, f"target_service_name = 'ProductService' AND target_service_key = '{product}'")
    assert sorted(row["idempotency_key"] for row in ran) == ["1", "2"]


def test_a_delayed_task_is_queued_once_pending_then_done(api, admin, unique):
    task = {"id": unique, "description": "resize images", "delay": "3s"}
    first, again = api.post("/tasks", json=task), api.post("/tasks", json=task)
    assert (first.status_code, again.status_code) == (202, 202)
    assert (first.json()["status"], again.json()["status"]) == ("Accepted", "PreviouslyAccepted")
    assert first.json()["invocationId"] == again.json()["invocationId"]
    assert first.json()["taskId"] == unique
    assert api.get(f"/tasks/{unique}").json() == {"taskId": unique, "status": "pending", "result": None}

    done = wait_until(
        lambda: api.get(f"/tasks/{unique}").json(), "the task to be done", lambda s: s["status"] == "done"
    )
    assert done["result"] == {"description": f"Finished task {unique}: resize images"}
    assert len(invocations(admin, f"idempotency_key = '{unique}'")) == 1


def test_a_task_without_delay_is_done_shortly(api, unique):
    assert api.post("/tasks", json={"id": unique, "description": "now"}).status_code == 202
    done = wait_until(
        lambda: api.get(f"/tasks/{unique}").json(), "the task to be done", lambda s: s["status"] == "done"
    )
    assert done["result"] == {"description": f"Finished task {unique}: now"}


def test_an_unknown_task_is_a_404(api, unique):
    response = api.get(f"/tasks/{unique}")
    assert response.status_code == 404
    assert unique in response.json()["message"]


def test_a_fast_upload_answers_the_url_and_a_repeat_the_same_upload(api, stack, unique):
    recipient = f"{unique}@example.com"
    request = {"uploadId": f"upload-{unique}", "email": recipient, "waitSeconds": FAST}
    response = api.post("/uploads", json=request)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["status"], answer["alreadyStarted"], answer["email"]) == ("done", False, None)
    assert httpx.get(answer["url"], timeout=10).text == f"The data of upload upload-{unique}\n"

    repeated = api.post("/uploads", json=request)
    assert repeated.status_code == 200
    assert (repeated.json()["url"], repeated.json()["alreadyStarted"]) == (answer["url"], True)
    assert emails_to(stack, recipient) == []


def test_a_slow_upload_is_emailed_once_however_often_it_is_requested(api, stack, admin, unique):
    upload_id, recipient = f"upload-{unique}", f"{unique}@example.com"
    first = api.post("/uploads", json={"uploadId": upload_id, "email": recipient, "waitSeconds": SLOW})
    assert first.status_code == 202, first.text
    assert first.json() | {"message": ""} == {
        "uploadId": upload_id,
        "status": "emailing",
        "url": None,
        "email": recipient,
        "alreadyStarted": False,
        "message": "",
    }
    assert recipient in first.json()["message"]
    # Without any wait: the upload is still running, so this is the slow path again.
    again = api.post("/uploads", json={"uploadId": upload_id, "email": recipient, "waitSeconds": 0})
    assert (again.status_code, again.json()["alreadyStarted"]) == (202, True)

    emails = wait_until(lambda: emails_to(stack, recipient), f"the email to {recipient}")
    assert len(emails) == 1 and upload_id in emails[0]["subject"]
    sent = invocations(admin, f"target_service_key = '{upload_id}' AND target_handler_name = 'ResultAsEmail'")
    assert len(sent) == 1
    # The email went out after the upload finished; a later request now gets the URL at once.
    later = api.post("/uploads", json={"uploadId": upload_id, "email": recipient, "waitSeconds": FAST})
    assert (later.status_code, later.json()["status"]) == (200, "done")
    assert len(emails_to(stack, recipient)) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/products/p1/reserve", {}, "reservationId: Field required"),
        ("POST", "/products/p1/reserve", {"reservationid": "1"}, "reservationid: Extra inputs are not permitted"),
        ("POST", "/products/p1/reserve", {"reservationId": 1}, "reservationId: Input should be a valid string"),
        ("POST", "/products/p%20x/reserve", {"reservationId": "1"}, "productId: String should match pattern"),
        ("POST", "/tasks", {"id": "{unique}", "description": "d", "delay": "10 seconds"}, "delay: use a number"),
        ("POST", "/tasks", {"id": "{unique}", "description": "d", "delay": "99999999h"}, "delay: at most 365 days"),
        ("POST", "/tasks", {"id": "{unique}", "description": "d", "delay": "9" * 40 + "ms"}, "delay: at most 365 days"),
        ("POST", "/tasks", {"id": "{unique}"}, "description: Field required"),
        ("POST", "/tasks", {"id": "", "description": "d"}, "id: String should match pattern"),
        ("POST", "/uploads", {"uploadId": "{unique}", "email": "not-an-address"}, "email: expected an email address"),
        ("POST", "/uploads", {"uploadId": "{unique}", "email": "a@b.co", "waitSeconds": -1}, "waitSeconds: Input"),
        ("POST", "/uploads", {"uploadId": "{unique}", "email": "a@b.co", "waitSeconds": 26}, "waitSeconds: Input"),
    ],
)
def test_invalid_requests_are_a_422_naming_the_field_and_send_nothing(api, admin, unique, method, path, body, field):
    body = {
        name: value.replace("{unique}", unique) if isinstance(value, str) else value for name, value in body.items()
    }
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert invocations(admin, f"idempotency_key = '{unique}' OR target_service_key = '{unique}'") == []


def test_a_body_that_is_not_json_is_a_422(api):
    response = api.post("/tasks", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON decode error" in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/products/p1/reserve", {"reservationId": "1"}),
        ("POST", "/tasks", {"id": "t1", "description": "d", "delay": "1s"}),
        ("GET", "/tasks/t1", None),
        ("POST", "/uploads", {"uploadId": "u1", "email": "a@b.co"}),
    ],
)
def test_an_unreachable_restate_is_a_503_that_says_so(api_without_restate, method, path, body):
    response = api_without_restate.request(method, path, json=body)
    assert response.status_code == 503, response.text
    assert response.json()["message"].startswith("Restate is unreachable")
    assert "nothing was sent" in response.json()["message"]
    assert response.headers["retry-after"] == "5"


def test_the_openapi_document_and_docs_are_served(api):
    document = api.get("/openapi.json").json()
    assert set(document["paths"]) == {"/products/{productId}/reserve", "/tasks", "/tasks/{taskId}", "/uploads"}
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_the_api_key_comes_from_the_secret_when_one_is_configured(stack, unique, monkeypatch):
    for name, value in stack.aws.function_environment().items():
        monkeypatch.setenv(name, value)
    secrets = stack.aws.client("secretsmanager")
    arn = secrets.create_secret(Name=f"restate-key-{unique}", SecretString=f"key-{unique}\n")["ARN"]
    # Secrets Manager is asked in the function's region, which Lambda sets in the process's environment.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert api_key({INGRESS_KEY_SECRET_VARIABLE: arn, INGRESS_KEY_VARIABLE: "ignored"}) == f"key-{unique}"
    assert api_key({INGRESS_KEY_VARIABLE: "plain"}) == "plain"
    assert api_key({}) is None
    with pytest.raises(RuntimeError, match=INGRESS_KEY_SECRET_VARIABLE):
        api_key({INGRESS_KEY_SECRET_VARIABLE: f"{arn}-missing"})

"""WebhookCallbackRouter through Restate -> local Lambda runtime -> functions/webhook_callbacks.

The session stack runs the catalog default, no signing secret: the router accepts unsigned
events and warns once per execution environment. The signing secret is one setting of the whole
function, so the signed mode gets its own small stack (module-scoped, ~1 s to start): its own
restate-server and Lambda runtime serving only this pattern and PaymentTracker, with
``STRIPE_WEBHOOK_SECRET`` set. A second copy of the function on the session stack would have to
register the same service names and would take them over for every other test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.catalog import pattern_named
from functions.webhook_callbacks.stripe_signature import signature_header
from local.clients.scheduling_tasks import result_of_event
from local.clients.webhook_callbacks import WEBHOOK_PATH, send_stripe_event, stripe_event
from local.clients.webhook_callbacks import main as client_main
from local.demos.webhook_callbacks import run_demo
from local.stack import LocalStack, StackPorts
from tests.polling import wait_until
from tests.stack.test_scheduling_tasks import tracker_state
from tests.stack_setup import TEST_SETTINGS

SECRET = "whsec_test_0123456789abcdef"
TOLERANCE_SECONDS = 300
UNSIGNED_WARNING = "STRIPE_WEBHOOK_SECRET is not set"


@pytest.fixture(scope="module")
def signed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(
        state_dir=tmp_path_factory.mktemp("signed-webhooks"),
        ports=StackPorts.random(),
        patterns=(pattern_named("webhook_callbacks"), pattern_named("scheduling_tasks")),
        with_kafka=False,
        function_settings={**TEST_SETTINGS, "STRIPE_WEBHOOK_SECRET": SECRET},
    ).start()
    yield stack
    stack.stop()


@pytest.fixture
def signed_ingress(signed_stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=signed_stack.ingress_url, timeout=60) as client:
        yield client


def tracker_invocations(admin, invoice: str) -> list[dict[str, Any]]:
    """PaymentTracker invocations the router started for ``invoice`` (not the tracker's own self-calls)."""
    rows: list[dict[str, Any]] = admin.query(
        "SELECT id, target_handler_name, idempotency_key, status FROM sys_invocation "
        f"WHERE target_service_name = 'PaymentTracker' AND target_service_key = '{invoice}' "
        "AND invoked_by_service_name = 'WebhookCallbackRouter'"
    )
    return rows


def one_way_calls(admin, router_invocation_id: str) -> list[dict[str, Any]]:
    """The one-way messages a router invocation journaled: ``{"invocation_id", "target"}`` each."""
    rows = admin.query(
        "SELECT entry_lite_json FROM sys_journal "
        f"WHERE id = '{router_invocation_id}' AND entry_type = 'Command: OneWayCall'"
    )
    calls = []
    for row in rows:
        call = json.loads(row["entry_lite_json"])["Command"]["OneWayCall"]
        calls.append({"invocation_id": call["invocation_id"], "target": call["invocation_target"]["VirtualObject"]})
    return calls


def post_event(client: httpx.Client, body: bytes, signature: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(WEBHOOK_PATH, content=body, headers=headers)


def assert_terminal_400(admin, response: httpx.Response, *message_parts: str) -> None:
    """Refused at the first attempt: a retried invocation would still be running or backing off."""
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert all(part in message for part in message_parts), message
    rows = admin.query(
        f"SELECT status, completion_failure FROM sys_invocation WHERE id = '{response.headers['x-restate-id']}'"
    )
    assert rows[0]["status"] == "completed" and rows[0]["completion_failure"].startswith("[400]"), rows


# --- the session stack: no signing secret ---------------------------------------------------


def test_both_invoice_event_types_reach_the_payment_tracker(stack, admin, unique):
    invoice = f"in_{unique}"
    failed = stripe_event("invoice.payment_failed", invoice, "cus_1")
    receipt = send_stripe_event(stack.ingress_url, failed)
    assert receipt == {
        "event_id": failed["id"],
        "type": "invoice.payment_failed",
        "routed_to": f"PaymentTracker/{invoice}/OnPaymentFailure",
    }
    wait_until(lambda: tracker_state(admin, invoice).get("reminders_count") == 1, "the first reminder")

    paid = stripe_event("invoice.payment_succeeded", invoice, "cus_1")
    receipt = send_stripe_event(stack.ingress_url, paid)
    assert receipt["routed_to"] == f"PaymentTracker/{invoice}/OnPaymentSuccess"
    wait_until(lambda: tracker_state(admin, invoice).get("paid"), "the payment")

    # Each event became one tracker invocation, keyed by the event id.
    handled = {(row["target_handler_name"], row["idempotency_key"]) for row in tracker_invocations(admin, invoice)}
    assert handled == {("OnPaymentFailure", failed["id"]), ("OnPaymentSuccess", paid["id"])}


def test_a_redelivered_event_is_processed_once(stack, ingress, admin, unique):
    invoice = f"in_{unique}"
    body = json.dumps(stripe_event("invoice.payment_succeeded", invoice, "cus_1")).encode()
    event_id = json.loads(body)["id"]
    deliveries = [post_event(ingress, body) for _ in range(3)]
    assert [response.status_code for response in deliveries] == [200, 200, 200]

    # Every delivery sent its one-way message, all to the same (idempotent) tracker invocation ...
    calls = [one_way_calls(admin, response.headers["x-restate-id"]) for response in deliveries]
    assert all(len(sent) == 1 for sent in calls), calls
    assert len({sent[0]["invocation_id"] for sent in calls}) == 1, calls
    # ... which Restate ran once.
    result = result_of_event(stack.ingress_url, invoice, "OnPaymentSuccess", event_id)
    assert result["paid"] is True
    rows = tracker_invocations(admin, invoice)
    assert [(row["idempotency_key"], row["status"]) for row in rows] == [(event_id, "completed")]
    log = stack.lambda_runtime.log_path("scheduling_tasks").read_text()
    assert log.count(f"Invoice {invoice} paid (event {event_id})") == 1

    # A new event for the same invoice is a new delivery, not a duplicate.
    send_stripe_event(stack.ingress_url, stripe_event("invoice.payment_succeeded", invoice, "cus_1"))
    wait_until(lambda: len(tracker_invocations(admin, invoice)) == 2, "the second event's invocation")


def test_other_event_types_are_acknowledged_and_ignored(ingress, admin, unique):
    event = {
        "id": f"evt_{unique}",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": f"cus_{unique}", "object": "customer", "email": "jenny@example.com"}},
    }
    response = post_event(ingress, json.dumps(event).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"event_id": f"evt_{unique}", "type": "customer.created", "routed_to": None}
    assert one_way_calls(admin, response.headers["x-restate-id"]) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda event: event.pop("id"), "id"),
        (lambda event: event.update(type=7), "type"),
        (lambda event: event.update(created="yesterday"), "created"),
        (lambda event: event["data"].pop("object"), "data.object"),
        (lambda event: event["data"]["object"].pop("id"), "data.object.id"),
        # Forwarded invoice events must name the customer the reminders go to.
        (lambda event: event["data"]["object"].pop("customer"), "data.object.customer"),
    ],
)
def test_bad_input_is_a_terminal_400_naming_the_field(ingress, admin, unique, change, field):
    event = stripe_event("invoice.payment_failed", f"in_{unique}", "cus_1")
    change(event)
    response = post_event(ingress, json.dumps(event).encode())
    assert_terminal_400(admin, response, f"{field}:")
    assert one_way_calls(admin, response.headers["x-restate-id"]) == []


def test_without_a_secret_each_execution_environment_warns_once(stack, ingress, unique):
    for number in range(3):
        event = stripe_event("invoice.payment_succeeded", f"in_{unique}_{number}", "cus_1")
        assert post_event(ingress, json.dumps(event).encode()).status_code == 200
    # The invocations above ran one after the other, so they reused one execution environment
    # (the one Restate's discovery call started) and it warned when it loaded the module.
    log = stack.lambda_runtime.log_path("webhook_callbacks").read_text()
    assert log.count(UNSIGNED_WARNING) == 1, log


def test_client_sends_an_event(stack, unique, capsys):
    base = ["--ingress", stack.ingress_url, "--type", "invoice.payment_succeeded", "--invoice", f"in_{unique}"]
    client_main([*base, "--event-id", f"evt_{unique}"])
    assert json.loads(capsys.readouterr().out) == {
        "event_id": f"evt_{unique}",
        "type": "invoice.payment_succeeded",
        "routed_to": f"PaymentTracker/in_{unique}/OnPaymentSuccess",
    }


def test_demo(stack, monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert run_demo(stack.ingress_url).startswith("unsigned payment_failed")


# --- the signed stack: STRIPE_WEBHOOK_SECRET set ----------------------------------------------


def test_a_signed_event_is_verified_over_the_raw_bytes_and_routed(signed_stack, signed_ingress, unique):
    invoice = f"in_{unique}"
    # Bytes a JSON round trip would not reproduce: indentation, key order, escaped non-ASCII.
    body = json.dumps(stripe_event("invoice.payment_succeeded", invoice, "cus_Zoë"), indent=3, sort_keys=True).encode()
    timestamp = int(time.time())
    # While a secret is rolled Stripe signs with both: any matching v1 is enough; v0 is ignored.
    old_secret_signature = signature_header("whsec_rolled_out", body, timestamp).split(",")[1]
    header = f"{signature_header(SECRET, body, timestamp).replace(',', f',{old_secret_signature},', 1)},v0=abc"
    assert header.count("v1=") == 2

    response = post_event(signed_ingress, body, header)
    assert response.status_code == 200, response.text
    assert response.json()["routed_to"] == f"PaymentTracker/{invoice}/OnPaymentSuccess"
    wait_until(lambda: tracker_state(signed_stack.admin(), invoice).get("paid"), "the payment")


def test_the_client_signs_with_the_secret(signed_stack, unique):
    receipt = send_stripe_event(
        signed_stack.ingress_url, stripe_event("invoice.payment_failed", f"in_{unique}", "cus_1"), SECRET
    )
    assert receipt["routed_to"] == f"PaymentTracker/in_{unique}/OnPaymentFailure"


def signed_now(body: bytes, secret: str = SECRET, age: int = 0) -> str:
    return signature_header(secret, body, int(time.time()) - age)


@pytest.mark.parametrize(
    ("make_header", "reason"),
    [
        (lambda body: None, "missing Stripe-Signature"),
        (lambda body: "", "missing Stripe-Signature"),
        (lambda body: signed_now(body, secret="whsec_someone_else"), "no v1 signature"),
        (lambda body: signed_now(body + b" "), "no v1 signature"),  # the body was changed after signing
        (lambda body: signed_now(body).upper(), "no timestamp"),
        (lambda body: signed_now(body).split(",")[1], "no timestamp"),
        (lambda body: signed_now(body).split(",")[0], "no v1 signature"),
        (lambda body: "t=soon,v1=00", "non-numeric timestamp"),
        (lambda body: signed_now(body, age=TOLERANCE_SECONDS + 60), "old, outside the tolerance of 300 s"),
        (lambda body: signed_now(body, age=-(TOLERANCE_SECONDS + 60)), "in the future"),
    ],
    ids=[
        "missing",
        "empty",
        "wrong-secret",
        "tampered-body",
        "mangled",
        "no-timestamp",
        "no-v1",
        "bad-timestamp",
        "stale",
        "future",
    ],
)
def test_a_bad_signature_is_a_terminal_400(signed_stack, signed_ingress, unique, make_header, reason):
    body = json.dumps(stripe_event("invoice.payment_failed", f"in_{unique}", "cus_1")).encode()
    response = post_event(signed_ingress, body, make_header(body))
    admin = signed_stack.admin()
    assert_terminal_400(admin, response, "invalid Stripe webhook signature", reason)
    assert one_way_calls(admin, response.headers["x-restate-id"]) == []


def test_a_signed_stack_does_not_warn(signed_stack, signed_ingress, unique):
    body = json.dumps(stripe_event("invoice.payment_succeeded", f"in_{unique}", "cus_1")).encode()
    assert post_event(signed_ingress, body, signed_now(body)).status_code == 200
    log = signed_stack.lambda_runtime.log_path("webhook_callbacks").read_text()
    assert UNSIGNED_WARNING not in log


# --- the signature scheme itself --------------------------------------------------------------

"""PaymentTracker through Restate -> local Lambda runtime -> functions/scheduling_tasks.

The suite's reminder interval is TEST_SETTINGS' PAYMENT_REMINDER_INTERVAL_SECONDS (1 s). State
is read from Restate's ``state`` table; what the simulated email and support systems were asked
to do is read from the function's log.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from typing import Any, TypeVar

import pytest

from local.clients.scheduling_tasks import main as client_main
from local.clients.scheduling_tasks import wait_for_invocation
from local.clients.webhook_callbacks import stripe_event
from local.demos.scheduling_tasks import run_demo
from tests.polling import wait_until
from tests.stack_setup import TEST_SETTINGS

T = TypeVar("T")

REMINDER_INTERVAL = float(TEST_SETTINGS["PAYMENT_REMINDER_INTERVAL_SECONDS"])
CLOCK_SLACK = 0.1
"""Restate's timer and the Lambda's log clock are read in different processes."""


def tracker_state(admin, invoice: str) -> dict[str, Any]:
    """The object's state entries, decoded (values are JSON)."""
    rows = admin.query(
        f"SELECT key, value_utf8 FROM state WHERE service_name = 'PaymentTracker' AND service_key = '{invoice}'"
    )
    return {row["key"]: json.loads(row["value_utf8"]) for row in rows}


def unfinished_invocations(admin, invoice: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = admin.query(
        "SELECT id, target, status FROM sys_invocation "
        f"WHERE target_service_name = 'PaymentTracker' AND target_service_key = '{invoice}' AND status != 'completed'"
    )
    return rows


def invoice_log_lines(stack, invoice: str) -> list[str]:
    """The scheduling_tasks log lines about ``invoice`` (ids are unique per test, so no other test's)."""
    text = stack.lambda_runtime.log_path("scheduling_tasks").read_text()
    return [line for line in text.splitlines() if f"invoice {invoice} " in line.lower()]


def reminder_lines(stack, invoice: str) -> list[str]:
    return [line for line in invoice_log_lines(stack, invoice) if "Sending reminder email" in line]


def escalation_lines(stack, invoice: str) -> list[str]:
    return [line for line in invoice_log_lines(stack, invoice) if "Escalating invoice" in line]


def logged_at(line: str) -> datetime:
    """The timestamp the Lambda worker's log format puts in the second column."""
    return datetime.strptime(line.split("\t")[1], "%Y-%m-%d %H:%M:%S,%f")


def event_body(event_type: str, invoice: str, event_id: str | None = None) -> bytes:
    return json.dumps(stripe_event(event_type, invoice, "cus_test", event_id)).encode()


def call_tracker(ingress, invoice: str, handler: str, body: bytes) -> dict[str, Any]:
    response = ingress.post(
        f"/PaymentTracker/{invoice}/{handler}", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def test_three_reminders_one_interval_apart_then_escalation(stack, ingress, admin, unique):
    invoice = f"in_{unique}"
    first = call_tracker(ingress, invoice, "OnPaymentFailure", event_body("invoice.payment_failed", invoice))
    assert (first["reminders_count"], first["paid"], first["escalated"]) == (1, False, False)
    assert first["scheduled_reminder"].startswith("inv_")

    wait_until(lambda: tracker_state(admin, invoice).get("escalated"), "the escalation")
    wait_until(lambda: not unfinished_invocations(admin, invoice), "the loop to end")

    assert tracker_state(admin, invoice) == {"reminders_count": 3, "escalated": True}
    reminders = reminder_lines(stack, invoice)
    assert [re.findall(r"reminder (\d) of 3", line) for line in reminders] == [["1"], ["2"], ["3"]]
    escalations = escalation_lines(stack, invoice)
    assert len(escalations) == 1 and "after 3 reminders" in escalations[0]
    # Each step waited for a delayed self-call: a reminder interval at least, never less.
    moments = [logged_at(line) for line in [*reminders, *escalations]]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(moments)]
    assert all(gap >= REMINDER_INTERVAL - CLOCK_SLACK for gap in gaps), gaps


def test_a_payment_in_the_middle_stops_the_loop(stack, ingress, admin, unique):
    invoice = f"in_{unique}"
    call_tracker(ingress, invoice, "OnPaymentFailure", event_body("invoice.payment_failed", invoice))

    at_payment = call_tracker(ingress, invoice, "OnPaymentSuccess", event_body("invoice.payment_succeeded", invoice))
    reminders_before_payment = at_payment["reminders_count"]
    assert at_payment["paid"] and not at_payment["escalated"] and reminders_before_payment >= 1, at_payment
    # The reminder that was already scheduled still fires; wait for it instead of guessing a time.
    after_next_reminder = wait_for_invocation(stack.ingress_url, at_payment["scheduled_reminder"], timeout=30)

    assert after_next_reminder == {
        "invoice_id": invoice,
        "paid": True,
        "reminders_count": reminders_before_payment,
        "escalated": False,
        "scheduled_reminder": None,
    }
    assert unfinished_invocations(admin, invoice) == []
    assert tracker_state(admin, invoice) == {"reminders_count": reminders_before_payment, "paid": True}
    assert len(reminder_lines(stack, invoice)) == reminders_before_payment
    assert escalation_lines(stack, invoice) == []
    assert any("is paid: no reminder" in line for line in invoice_log_lines(stack, invoice))


def test_a_second_failure_event_joins_the_running_loop(stack, ingress, admin, unique):
    invoice = f"in_{unique}"
    call_tracker(ingress, invoice, "OnPaymentFailure", event_body("invoice.payment_failed", invoice))
    # Stripe emits a new payment_failed event (new id) for each failed retry of the invoice.
    again = call_tracker(ingress, invoice, "OnPaymentFailure", event_body("invoice.payment_failed", invoice))
    assert again["reminders_count"] == 1, again

    wait_until(lambda: tracker_state(admin, invoice).get("escalated"), "the escalation")
    wait_until(lambda: not unfinished_invocations(admin, invoice), "the loop to end")
    assert tracker_state(admin, invoice)["reminders_count"] == 3
    assert len(reminder_lines(stack, invoice)) == 3
    assert len(escalation_lines(stack, invoice)) == 1


def test_status_of_an_unknown_invoice_is_empty(ingress, unique):
    response = ingress.post(f"/PaymentTracker/in_{unique}/GetStatus")
    assert response.json() == {
        "invoice_id": f"in_{unique}",
        "paid": False,
        "reminders_count": 0,
        "escalated": False,
        "scheduled_reminder": None,
    }


@pytest.mark.parametrize("handler", ["OnPaymentFailure", "OnPaymentSuccess"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda event: event["data"]["object"].pop("customer"), "data.object.customer"),
        (lambda event: event.update(created="yesterday"), "created"),
        (lambda event: event["data"]["object"].update(id="in_someone_else"), "data.object.id"),
        (lambda event: event.pop("id"), "id"),
    ],
)
def test_bad_input_is_a_terminal_400_naming_the_field(ingress, admin, unique, handler, change, field):
    invoice = f"in_{unique}"
    event = stripe_event(HANDLED_TYPE[handler], invoice, "cus_test")
    change(event)
    response = ingress.post(f"/PaymentTracker/{invoice}/{handler}", json=event)
    assert response.status_code == 400, response.text
    assert f"{field}:" in response.json()["message"]
    rows = admin.query(
        f"SELECT status, completion_failure FROM sys_invocation WHERE id = '{response.headers['x-restate-id']}'"
    )
    assert rows[0]["status"] == "completed" and rows[0]["completion_failure"].startswith("[400]"), rows
    assert tracker_state(admin, invoice) == {}


HANDLED_TYPE = {"OnPaymentFailure": "invoice.payment_failed", "OnPaymentSuccess": "invoice.payment_succeeded"}


@pytest.mark.parametrize(
    ("handler", "other"), [("OnPaymentSuccess", "OnPaymentFailure"), ("OnPaymentFailure", "OnPaymentSuccess")]
)
def test_an_event_of_the_other_type_is_a_terminal_400_and_changes_nothing(ingress, admin, unique, handler, other):
    invoice = f"in_{unique}"
    response = ingress.post(
        f"/PaymentTracker/{invoice}/{handler}", json=stripe_event(HANDLED_TYPE[other], invoice, "cus_test")
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("invalid InvoiceEvent: type:")
    assert tracker_state(admin, invoice) == {}, "a failed payment sent to OnPaymentSuccess must not mark it paid"


def test_client_prints_the_status(stack, ingress, unique, capsys):
    invoice = f"in_{unique}"
    call_tracker(ingress, invoice, "OnPaymentSuccess", event_body("invoice.payment_succeeded", invoice))
    client_main(["--ingress", stack.ingress_url, "status", "--invoice", invoice])
    assert json.loads(capsys.readouterr().out) == {
        "invoice_id": invoice,
        "paid": True,
        "reminders_count": 0,
        "escalated": False,
        "scheduled_reminder": None,
    }


def test_demo(stack):
    assert "the loop stopped" in run_demo(stack.ingress_url)

"""The reminder scenario, as `make demo` runs it: a failed payment starts reminders, paying stops them.

With the default 5 s interval: the first reminder goes out at once, the payment follows, and the
reminder scheduled for 5 s later finds the invoice paid and does nothing. The full loop (three
reminders, then escalation after ~15 s) is what the tests run with a short interval.
"""

from __future__ import annotations

import os
import uuid

from local.clients import Ingress
from local.clients.scheduling_tasks import result_of_event, wait_for_invocation, wait_for_status
from local.clients.webhook_callbacks import send_stripe_event, stripe_event


def run_demo(ingress: Ingress) -> str:
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    invoice = f"in_demo_{uuid.uuid4().hex[:8]}"
    send_stripe_event(ingress, stripe_event("invoice.payment_failed", invoice, "cus_demo"), secret)
    wait_for_status(ingress, invoice, lambda status: status["reminders_count"] >= 1, "the first reminder")

    payment = stripe_event("invoice.payment_succeeded", invoice, "cus_demo")
    send_stripe_event(ingress, payment, secret)
    wait_for_status(ingress, invoice, lambda status: status["paid"], "the payment")
    # What the tracker saw when the payment arrived (found by the event id, its idempotency key).
    at_payment = result_of_event(ingress, invoice, "OnPaymentSuccess", payment["id"])
    reminders_before_payment = at_payment["reminders_count"]
    pending = at_payment["scheduled_reminder"]
    if pending is None:
        raise AssertionError(f"expected a reminder to be scheduled when the payment arrived: {at_payment}")
    # Blocks until the scheduled reminder's time has come and it has run.
    after = wait_for_invocation(ingress, pending, timeout=60)
    if not after["paid"] or after["reminders_count"] != reminders_before_payment or after["escalated"]:
        raise AssertionError(f"the reminder after the payment should do nothing; before {at_payment}, after {after}")
    return (
        f"{reminders_before_payment} reminder(s), then paid; the next scheduled reminder found the invoice paid "
        "and the loop stopped"
    )

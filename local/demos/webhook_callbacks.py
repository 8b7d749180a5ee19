"""The webhook scenario, as `make demo` runs it: Stripe events in, routed once each, others ignored.

Signs the events when ``STRIPE_WEBHOOK_SECRET`` is set in the demo's environment (it must match
the function's setting); the local stack's default is no secret, so they go unsigned.
"""

from __future__ import annotations

import os
import time
import uuid

from local.clients import Ingress
from local.clients.scheduling_tasks import wait_for_status
from local.clients.webhook_callbacks import send_stripe_event, stripe_event


def run_demo(ingress: Ingress) -> str:
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    invoice = f"in_demo_{uuid.uuid4().hex[:8]}"
    failed = stripe_event("invoice.payment_failed", invoice, "cus_demo")
    # Stripe redelivers an event it is not sure about, with the same event id.
    first, redelivered = (send_stripe_event(ingress, failed, secret) for _ in range(2))
    expected_route = f"PaymentTracker/{invoice}/OnPaymentFailure"
    if first["routed_to"] != expected_route or redelivered != first:
        raise AssertionError(f"expected both deliveries routed to {expected_route}, got {first} and {redelivered}")
    wait_for_status(ingress, invoice, lambda status: status["reminders_count"] >= 1, "a reminder")

    ignored_event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_demo", "object": "customer"}},
    }
    ignored = send_stripe_event(ingress, ignored_event, secret)
    if ignored["routed_to"] is not None:
        raise AssertionError(f"customer.created should be ignored, got {ignored}")

    paid = send_stripe_event(ingress, stripe_event("invoice.payment_succeeded", invoice, "cus_demo"), secret)
    if paid["routed_to"] != f"PaymentTracker/{invoice}/OnPaymentSuccess":
        raise AssertionError(f"payment_succeeded was not routed to the tracker: {paid}")
    status = wait_for_status(ingress, invoice, lambda status: status["paid"], "the payment")
    if status["reminders_count"] != 1:
        raise AssertionError(f"the redelivered failure event should not add a reminder: {status}")
    signed = "signed" if secret else "unsigned"
    return (
        f"{signed} payment_failed (delivered twice) -> 1 reminder, payment_succeeded -> paid, customer.created ignored"
    )

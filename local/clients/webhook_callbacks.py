"""Play Stripe: post an invoice event to WebhookCallbackRouter, signed like Stripe signs it.

    python -m local.clients.webhook_callbacks --type invoice.payment_failed --invoice in_1 --customer cus_1
    python -m local.clients.webhook_callbacks --type invoice.payment_succeeded --invoice in_1 --customer cus_1

Each run is a new event (a fresh ``evt_...`` id) unless ``--event-id`` repeats one, which is how
Stripe redelivers. The event is signed when a signing secret is given (``--secret`` or env
``STRIPE_WEBHOOK_SECRET``), which must then match the function's ``STRIPE_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from typing import Any

from functions.webhook_callbacks.stripe_signature import signature_header
from local.clients import Ingress, add_ingress_arguments, call_key, checked, exit_when_a_call_fails, ingress_client

WEBHOOK_PATH = "/WebhookCallbackRouter/OnStripeEvent"


def stripe_event(event_type: str, invoice_id: str, customer: str, event_id: str | None = None) -> dict[str, Any]:
    """An event shaped like Stripe's, with the fields the router and the tracker read."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"id": invoice_id, "object": "invoice", "customer": customer}},
    }


def post_stripe_event(
    ingress: Ingress,
    body: bytes,
    signing_secret: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Post raw event bytes as Stripe does; returns the router's receipt.

    Each delivery has an idempotency key of its own, so that sent again to another node of a cluster
    it is still one delivery; a redelivery (a new delivery of the same event) is routed once by the
    router itself, by the event's id.
    """
    headers = {"content-type": "application/json", "idempotency-key": call_key()}
    if signing_secret:
        headers["stripe-signature"] = signature_header(signing_secret, body, int(time.time()))
    with ingress_client(ingress, token) as client:
        response = checked(client.post(WEBHOOK_PATH, content=body, headers=headers))
    receipt: dict[str, Any] = response.json()
    return receipt


def send_stripe_event(
    ingress: Ingress,
    event: dict[str, Any],
    signing_secret: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    return post_stripe_event(ingress, json.dumps(event).encode(), signing_secret, token)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", required=True, help="e.g. invoice.payment_failed, invoice.payment_succeeded")
    parser.add_argument("--invoice", required=True, help="invoice id, the PaymentTracker key")
    parser.add_argument("--customer", default="cus_demo")
    parser.add_argument("--event-id", help="repeat an event id to play a redelivery (default: a new id)")
    parser.add_argument(
        "--secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        help="sign with this webhook signing secret (env STRIPE_WEBHOOK_SECRET; default: unsigned)",
    )
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    event = stripe_event(args.type, args.invoice, args.customer, args.event_id)
    with exit_when_a_call_fails("webhook delivery"):
        receipt = send_stripe_event(args.ingress, event, args.secret, args.token)
    print(json.dumps(receipt))


if __name__ == "__main__":
    main()

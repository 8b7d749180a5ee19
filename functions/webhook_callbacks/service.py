"""Webhook callbacks: point Stripe's webhooks at a Restate handler and process each event once.

The webhook URL is the Restate ingress itself, ``POST /WebhookCallbackRouter/OnStripeEvent``.
Once Restate has accepted a delivery the handler runs to the end, surviving crashes and Lambda
timeouts, so nothing here needs a queue, an outbox or a retry loop of its own::

    Stripe --POST Stripe event + Stripe-Signature--> Restate ingress
        --> WebhookCallbackRouter.OnStripeEvent
              1. validate the event                       (bad input: terminal 400, never retried)
              2. verify the signature over the raw body  (only if a signing secret is set)
              3. route by type, as a one-way message with the event id as idempotency key:
                   invoice.payment_failed    --> PaymentTracker[<invoice id>].OnPaymentFailure
                   invoice.payment_succeeded --> PaymentTracker[<invoice id>].OnPaymentSuccess
                   anything else             --> acknowledged, ignored
        <-- 200 {"event_id", "type", "routed_to"}

Stripe delivers at least once and retries a delivery it thinks failed, always with the same
event id. Because the one-way message carries that id as its idempotency key, Restate starts the
``PaymentTracker`` handler once per event, however often the event arrives.

Signatures: with ``STRIPE_WEBHOOK_SECRET`` set (the endpoint's ``whsec_...`` secret; on AWS the
function reads it from the Secrets Manager secret ``STRIPE_WEBHOOK_SECRET_ARN`` names), a request
whose ``Stripe-Signature`` is missing, wrong or older than ``STRIPE_WEBHOOK_TOLERANCE_SECONDS``
(settings.py) is refused with a terminal 400. The signature covers the exact bytes Stripe sent,
so it is checked over the request's raw body (``ctx.request().body``), not over the parsed event;
an event that is not even valid is refused before that, and either way nothing is routed. The
verdict is a journaled step: a retry of the invocation hours later replays it instead of judging the
then-old timestamp again. Without a secret (the default, for local development) every event is
accepted and each execution environment logs one warning saying so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import restate
from pydantic import BaseModel, Field
from restate import TerminalError

from functions.common.logs import pattern_logger
from functions.common.settings import secret_setting
from functions.common.validation import parse_input, pattern_app, typed_handler
from functions.webhook_callbacks.settings import Settings
from functions.webhook_callbacks.stripe_signature import SignatureError, signature_header_of, verify_signature

logger = pattern_logger(__name__)

# Read while the module loads: on AWS from Secrets Manager (STRIPE_WEBHOOK_SECRET_ARN), once per cold start.
SIGNING_SECRET = secret_setting("STRIPE_WEBHOOK_SECRET")
SIGNATURE_TOLERANCE = Settings.current().signature_tolerance

if not SIGNING_SECRET:
    # Logged while the module loads, i.e. once per execution environment, not once per event.
    logger.warning(
        "STRIPE_WEBHOOK_SECRET is not set: accepting Stripe events without verifying their signatures; "
        "restrict who can reach the ingress"
    )

PAYMENT_TRACKER = "PaymentTracker"
"""Served by another function (scheduling_tasks), so it is addressed by name."""

ROUTES: Mapping[str, str] = {
    "invoice.payment_failed": "OnPaymentFailure",
    "invoice.payment_succeeded": "OnPaymentSuccess",
}


# Unlike every other pattern input, Stripe's events do not refuse unknown fields: each carries many
# more than the router reads, and Stripe adds new ones to its API versions without notice.


class StripeObject(BaseModel):
    """Every Stripe object has an id; only some (invoices among them) name a customer."""

    id: str = Field(min_length=1)
    customer: str | None = None


class EventData(BaseModel):
    object: StripeObject


class StripeEvent(BaseModel):
    """The envelope every Stripe event has (Stripe sends many more fields; they are ignored)."""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: int
    data: EventData


class Invoice(StripeObject):
    customer: str = Field(min_length=1)


class InvoiceData(EventData):
    object: Invoice


class InvoiceEvent(StripeEvent):
    """An event this router forwards: its object is an invoice, which always names its customer."""

    data: InvoiceData


class EventReceipt(BaseModel):
    event_id: str
    type: str
    routed_to: str | None
    """``PaymentTracker/<invoice id>/<handler>``, or None for an event type that is ignored."""


webhook_callback_router = restate.Service("WebhookCallbackRouter")


@typed_handler(webhook_callback_router.handler, "OnStripeEvent")
async def on_stripe_event(ctx: restate.Context, event: StripeEvent) -> EventReceipt:
    body = ctx.request().body
    if SIGNING_SECRET:
        signature = signature_header_of(ctx.request().headers)
        await ctx.run_typed("verify Stripe signature", check_signature, header=signature, body=body)
    handler = ROUTES.get(event.type)
    if handler is None:
        logger.info("Ignoring Stripe event %s of type %s", event.id, event.type)
        return EventReceipt(event_id=event.id, type=event.type, routed_to=None)
    invoice_id = parse_input(InvoiceEvent, body).data.object.id
    # Forward the body as received: the tracker gets the very event Stripe sent.
    ctx.generic_send(PAYMENT_TRACKER, handler, body, key=invoice_id, idempotency_key=event.id)
    routed_to = f"{PAYMENT_TRACKER}/{invoice_id}/{handler}"
    logger.info("Routed Stripe event %s (%s) to %s", event.id, event.type, routed_to)
    return EventReceipt(event_id=event.id, type=event.type, routed_to=routed_to)


def check_signature(header: str | None, body: bytes) -> int:
    """The signing timestamp of a genuine, fresh delivery; anything else is a terminal 400."""
    try:
        return verify_signature(header, body, SIGNING_SECRET, now=time.time(), tolerance=SIGNATURE_TOLERANCE)
    except SignatureError as error:
        logger.warning("Refused a webhook delivery: %s", error)
        raise TerminalError(f"invalid Stripe webhook signature: {error}", status_code=400) from None


app = pattern_app([webhook_callback_router])

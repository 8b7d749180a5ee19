"""Scheduling tasks: Restate as the scheduler of a payment-reminder loop.

When an invoice payment fails, ``PaymentTracker`` (a virtual object keyed by invoice id) reminds
the customer to update their payment details, and calls *itself* again one reminder interval
later by sending itself a delayed one-way message. After three reminders it stops the loop and
escalates to support. A successful payment sets ``paid``; the next scheduled reminder finds it
and does nothing, which ends the loop::

    invoice.payment_failed --> OnPaymentFailure  reminder 1, send self(delay = interval) --+
                                                                                           |
          +--------------------------------------------------------------------------------+
          v   (one interval later)
    OnPaymentFailure  reminder 2, send self(delay) --> OnPaymentFailure  reminder 3, send self(delay)
          --> OnPaymentFailure  3 reminders sent: escalate to support, loop ends

    invoice.payment_succeeded --> OnPaymentSuccess  paid = true
          --> the reminder already scheduled runs, finds paid, does nothing: loop ends

The delayed message is a durable timer kept by Restate, not a sleeping process: no Lambda runs (or
is billed) between reminders, and a reminder is delivered even if everything crashed meanwhile.
Each reminder and the escalation are journaled steps, so a retried invocation does not repeat
them. The object's single writer per key means a payment and a reminder never race.

Stripe emits ``invoice.payment_failed`` again for every failed retry of the same invoice. One loop
per invoice is enough: the object remembers the invocation id of the reminder it scheduled, and a
failure event that arrives while that reminder is pending joins the running loop.

State (per invoice): ``reminders_count``, ``paid``, ``escalated``, ``scheduled_reminder``.
``PAYMENT_REMINDER_INTERVAL_SECONDS`` sets the interval (settings.py: short, to watch the loop; a day in real life).
"""

from __future__ import annotations

from datetime import timedelta

import restate
from pydantic import BaseModel, Field
from restate import TerminalError

from functions.common.logs import pattern_logger
from functions.common.validation import pattern_app, typed_handler
from functions.scheduling_tasks.notifications import escalate_to_support, send_reminder_email
from functions.scheduling_tasks.settings import Settings

logger = pattern_logger(__name__)

REMINDER_INTERVAL = Settings.current().reminder_interval
MAX_REMINDERS = 3

PAYMENT_FAILED = "invoice.payment_failed"
PAYMENT_SUCCEEDED = "invoice.payment_succeeded"

REMINDERS_COUNT = "reminders_count"
PAID = "paid"
ESCALATED = "escalated"
SCHEDULED_REMINDER = "scheduled_reminder"


# No extra="forbid" here, unlike the other patterns' inputs: these are Stripe's events, which carry many
# more fields than the tracker reads (Stripe adds new ones without notice), forwarded as Stripe sent them.


class Invoice(BaseModel):
    id: str = Field(min_length=1)
    customer: str = Field(min_length=1)


class InvoiceData(BaseModel):
    object: Invoice


class InvoiceEvent(BaseModel):
    """The Stripe event (``invoice.payment_failed`` / ``invoice.payment_succeeded``); extra fields are ignored."""

    id: str = Field(min_length=1)
    type: str
    created: int
    data: InvoiceData


class PaymentStatus(BaseModel):
    invoice_id: str
    paid: bool
    reminders_count: int
    escalated: bool
    scheduled_reminder: str | None
    """Invocation id of the reminder waiting for its time, if any (attach to it to see it run)."""


payment_tracker = restate.VirtualObject(
    "PaymentTracker",
    # Stripe keeps retrying a delivery for up to three days; the router's idempotency keys (the
    # event ids) must be remembered at least that long to turn every late retry into a no-op.
    idempotency_retention=timedelta(days=3),
)


@typed_handler(payment_tracker.handler, "OnPaymentFailure")
async def on_payment_failure(ctx: restate.ObjectContext, event: InvoiceEvent) -> PaymentStatus:
    check_event(ctx, event, PAYMENT_FAILED)
    invoice = event.data.object
    scheduled = await ctx.get(SCHEDULED_REMINDER, type_hint=str)
    is_scheduled_reminder = scheduled == ctx.request().id
    if is_scheduled_reminder:
        ctx.clear(SCHEDULED_REMINDER)  # its time has come; a next reminder gets its own entry
    if await ctx.get(PAID, type_hint=bool):
        logger.info("Invoice %s is paid: no reminder", invoice.id)
        return await current_status(ctx)
    if await ctx.get(ESCALATED, type_hint=bool):
        logger.info("Invoice %s was escalated to support already: no reminder", invoice.id)
        return await current_status(ctx)
    if scheduled is not None and not is_scheduled_reminder:
        logger.info(
            "Invoice %s has a reminder scheduled already (%s): event %s joins that loop",
            invoice.id,
            scheduled,
            event.id,
        )
        return await current_status(ctx)

    reminders_sent = await ctx.get(REMINDERS_COUNT, type_hint=int) or 0
    if reminders_sent >= MAX_REMINDERS:
        await ctx.run_typed("escalate to support", escalate_to_support, invoice=invoice, reminders_sent=reminders_sent)
        ctx.set(ESCALATED, True)
        return await current_status(ctx)

    reminder_number = reminders_sent + 1
    await ctx.run_typed(
        "send reminder",
        send_reminder_email,
        invoice=invoice,
        reminder_number=reminder_number,
        max_reminders=MAX_REMINDERS,
    )
    ctx.set(REMINDERS_COUNT, reminder_number)
    next_reminder = ctx.object_send(on_payment_failure, key=invoice.id, arg=event, send_delay=REMINDER_INTERVAL)
    ctx.set(SCHEDULED_REMINDER, await next_reminder.invocation_id())
    return await current_status(ctx)


@typed_handler(payment_tracker.handler, "OnPaymentSuccess")
async def on_payment_success(ctx: restate.ObjectContext, event: InvoiceEvent) -> PaymentStatus:
    check_event(ctx, event, PAYMENT_SUCCEEDED)
    logger.info("Invoice %s paid (event %s)", event.data.object.id, event.id)
    ctx.set(PAID, True)
    return await current_status(ctx)


@payment_tracker.handler("GetStatus", kind="shared")
async def get_status(ctx: restate.ObjectSharedContext) -> PaymentStatus:
    return await current_status(ctx)


def check_event(ctx: restate.ObjectContext, event: InvoiceEvent, expected_type: str) -> None:
    """An event of another kind, or for another invoice, must not change this one's state.

    The webhook router only forwards matching events, but the handlers are callable directly too:
    a failed payment sent to ``OnPaymentSuccess`` would otherwise mark the invoice paid.
    """
    if event.type != expected_type:
        raise TerminalError(
            f"invalid InvoiceEvent: type: {event.type!r} is not handled here (expected {expected_type!r})",
            status_code=400,
        )
    if event.data.object.id != ctx.key():
        raise TerminalError(
            f"invalid InvoiceEvent: data.object.id: {event.data.object.id!r} is not this tracker's key {ctx.key()!r}",
            status_code=400,
        )


async def current_status(ctx: restate.ObjectSharedContext | restate.ObjectContext) -> PaymentStatus:
    return PaymentStatus(
        invoice_id=ctx.key(),
        paid=await ctx.get(PAID, type_hint=bool) or False,
        reminders_count=await ctx.get(REMINDERS_COUNT, type_hint=int) or 0,
        escalated=await ctx.get(ESCALATED, type_hint=bool) or False,
        scheduled_reminder=await ctx.get(SCHEDULED_REMINDER, type_hint=str),
    )


app = pattern_app([payment_tracker])

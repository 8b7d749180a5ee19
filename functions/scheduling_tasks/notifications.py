"""Stand-ins for who hears about an unpaid invoice: the customer, by email, and then the support team.

Both are actions of journaled steps of ``PaymentTracker``, so they only log: a real email service
or ticketing system would be called here, and would be called again only if a step crashed before
its result was journaled.
"""

from __future__ import annotations

from typing import Protocol

from functions.common.logs import pattern_logger

logger = pattern_logger(__name__)


class InvoiceToNotifyAbout(Protocol):
    """What a notification says of an invoice (the service's ``Invoice`` model has it)."""

    @property
    def id(self) -> str: ...

    @property
    def customer(self) -> str: ...


def send_reminder_email(invoice: InvoiceToNotifyAbout, reminder_number: int, max_reminders: int) -> None:
    logger.info(
        "Sending reminder email for invoice %s to customer %s (reminder %d of %d)",
        invoice.id,
        invoice.customer,
        reminder_number,
        max_reminders,
    )


def escalate_to_support(invoice: InvoiceToNotifyAbout, reminders_sent: int) -> None:
    logger.info(
        "Escalating invoice %s of customer %s to support after %d reminders",
        invoice.id,
        invoice.customer,
        reminders_sent,
    )

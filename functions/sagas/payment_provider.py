"""A simulated payment provider, standing in for an external API such as Stripe.

It knows nothing about Restate. Like a real provider it deduplicates by a key the client makes
up: the *payment id*. A charge or refund repeated with the same payment id answers as before and
moves no money again, and a refund can be asked for a payment whose charge the client never
heard back from (it refunds it if, and only if, the charge went through).

Rules:

* A charge of more than :data:`AMOUNT_LIMIT` is refused; any other amount is charged.
* The provider remembers every payment id it has seen in a ledger: one small JSON file per
  payment id in ``BOOKING_PAYMENT_LEDGER_DIR`` (see settings.py). On the
  local stack every Lambda worker shares that folder, as every caller of a real provider shares
  its database. On AWS each Lambda execution environment has its own ``/tmp``, so the simulation
  remembers less there; nothing in the demo depends on it.

Test cards make the provider flaky in a way tests can control. A 16-digit card number
``40000000000000CR`` (fourteen fixed digits, then two digits C and R) charges and refunds
normally, but the provider *loses its answer* to the first C charge requests and the first R
refund requests of each payment: it does the work, records it, and then the caller sees a time
out (:class:`ProviderUnavailable`) instead of the answer. That is the failure an idempotency key
exists for: the caller cannot tell whether the request took effect, retries with the same key,
and the provider answers without doing the work twice. The counts are kept in the ledger per
payment id, so they hold across retries however the retries are spread over Lambda workers.
Every other card number (e.g. ``4111111111111111``, the card of the README's bookings) never loses an answer.

What the provider does is logged, one line per request, with the payment id:
``Charged payment: <id> ...``, ``Payment refused: <id> ...``, ``Refunded payment: <id> ...``,
``Nothing to refund for payment <id> ...``, ``Repeated charge of payment <id> ...``,
``Repeated refund of payment <id> ...`` and ``Lost the answer to ... of payment <id> ...``.
"""

from __future__ import annotations

import fcntl
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from functions.common.logs import pattern_logger
from functions.sagas.settings import Settings

logger = pattern_logger(__name__)

AMOUNT_LIMIT = Decimal(1000)
LEDGER_DIR = Settings.current().payment_ledger_dir
TEST_CARD = re.compile(r"40000000000000(?P<lost_charge_answers>\d)(?P<lost_refund_answers>\d)")


class PaymentRefused(Exception):
    """The provider declined the charge; asking again will not change its mind."""


class ProviderUnavailable(Exception):
    """No answer in time: the request may or may not have been carried out."""


class PaymentRecord(BaseModel):
    """What the provider remembers about one payment id."""

    card_last_digits: str
    amount: Decimal
    status: Literal["charged", "refused", "refunded"]
    charge_requests: int = 0
    refund_requests: int = 0
    lost_charge_answers: int = 0
    lost_refund_answers: int = 0


def charge(payment_id: str, card_number: str, amount: Decimal) -> None:
    """Charge ``amount`` to the card once per payment id; raise :class:`PaymentRefused` if declined."""
    with ledger_entry(payment_id) as entry:
        record = entry.record
        if record is None:
            lost_charge_answers, lost_refund_answers = lost_answers_of_test_card(card_number)
            refused = amount > AMOUNT_LIMIT
            record = PaymentRecord(
                card_last_digits=card_number[-4:],
                amount=amount,
                status="refused" if refused else "charged",
                lost_charge_answers=lost_charge_answers,
                lost_refund_answers=lost_refund_answers,
            )
            if refused:
                logger.info("Payment refused: %s (%s is over the limit of %s)", payment_id, amount, AMOUNT_LIMIT)
            else:
                logger.info("Charged payment: %s (%s on the card ending in %s)", payment_id, amount, card_number[-4:])
        else:
            logger.info("Repeated charge of payment %s: already %s, nothing charged again", payment_id, record.status)
        record.charge_requests += 1
        entry.record = record
    if record.charge_requests <= record.lost_charge_answers:
        logger.warning("Lost the answer to charge request %d of payment %s", record.charge_requests, payment_id)
        raise ProviderUnavailable(f"the payment provider did not answer the charge of payment {payment_id} in time")
    if record.status == "refused":
        raise PaymentRefused(f"payment {payment_id} refused: {record.amount} is over the limit of {AMOUNT_LIMIT}")


def refund(payment_id: str) -> None:
    """Give back what payment ``payment_id`` charged, if anything; safe to repeat."""
    with ledger_entry(payment_id) as entry:
        record = entry.record
        if record is None:
            logger.info("Nothing to refund for payment %s: no charge with this id ever arrived", payment_id)
            return
        if record.status == "charged":
            record.status = "refunded"
            logger.info("Refunded payment: %s (%s)", payment_id, record.amount)
        elif record.status == "refunded":
            logger.info("Repeated refund of payment %s: already refunded, nothing refunded again", payment_id)
        else:
            logger.info("Nothing to refund for payment %s: its charge was refused", payment_id)
        record.refund_requests += 1
        entry.record = record
    if record.refund_requests <= record.lost_refund_answers:
        logger.warning("Lost the answer to refund request %d of payment %s", record.refund_requests, payment_id)
        raise ProviderUnavailable(f"the payment provider did not answer the refund of payment {payment_id} in time")


def lost_answers_of_test_card(card_number: str) -> tuple[int, int]:
    """How many charge and refund answers the provider loses for payments with this card."""
    match = TEST_CARD.fullmatch(card_number)
    if match is None:
        return 0, 0
    return int(match["lost_charge_answers"]), int(match["lost_refund_answers"])


class LedgerEntry:
    def __init__(self, record: PaymentRecord | None) -> None:
        self.record = record


@contextmanager
def ledger_entry(payment_id: str) -> Iterator[LedgerEntry]:
    """The ledger's record of one payment, locked while the request is handled and saved after it."""
    # A canonical UUID is also a safe file name; anything else is a bug in the caller.
    payment_id = str(uuid.UUID(payment_id))
    LEDGER_DIR.mkdir(parents=True, exist_ok=True)
    path = LEDGER_DIR / f"{payment_id}.json"
    with open(LEDGER_DIR / f"{payment_id}.lock", "a") as lock:
        # Two attempts of one request can overlap (a timed-out Lambda may still be running).
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = PaymentRecord.model_validate_json(path.read_text()) if path.exists() else None
        entry = LedgerEntry(before)
        yield entry
        if entry.record is not None:
            staged = path.with_suffix(".tmp")
            staged.write_text(entry.record.model_dump_json())
            staged.replace(path)

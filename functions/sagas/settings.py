"""The sagas pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from functions.common.settings import PatternSettings


class Settings(PatternSettings):
    charge_max_attempts: int = Field(10, ge=1, alias="BOOKING_CHARGE_MAX_ATTEMPTS")
    """Attempts at the charge before the saga gives up and compensates (back-off from 50 ms, x2)."""
    payment_ledger_dir: Path = Field(Path("/tmp/sagas-payment-ledger"), alias="BOOKING_PAYMENT_LEDGER_DIR")
    """The simulated payment provider's memory of payment ids (see payment_provider.py)."""

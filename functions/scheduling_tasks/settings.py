"""The scheduling_tasks pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from functions.common.settings import PatternSettings, Seconds


class Settings(PatternSettings):
    reminder_interval: Seconds = Field(timedelta(seconds=5), alias="PAYMENT_REMINDER_INTERVAL_SECONDS")
    """The time between two payment reminders (a day in a real deployment)."""

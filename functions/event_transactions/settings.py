"""The event_transactions pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from functions.common.settings import PatternSettings, Seconds


class Settings(PatternSettings):
    poll_interval: Seconds = Field(timedelta(seconds=5), alias="MODERATION_POLL_SECONDS")
    """The durable sleep between two polls of the moderation service."""
    min_pending_polls: int = Field(1, ge=0, alias="MODERATION_MIN_PENDING_POLLS")
    max_pending_polls: int = Field(3, ge=0, alias="MODERATION_MAX_PENDING_POLLS")
    """How often the simulated moderation answers "pending" before it decides: at random in this range."""

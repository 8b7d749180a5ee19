"""The webhook_callbacks pattern's settings: the one place of their variables, defaults and limits.

The signing secret is no setting with a default: it is a catalog ``secret_settings`` entry, read
with :func:`functions.common.settings.secret_setting`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from functions.common.settings import PatternSettings, Seconds


class Settings(PatternSettings):
    signature_tolerance: Seconds = Field(timedelta(seconds=300), alias="STRIPE_WEBHOOK_TOLERANCE_SECONDS")
    """How far an event's signed timestamp may be from now: an older signature is refused, against replays."""

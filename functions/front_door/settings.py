"""The front door's settings: the one place of their variables, defaults and limits.

Where Restate is and the key to call it with are no settings: the CDK app and the local stack set
them for every HTTP API alike (see ``config.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator

from functions.common.settings import PatternSettings, Seconds
from functions.front_door.flows import DEFAULT_UPLOAD_WAIT_SECONDS


class Settings(PatternSettings):
    upload_wait: Seconds = Field(timedelta(seconds=DEFAULT_UPLOAD_WAIT_SECONDS), alias="FRONT_DOOR_UPLOAD_WAIT_SECONDS")
    """How long POST /uploads waits for the URL before it has the URL emailed, when the request names no wait."""
    max_upload_wait: Seconds = Field(timedelta(seconds=25), alias="FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS")
    """The longest wait a request may ask for: below the function's timeout, so the API still answers."""
    call_timeout: Seconds = Field(timedelta(seconds=10), alias="FRONT_DOOR_CALL_TIMEOUT_SECONDS")
    """How long one call to the ingress may take before the API answers 504."""

    @model_validator(mode="after")
    def _wait_within_the_maximum(self) -> Self:
        if self.upload_wait > self.max_upload_wait:
            raise ValueError(
                f"FRONT_DOOR_UPLOAD_WAIT_SECONDS ({self.upload_wait.total_seconds():g}) is above "
                f"FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS ({self.max_upload_wait.total_seconds():g})"
            )
        return self

"""The data_upload pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from functions.common.settings import PatternSettings, Seconds
from functions.data_upload.email_address import looks_like_an_email_address

BUCKET_PREFIX_SHAPE = re.compile(r"[a-z0-9][a-z0-9-]{1,28}[a-z0-9]")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def looks_like_a_bucket_prefix(prefix: str) -> str:
    if not BUCKET_PREFIX_SHAPE.fullmatch(prefix) or prefix.startswith(RESERVED_BUCKET_PREFIXES):
        raise ValueError(
            f"must be 3-30 lowercase letters, digits or hyphens, not starting {' or '.join(RESERVED_BUCKET_PREFIXES)}"
        )
    return prefix


class Settings(PatternSettings):
    upload_min_seconds: Seconds = Field(timedelta(seconds=0), alias="UPLOAD_MIN_SECONDS")
    """The shortest an upload takes: its time is drawn at random up to ``UPLOAD_MAX_SECONDS``."""
    upload_max_seconds: Seconds = Field(timedelta(seconds=10), alias="UPLOAD_MAX_SECONDS")
    """The longest an upload takes. The time is spent inside the upload step, so this must stay below
    the function's timeout (catalog.py); a range around the client's wait shows both outcomes."""
    email_sender: Annotated[str, AfterValidator(looks_like_an_email_address)] = Field(
        "uploads@example.com", alias="UPLOAD_EMAIL_SENDER"
    )
    """The sender of the URL emails: on AWS a verified SES identity (locally, registered with moto)."""
    bucket_prefix: Annotated[str, AfterValidator(looks_like_a_bucket_prefix)] = Field(
        "restate-data-upload", alias="UPLOAD_BUCKET_PREFIX"
    )
    """Bucket names are global across AWS accounts: a deployment can make its own unique with this."""

    @model_validator(mode="after")
    def _upload_range(self) -> Self:
        if self.upload_max_seconds < self.upload_min_seconds:
            raise ValueError(
                f"UPLOAD_MAX_SECONDS ({self.upload_max_seconds.total_seconds():g}) is below "
                f"UPLOAD_MIN_SECONDS ({self.upload_min_seconds.total_seconds():g})"
            )
        return self

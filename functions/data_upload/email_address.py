"""The email address ``ResultAsEmail`` takes, shared by the service and the client."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, RootModel

EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def looks_like_an_email_address(value: str) -> str:
    # Only the shape: whether the mailbox exists is for SES to find out.
    if not EMAIL_SHAPE.fullmatch(value):
        raise ValueError("expected an email address such as jane@example.com")
    return value


class EmailAddress(RootModel[Annotated[str, Field(max_length=254), AfterValidator(looks_like_an_email_address)]]):
    """A JSON string such as ``"jane@example.com"``."""

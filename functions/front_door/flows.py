"""What the front door's flows take and give back: a task's delay, a send's answer, an upload's outcome.

The command-line clients (``local/clients``) run the same flows from a terminal and reuse these, so
that both accept the same delays and word an upload's outcome the same way. Nothing here imports
more than the standard library: a client must not pull in the web framework to share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_UPLOAD_WAIT_SECONDS = 5.0
"""How long a caller waits for an upload's URL before having it emailed (the front door's default too)."""

DELAY_PATTERN = re.compile(r"^\d+(ms|s|m|h)$")
DELAY_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}


MAX_DELAY = timedelta(days=365)
"""The longest delay a task takes. restate-server 1.7.12 panics on delays near the limits of its
timers (``99999999h``) after it accepted the task, so anything longer is refused before Restate."""


def parse_delay(text: str) -> timedelta:
    """``500ms``, ``10s``, ``5m``, ``1h``: the delays a queued task takes, at most :data:`MAX_DELAY`."""
    match = DELAY_PATTERN.match(text)
    if match is None:
        raise ValueError("use a number with a unit, e.g. 500ms, 10s, 5m, 1h")
    unit = match[1]
    amount = int(text.removesuffix(unit))
    # Compared before building the timedelta, which overflows for amounts this check exists to refuse.
    if amount > MAX_DELAY // DELAY_UNITS[unit]:
        raise ValueError(f"at most {MAX_DELAY.days} days ({MAX_DELAY // DELAY_UNITS['h']}h)")
    return amount * DELAY_UNITS[unit]


@dataclass(frozen=True)
class Submission:
    invocation_id: str
    status: str
    """``Accepted`` the first time a task id is sent, ``PreviouslyAccepted`` after."""


@dataclass(frozen=True)
class UploadOutcome:
    upload_id: str
    url: str | None
    """The download URL if the upload finished within the wait, else None."""
    emailed_to: str | None
    """Where the URL will be mailed, when the caller stopped waiting."""
    already_started: bool
    """The id was used before: this is that upload's outcome, nothing was uploaded again."""
    email_invocation_id: str | None = None
    """The ``ResultAsEmail`` invocation, to attach to if one wants to know when the email is out."""

    def describe(self, wait_seconds: float) -> str:
        note = f"Upload id {self.upload_id!r} was used before, so this is that upload. " if self.already_started else ""
        if self.url is not None:
            return f"{note}Fast upload: the data is at {self.url}"
        return f"{note}Slow upload: no URL within {wait_seconds:g} s, so it will be emailed to {self.emailed_to}"

"""Read pattern settings from the environment (set by CDK on AWS, by the catalog locally).

Each reader fails at cold start with the setting's name when the value is malformed, so a typo
shows up as a clear import error instead of odd behaviour in the middle of an invocation.
"""

from __future__ import annotations

import os
from datetime import timedelta


def _raw(name: str) -> str | None:
    raw = os.environ.get(name)
    return raw if raw else None


def seconds_setting(name: str, default: float) -> timedelta:
    """A non-negative duration in seconds."""
    raw = _raw(name)
    if raw is None:
        return timedelta(seconds=default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return timedelta(seconds=value)


def whole_number_setting(name: str, default: int, minimum: int = 0) -> int:
    """A whole number of at least ``minimum`` (counts, attempts)."""
    raw = _raw(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ValueError(f"{name} must be a whole number, at least {minimum}, got {raw!r}")
    return int(raw)


def probability_setting(name: str, default: float) -> float:
    """A probability between 0 and 1."""
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {raw!r}")
    return value

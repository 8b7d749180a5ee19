"""Read pattern settings from the environment (set by CDK on AWS, by the catalog locally)."""

from __future__ import annotations

import os
from datetime import timedelta


def seconds_setting(name: str, default: float) -> timedelta:
    """A duration in seconds from environment variable ``name``; a typo fails at cold start."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return timedelta(seconds=default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return timedelta(seconds=value)

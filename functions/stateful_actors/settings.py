"""The stateful_actors pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from functions.common.settings import PatternSettings, Probability, Seconds


class Settings(PatternSettings):
    transition_time: Seconds = Field(timedelta(seconds=5), alias="MACHINE_TRANSITION_SECONDS")
    """The durable sleep of each transition (the Lambda function is suspended meanwhile)."""
    crash_mode: Literal["random", "once"] = Field("random", alias="MACHINE_CRASH_MODE")
    """``random``: each attempt at a transition crashes with ``MACHINE_CRASH_PROBABILITY``; ``once``:
    every transition crashes once, then goes through (see machine.py)."""
    crash_probability: Probability = Field(0.4, alias="MACHINE_CRASH_PROBABILITY")
    """In ``random`` mode, the chance that an attempt at a transition crashes; ``0`` turns crashes off.
    The default is the one of Restate's own examples of the pattern."""

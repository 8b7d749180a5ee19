"""The parallelize_work pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from functions.common.settings import Names, PatternSettings, Seconds


class Settings(PatternSettings):
    subtask_time: Seconds = Field(timedelta(seconds=2), alias="FANOUT_SUBTASK_SECONDS")
    """How long one subtask keeps its Lambda busy (real work, not a durable sleep); below the function's timeout."""
    flaky_subtasks: Names = Field(frozenset(), alias="FANOUT_FLAKY_SUBTASKS")
    """Subtask names that fail once before going through (simulated transient failures, see faults.py)."""

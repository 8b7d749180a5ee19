"""Stateful actors: what is checked without a stack (the rest: tests/stack/test_stateful_actors.py)."""

from __future__ import annotations

import pytest

from functions.stateful_actors.settings import Settings


def test_crash_mode_is_random_or_once():
    assert Settings.from_environment({"MACHINE_CRASH_MODE": "once"}).crash_mode == "once"
    with pytest.raises(ValueError, match=r"MACHINE_CRASH_MODE='sometimes' is not a valid setting.*'random' or 'once'"):
        Settings.from_environment({"MACHINE_CRASH_MODE": "sometimes"})

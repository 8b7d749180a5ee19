"""Pattern settings fail at cold start, naming the setting, when a value is malformed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.common.settings import probability_setting, seconds_setting, whole_number_setting


def test_unset_or_empty_settings_take_their_defaults(monkeypatch):
    monkeypatch.setenv("SOME_SECONDS", "")
    monkeypatch.delenv("SOME_COUNT", raising=False)
    assert seconds_setting("SOME_SECONDS", 5) == timedelta(seconds=5)
    assert whole_number_setting("SOME_COUNT", 3) == 3
    assert probability_setting("SOME_COUNT", 0.4) == 0.4


def test_given_settings_are_parsed(monkeypatch):
    monkeypatch.setenv("SOME_SECONDS", "0.25")
    monkeypatch.setenv("SOME_COUNT", "7")
    monkeypatch.setenv("SOME_PROBABILITY", "1")
    assert seconds_setting("SOME_SECONDS", 5) == timedelta(milliseconds=250)
    assert whole_number_setting("SOME_COUNT", 3, minimum=1) == 7
    assert probability_setting("SOME_PROBABILITY", 0.4) == 1.0


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_malformed_seconds_name_the_setting(monkeypatch, value):
    monkeypatch.setenv("SOME_SECONDS", value)
    with pytest.raises(ValueError, match="SOME_SECONDS"):
        seconds_setting("SOME_SECONDS", 5)


@pytest.mark.parametrize("value", ["many", "1.5", "-2", "0"])
def test_malformed_whole_numbers_name_the_setting(monkeypatch, value):
    monkeypatch.setenv("SOME_COUNT", value)
    with pytest.raises(ValueError, match="SOME_COUNT must be a whole number, at least 1"):
        whole_number_setting("SOME_COUNT", 3, minimum=1)


@pytest.mark.parametrize("value", ["often", "1.5", "-0.1"])
def test_probabilities_are_between_0_and_1(monkeypatch, value):
    monkeypatch.setenv("MACHINE_CRASH_PROBABILITY", value)
    with pytest.raises(ValueError, match="MACHINE_CRASH_PROBABILITY must be a probability between 0 and 1"):
        probability_setting("MACHINE_CRASH_PROBABILITY", 0.4)

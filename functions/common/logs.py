"""Loggers for pattern code."""

from __future__ import annotations

import logging

import restate


def pattern_logger(name: str) -> logging.Logger:
    """A logger that stays silent while a handler replays its journal, so each line appears once.

    On Lambda a handler re-runs from the top after every suspension (durable sleep, awaited call);
    a plain logger would repeat every line logged before that point.
    """
    logger: logging.Logger = restate.getLogger(name)  # type: ignore[no-untyped-call]
    return logger

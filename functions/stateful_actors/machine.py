"""The factory machine that MachineOperator drives: slow to change state, and flaky.

A transition takes ``MACHINE_TRANSITION_SECONDS`` of durable sleep: the Lambda
function suspends instead of waiting, and Restate wakes it up when the time is over.

The machine crashes now and then in the middle of a transition, as in Restate's own examples of
the pattern ("patterns-use-cases"): an ordinary exception, so Restate retries the invocation and
replays its journal. ``MACHINE_CRASH_MODE``
chooses how:

* ``random``: each attempt at a transition crashes with probability
  ``MACHINE_CRASH_PROBABILITY`` (its default as in those examples; see settings.py); ``0`` turns crashes off. On
  Lambda the attempt that resumes the handler after the sleep replays it from the start, so the
  crash can strike then too: the retry finds the sleep done in the journal and does not wait again.
* ``once``: every transition crashes exactly the first time an execution environment runs it,
  and goes through on the retry. Tests use it to get a crash they can count on, and it makes
  the retry visible on every call of a demo.

Why ``once`` can tell a first attempt from a retry at all: see ``functions/common/faults.py``.
"""

from __future__ import annotations

import logging
import random
from typing import Literal

import restate

from functions.common.faults import FailOncePerEnvironment
from functions.common.logs import pattern_logger
from functions.stateful_actors.settings import Settings

Direction = Literal["up", "down"]

SETTINGS = Settings.current()
TRANSITION_TIME = SETTINGS.transition_time
CRASH_MODE = SETTINGS.crash_mode
CRASH_PROBABILITY = SETTINGS.crash_probability

logger = pattern_logger(__name__)
crash_logger = logging.getLogger(f"{__name__}.crashes")
"""Not filtered: a crash is news even when it strikes while the handler replays its journal."""

_crash_once = FailOncePerEnvironment()


class MachineCrashed(Exception):
    """Not a TerminalError: Restate retries the invocation until the transition goes through."""


def should_crash(invocation_id: str) -> bool:
    if CRASH_MODE == "once":
        return _crash_once.should_fail(invocation_id)
    # Python's random, not ctx.random(): the latter is seeded per invocation, so a retry would
    # draw the same number and crash again, forever.
    return random.random() < CRASH_PROBABILITY


def maybe_crash(invocation_id: str, machine_id: str, direction: Direction) -> None:
    if should_crash(invocation_id):
        crash_logger.warning("A failure happened while %s was going %s!", machine_id, direction)
        raise MachineCrashed(f"machine {machine_id} crashed while going {direction}")


async def transition(ctx: restate.ObjectContext, direction: Direction) -> None:
    """Move the machine; returns once it is there, however many crashes it takes."""
    machine_id = ctx.key()
    logger.info("Beginning transition to %s: %s", direction, machine_id)
    maybe_crash(ctx.request().id, machine_id, direction)
    # Journaled: when the function resumes after the sleep it replays the code above, and a crash
    # then does not make the machine wait all over again - the retry finds the sleep done.
    await ctx.sleep(TRANSITION_TIME, name=f"transition to {direction}")
    logger.info("Done transitioning to %s: %s", direction, machine_id)

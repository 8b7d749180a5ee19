"""Simulated transient failures, to watch Restate retry one subtask without redoing the others.

``FANOUT_FLAKY_SUBTASKS`` lists subtask names (comma-separated, default none) whose work fails
with an ordinary exception the first time an execution environment works on them; the retry
goes through. The tests set it to get a failure they can count on; it stays out of the way
otherwise.

Why the memory of a failure lives in the execution environment: a handler cannot tell a first
attempt from a retry. The SDK does not expose Restate's retry count, and whatever the handler
journals before failing is replayed with the same values on the retry. On AWS a retry may land in
another execution environment, which then fails once too ("once per environment"); locally a retry
normally reuses the environment that just became idle.
"""

from __future__ import annotations

import logging
import os

FLAKY_SUBTASKS = frozenset(
    name.strip() for name in os.environ.get("FANOUT_FLAKY_SUBTASKS", "").split(",") if name.strip()
)

logger = logging.getLogger(__name__)

_failed_invocations: set[str] = set()
"""RunSubtask invocations that already failed in this execution environment."""


class SubtaskFailed(Exception):
    """Not a TerminalError: Restate retries the invocation."""


def fail_if_flaky(subtask: str, invocation_id: str) -> None:
    if subtask not in FLAKY_SUBTASKS or invocation_id in _failed_invocations:
        return
    _failed_invocations.add(invocation_id)
    logger.warning("Subtask %r failed (simulated transient failure); Restate retries it", subtask)
    raise SubtaskFailed(f"subtask {subtask!r} failed (simulated transient failure)")

"""Simulated transient failures, to watch Restate retry one subtask without redoing the others.

``FANOUT_FLAKY_SUBTASKS`` lists subtask names (comma-separated) whose work fails
with an ordinary exception the first time an execution environment works on them; the retry
goes through. The tests set it to get a failure they can count on; it stays out of the way
otherwise.

How a failure can happen only once without knowing the attempt number: see
``functions/common/faults.py``.
"""

from __future__ import annotations

import logging

from functions.common.faults import FailOncePerEnvironment
from functions.parallelize_work.settings import Settings

FLAKY_SUBTASKS = Settings.current().flaky_subtasks

logger = logging.getLogger(__name__)

_fail_once = FailOncePerEnvironment()


class SubtaskFailed(Exception):
    """Not a TerminalError: Restate retries the invocation."""


def fail_if_flaky(subtask: str, invocation_id: str) -> None:
    if subtask not in FLAKY_SUBTASKS or not _fail_once.should_fail(invocation_id):
        return
    logger.warning("Subtask %r failed (simulated transient failure); Restate retries it", subtask)
    raise SubtaskFailed(f"subtask {subtask!r} failed (simulated transient failure)")

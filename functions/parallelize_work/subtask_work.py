"""The work of one subtask, simulated: it keeps its execution environment busy for ``FANOUT_SUBTASK_SECONDS``.

Real work, not a durable sleep: a fan-out pays off exactly when each part keeps a machine busy. Each
line names the worker process, so the log shows the subtasks running side by side, each in its own
execution environment.
"""

from __future__ import annotations

import logging
import os
import time

from functions.parallelize_work.faults import fail_if_flaky
from functions.parallelize_work.settings import Settings

SUBTASK_TIME = Settings.current().subtask_time

# The work runs only once per attempt (never on replay), so a plain logger shows each line once.
logger = logging.getLogger(__name__)


def do_subtask_work(subtask: str, invocation_id: str) -> str:
    logger.info("Started subtask %r (worker pid %d)", subtask, os.getpid())
    fail_if_flaky(subtask, invocation_id)
    time.sleep(SUBTASK_TIME.total_seconds())
    logger.info("Finished subtask %r (worker pid %d)", subtask, os.getpid())
    return f"{subtask}: DONE"

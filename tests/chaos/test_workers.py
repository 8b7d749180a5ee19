"""Fault: Lambda execution environments killed with SIGKILL in the middle of a fan-out's subtasks.

Each subtask's worker is killed the moment its log line says the work started (the work takes
FANOUT_SUBTASK_SECONDS), so every subtask loses its first attempt half-way. Restate retries each
lost attempt on a fresh worker; the fan-out still completes, with every subtask's result once.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest

from local.stack import LocalStack
from tests.fault_figures import report_fault
from tests.polling import wait_until
from tests.stack.test_parallelize_work import log_since, work_events

pytestmark = pytest.mark.fault

SUBTASKS = 4


def kill_each_subtask_at_work(log: Path, offset: int, names: list[str]) -> dict[str, int]:
    """SIGKILLs the worker of each subtask's first attempt as soon as it starts; the pids it killed, by subtask."""
    killed: dict[str, int] = {}

    def kill_the_new_ones() -> dict[str, int]:
        for event in work_events(log_since(log, offset)):
            if event.event == "Started" and event.name in names and event.name not in killed:
                os.kill(event.pid, signal.SIGKILL)
                killed[event.name] = event.pid
        return killed

    wait_until(kill_the_new_ones, "every subtask's first attempt at work", accept=lambda done: len(done) == len(names))
    return killed


def test_workers_killed_mid_fan_out_still_give_every_subtask_result_exactly_once(stack: LocalStack, unique: str):
    assert stack.lambda_runtime is not None
    log = stack.lambda_runtime.log_path("parallelize_work")
    offset = log.stat().st_size
    names = [f"{unique}-{n}" for n in range(SUBTASKS)]

    sent = httpx.post(f"{stack.ingress_url}/FanOutWorker/Run/send", json={"description": ",".join(names)}, timeout=30)
    assert sent.status_code == 202, sent.text
    run_id = sent.json()["invocationId"]
    killed = kill_each_subtask_at_work(log, offset, names)
    result = httpx.get(f"{stack.ingress_url}/restate/invocation/{run_id}/attach", timeout=180)

    assert result.status_code == 200, result.text
    results = result.json()["description"].split(", ")
    work = Counter((event.event, event.name) for event in work_events(log_since(log, offset)))
    finished = {name: work[("Finished", name)] for name in names}
    lost = [name for name in names if f"{name}: DONE" not in results]
    duplicated = [name for name in names if results.count(f"{name}: DONE") > 1 or finished[name] > 1]
    order_kept = results == [f"{name}: DONE" for name in names]
    report_fault(
        "Lambda workers SIGKILLed in the middle of a fan-out",
        f"{len(killed)} workers killed at work; "
        f"done {len(names) - len(lost)}/{len(names)}, lost {len(lost)}, duplicated {len(duplicated)}, "
        f"order kept {order_kept}; attempts per subtask {[work[('Started', name)] for name in names]}",
    )
    assert (lost, duplicated, order_kept) == ([], [], True), (results, work)
    # Each subtask's work ran again after its worker died, and finished once.
    assert all(work[("Started", name)] >= 2 for name in names), work
    assert finished == dict.fromkeys(names, 1), work
    subtasks = stack.admin().query(
        f"SELECT status, completion_result FROM sys_invocation WHERE invoked_by_id = '{run_id}'"
    )
    assert [(row["status"], row["completion_result"]) for row in subtasks] == [("completed", "success")] * SUBTASKS

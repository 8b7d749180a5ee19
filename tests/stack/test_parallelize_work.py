"""FanOutWorker through Restate -> local Lambda runtime -> functions/parallelize_work.

Subtask work is logged by the handler ("Started/Finished subtask 'x' (worker pid N)"), with the
local runtime's timestamps: the tests read those lines to see when and where each subtask ran.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from local.demos.parallelize_work import run_demo, run_task
from tests.restate_queries import invocation_row
from tests.stack_setup import TEST_SETTINGS

SUBTASK_SECONDS = float(TEST_SETTINGS["FANOUT_SUBTASK_SECONDS"])
FLAKY = TEST_SETTINGS["FANOUT_FLAKY_SUBTASKS"]

WORK_LINE = re.compile(
    r"^\[INFO\]\t(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\t\S+\t"
    r"(?P<event>Started|Finished) subtask '(?P<name>[^']*)' \(worker pid (?P<pid>\d+)\)$"
)


@dataclass(frozen=True)
class WorkEvent:
    event: str
    name: str
    at: datetime
    pid: int


def log_since(path: Path, offset: int) -> list[str]:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").splitlines()


def work_events(lines: list[str]) -> list[WorkEvent]:
    events = []
    for line in lines:
        match = WORK_LINE.match(line)
        if match:
            at = datetime.strptime(match["time"], "%Y-%m-%d %H:%M:%S,%f")
            events.append(WorkEvent(match["event"], match["name"], at, int(match["pid"])))
    return events


def test_run_returns_every_subtask_result_each_from_its_own_invocation(ingress, admin, unique):
    names = [f"{unique}-{n}" for n in range(3)]
    response = ingress.post("/FanOutWorker/Run", json={"description": ",".join(names)})
    assert response.status_code == 200, response.text
    assert response.json() == {"description": ", ".join(f"{name}: DONE" for name in names)}

    run_id = response.headers["x-restate-id"]
    subtasks = admin.query(
        "SELECT target_handler_name, status FROM sys_invocation "
        f"WHERE invoked_by_id = '{run_id}' AND target_service_name = 'FanOutWorker'"
    )
    assert [(row["target_handler_name"], row["status"]) for row in subtasks] == [("RunSubtask", "completed")] * 3


def test_subtasks_run_in_parallel_in_separate_execution_environments(stack, unique):
    count = 4
    # Cold starts are Lambda's init phase, not the fan-out: warm `count` execution environments first.
    run_task(stack.ingress_url, ",".join(f"{unique}-warm-{n}" for n in range(count)))
    log = stack.lambda_runtime.log_path("parallelize_work")
    offset = log.stat().st_size
    names = [f"{unique}-{n}" for n in range(count)]

    started = time.monotonic()
    result = run_task(stack.ingress_url, ",".join(names))
    elapsed = time.monotonic() - started

    assert result == ", ".join(f"{name}: DONE" for name in names)
    events = work_events(log_since(log, offset))
    starts = {e.name: e for e in events if e.event == "Started"}
    ends = {e.name: e for e in events if e.event == "Finished"}
    assert starts.keys() == ends.keys() == set(names), events
    # Every subtask had started before the first one finished: all of them were working at once...
    assert max(e.at for e in starts.values()) < min(e.at for e in ends.values()), events
    # ...each in an execution environment of its own.
    assert len({e.pid for e in starts.values()}) == count, events
    # One after the other they would take count * SUBTASK_SECONDS.
    assert elapsed < count * SUBTASK_SECONDS / 2, f"{count} subtasks of {SUBTASK_SECONDS} s took {elapsed:.1f} s"


def test_a_failing_subtask_is_retried_without_redoing_the_others(stack, unique):
    log = stack.lambda_runtime.log_path("parallelize_work")
    offset = log.stat().st_size
    steady = [f"{unique}-1", f"{unique}-2"]

    result = run_task(stack.ingress_url, ",".join([steady[0], FLAKY, steady[1]]))

    assert result == f"{steady[0]}: DONE, {FLAKY}: DONE, {steady[1]}: DONE"
    lines = log_since(log, offset)
    failures = sum(
        1
        for line in lines
        if line.endswith(f"Subtask '{FLAKY}' failed (simulated transient failure); Restate retries it")
    )
    work = Counter((e.event, e.name) for e in work_events(lines))
    assert failures >= 1
    assert (work[("Started", FLAKY)], work[("Finished", FLAKY)]) == (failures + 1, 1)
    for name in steady:
        assert (work[("Started", name)], work[("Finished", name)]) == (1, 1)


def test_demo_runs_a_b_c(stack):
    assert "'a: DONE, b: DONE, c: DONE'" in run_demo(stack.ingress_url)


@pytest.mark.parametrize(
    ("handler", "payload", "expected"),
    [
        ("Run", {"description": ""}, "description: names no subtask"),
        ("Run", {"description": "a,,b"}, "description: subtask 2 of 3 has an empty name"),
        ("Run", {"description": "a, "}, "description: subtask 2 of 2 has an empty name"),
        ("Run", {"description": 5}, "description: Input should be a valid string"),
        ("Run", {}, "description: Field required"),
        ("RunSubtask", {"description": ""}, "description: String should have at least 1 character"),
        ("RunSubtask", {"description": "  "}, "description: String should have at least 1 character"),
    ],
)
def test_bad_input_is_a_terminal_400_naming_the_field(ingress, admin, handler, payload, expected):
    response = ingress.post(f"/FanOutWorker/{handler}", json=payload)
    assert response.status_code == 400, response.text
    assert expected in response.json()["message"]
    # Completed with a failure at the first attempt: a retried invocation would be `backing-off`.
    row = invocation_row(admin, response.headers["x-restate-id"])
    assert (row["status"], row["completion_result"]) == ("completed", "failure")
    assert row["completion_failure"].startswith("[400]")

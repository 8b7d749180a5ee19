"""MachineOperator through Restate -> local Lambda runtime -> functions/stateful_actors.

The suite runs with ``MACHINE_CRASH_MODE=once`` (tests/conftest.py): every transition crashes the
first time and goes through on Restate's retry, so each test below also runs through crashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from local.demos.stateful_actors import attach_to_invocations, run_demo, send_machine_calls


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def ids_in(invocation_ids: list[str]) -> str:
    return ", ".join(f"'{invocation_id}'" for invocation_id in invocation_ids)


def invocation_intervals(admin, invocation_ids: list[str]) -> dict[str, Interval]:
    """When Restate started running each invocation and when it completed it."""
    rows = admin.query(
        f"SELECT id, running_at, completed_at FROM sys_invocation WHERE id IN ({ids_in(invocation_ids)})"
    )
    return {row["id"]: Interval(timestamp(row["running_at"]), timestamp(row["completed_at"])) for row in rows}


def transition_intervals(admin, invocation_ids: list[str]) -> dict[str, Interval]:
    """Each transition's durable sleep as Restate journaled it: from the sleep's start to its wake-up."""
    rows = admin.query(
        f"SELECT id, entry_type, appended_at FROM sys_journal WHERE id IN ({ids_in(invocation_ids)}) "
        "AND entry_type IN ('Command: Sleep', 'Notification: Sleep')"
    )
    starts = {row["id"]: timestamp(row["appended_at"]) for row in rows if row["entry_type"] == "Command: Sleep"}
    ends = {row["id"]: timestamp(row["appended_at"]) for row in rows if row["entry_type"] == "Notification: Sleep"}
    assert starts.keys() == ends.keys(), rows
    return {invocation_id: Interval(starts[invocation_id], ends[invocation_id]) for invocation_id in starts}


def status_of(admin, machine_id: str) -> Any:
    rows = admin.query(
        "SELECT value_utf8 FROM state WHERE service_name = 'MachineOperator' "
        f"AND service_key = '{machine_id}' AND key = 'status'"
    )
    return [row["value_utf8"] for row in rows]


def log_lines_since(path: Path, offset: int) -> list[str]:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").splitlines()


def test_five_calls_sent_at_once_run_in_order_per_machine_and_machines_in_parallel(stack, admin, unique):
    a, b = f"a-{unique}", f"b-{unique}"
    calls = [(a, "SetUp"), (a, "TearDown"), (b, "SetUp"), (b, "SetUp"), (b, "TearDown")]
    # Sent one after the other, so they are queued per machine in this order before any has finished.
    invocation_ids = send_machine_calls(stack.ingress_url, calls)
    answers = attach_to_invocations(stack.ingress_url, invocation_ids, timeout=120)
    assert answers == [
        f"{a} is now up",
        f"{a} is now down",
        f"{b} is now up",
        f"{b} is already up, so nothing to do",
        f"{b} is now down",
    ]
    a_setup, a_teardown, b_setup, b_setup_again, b_teardown = invocation_ids

    # One call at a time per machine: each started only after the one sent before it had completed.
    ran = invocation_intervals(admin, invocation_ids)
    for earlier, later in [(a_setup, a_teardown), (b_setup, b_setup_again), (b_setup_again, b_teardown)]:
        assert ran[earlier].end <= ran[later].start, (ran[earlier], ran[later])

    # The machines in parallel: a's transitions and b's transitions overlap in time.
    transitions = transition_intervals(admin, invocation_ids)
    assert transitions.keys() == {a_setup, a_teardown, b_setup, b_teardown}  # "already up" makes no transition
    a_busy = Interval(transitions[a_setup].start, transitions[a_teardown].end)
    b_busy = Interval(transitions[b_setup].start, transitions[b_teardown].end)
    assert a_busy.overlaps(b_busy), (a_busy, b_busy)
    assert not transitions[a_setup].overlaps(transitions[a_teardown])
    assert not transitions[b_setup].overlaps(transitions[b_teardown])


def test_a_crash_in_a_transition_is_retried_and_the_status_is_right_after(stack, ingress, admin, unique):
    machine_id = f"m-{unique}"
    log = stack.lambda_runtime.log_path("stateful_actors")
    offset = log.stat().st_size

    up = ingress.post(f"/MachineOperator/{machine_id}/SetUp")
    assert up.json() == f"{machine_id} is now up"
    assert status_of(admin, machine_id) == ['"UP"']
    down = ingress.post(f"/MachineOperator/{machine_id}/TearDown")
    assert down.json() == f"{machine_id} is now down"
    assert status_of(admin, machine_id) == ['"DOWN"']

    lines = log_lines_since(log, offset)
    for direction in ("up", "down"):
        crashes = [
            i for i, line in enumerate(lines) if f"A failure happened while {machine_id} was going {direction}!" in line
        ]
        done = [i for i, line in enumerate(lines) if line.endswith(f"Done transitioning to {direction}: {machine_id}")]
        assert crashes, f"no crash going {direction}"
        assert len(done) == 1 and crashes[0] < done[0], (crashes, done)
    # The retries replayed the journal: one durable sleep per transition, however many attempts.
    for response in (up, down):
        invocation_id = response.headers["x-restate-id"]
        sleeps = admin.query(
            f"SELECT index FROM sys_journal WHERE id = '{invocation_id}' AND entry_type = 'Command: Sleep'"
        )
        assert len(sleeps) == 1, sleeps


def test_tear_down_of_a_machine_that_is_not_up_changes_nothing(ingress, admin, unique):
    machine_id = f"m-{unique}"
    response = ingress.post(f"/MachineOperator/{machine_id}/TearDown")
    assert response.json() == f"{machine_id} is not up, cannot tear down"
    assert status_of(admin, machine_id) == []


def test_a_request_body_is_refused_with_400(ingress, unique):
    response = ingress.post(f"/MachineOperator/m-{unique}/SetUp", json={"unexpected": True})
    assert response.status_code == 400, response.text


def test_demo_runs_the_example_scenario(stack):
    assert "in order" in run_demo(stack.ingress_url)

"""Which processes a local stack (a harness kept in a folder) started, kept there, so that a new start can clean up.

The guard (:mod:`restate_lambda.local.guard`) already ends a stack's servers when the stack process dies. This is
the second line: ``<state dir>/stack.json`` names the stack process and the process group of each
server it started, each with its start time. A new stack on the same state dir refuses to start
while the recorded stack process still runs, and otherwise kills what is left of the recorded
groups. Only recorded processes are touched, never processes found by name, and a pid is trusted
only with the start time recorded for it (the kernel reuses pids).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

LEFTOVER_PATIENCE_SECONDS = 10.0


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_time = fields[0], fields[19]
    return None if state == "Z" else int(start_time)


@dataclass(frozen=True)
class RecordedProcess:
    pid: int
    started: int

    @classmethod
    def of(cls, pid: int) -> RecordedProcess | None:
        started = process_start_time(pid)
        return None if started is None else cls(pid, started)

    def alive(self) -> bool:
        return process_start_time(self.pid) == self.started


class StackRecord:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "stack.json"

    def claim(self) -> list[int]:
        """Take the state dir for this process; the pids of leftover groups killed on the way.

        Raises RuntimeError while another live stack process holds it.
        """
        owner, groups = self._read()
        if owner is not None and owner.pid != os.getpid() and owner.alive():
            raise RuntimeError(
                f"another local stack (pid {owner.pid}) is running on {self.path.parent}: stop it first "
                f"(Ctrl-C in its terminal, or kill {owner.pid})"
            )
        leftovers = [group for group in groups if group.alive()]
        for group in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group.pid, signal.SIGKILL)
        deadline = time.monotonic() + LEFTOVER_PATIENCE_SECONDS
        while any(group.alive() for group in leftovers) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.save([])
        return [group.pid for group in leftovers]

    def save(self, group_leaders: list[int]) -> None:
        """Record this process as the owner, with the process groups (by leader pid) it started."""
        recorded = [process for pid in group_leaders if (process := RecordedProcess.of(pid)) is not None]
        owner = RecordedProcess.of(os.getpid())
        assert owner is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"stack": owner.__dict__, "groups": [process.__dict__ for process in recorded]}, indent=2)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(self.path)  # a crash mid-write must not leave half a record

    def server_groups(self) -> list[RecordedProcess]:
        """The process groups the recorded stack started (empty when there is no record)."""
        return self._read()[1]

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def _read(self) -> tuple[RecordedProcess | None, list[RecordedProcess]]:
        try:
            data = json.loads(self.path.read_text())
            owner = RecordedProcess(**data["stack"])
            groups = [RecordedProcess(**group) for group in data["groups"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None, []
        return owner, groups

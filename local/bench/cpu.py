"""CPU time of process trees, read from Linux ``/proc``: where the bench's two cores went on each side."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessInfo:
    parent: int
    cpu_seconds: float
    command: bytes


def process_table() -> dict[int, ProcessInfo]:
    """Every process on the machine with its parent and the CPU time it used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        # The command name in parentheses may hold spaces; the fields after it are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = ProcessInfo(int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command)
    return table


def tree_cpu_seconds(table: Mapping[int, ProcessInfo], root: int) -> float:
    """CPU time of ``root`` and everything it started that still runs."""
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info.parent, []).append(pid)
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += table[pid].cpu_seconds if pid in table else 0.0
        pending += children.get(pid, [])
    return total


def busy_and_total_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far, all cores: those spent busy, and all of them (``/proc/stat``)."""
    # user nice system idle iowait irq softirq steal; guest time is already part of user.
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def idle_share(seconds: float) -> float:
    """The share of the machine's CPU (all cores) that stayed idle over the next ``seconds``."""
    busy_before, total_before = busy_and_total_ticks()
    time.sleep(seconds)
    busy_after, total_after = busy_and_total_ticks()
    total = total_after - total_before
    return 1 - (busy_after - busy_before) / total if total else 1.0


def wait_for_quiet_machine(at_least_idle: float, window_seconds: float, timeout: float) -> tuple[float, float]:
    """Until one window of ``window_seconds`` leaves ``at_least_idle`` of the CPU idle, or ``timeout`` passes.

    The waited seconds and the last window's idle share: a timeout is not an error, the caller reports it.
    """
    started = time.monotonic()
    while True:
        idle = idle_share(window_seconds)
        waited = time.monotonic() - started
        if idle >= at_least_idle or waited >= timeout:
            return waited, idle

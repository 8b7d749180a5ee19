"""CPU time of process trees, read from Linux ``/proc``: where the bench's two cores went on each side."""

from __future__ import annotations

import os
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

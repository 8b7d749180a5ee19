"""What `make bench` does with its measurements: REPORT lines, Lambda cost, figures with goals, table and JSON.

Nothing here measures or starts anything, so tests/unit/test_bench.py runs it on fixtures.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ARM64_USD_PER_GB_SECOND = 0.0000133334
USD_PER_MILLION_REQUESTS = 0.20
PRICES_SOURCE = "AWS Lambda public prices, arm64, us-east-1, first tier, as of 2026-12 (quoted in issue 12)"
PER_INVOCATION_OVERHEADS_MS = (5, 15, 30)
"""What one Lambda invocation may add on AWS beyond the local runtime (network, Invoke API, Firecracker)."""

REPORT_LINE = re.compile(
    r"REPORT RequestId: (?P<request_id>\S+)\tDuration: (?P<duration>[0-9.]+) ms"
    r"\tBilled Duration: (?P<billed>[0-9]+) ms\tMemory Size: (?P<memory>[0-9]+) MB"
    r"\tMax Memory Used: (?P<max_memory>[0-9]+) MB(?:\tInit Duration: (?P<init>[0-9.]+) ms)?"
)


@dataclass(frozen=True)
class Report:
    """One invocation, as Lambda's REPORT line tells it."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int
    init_ms: float | None = None


def parse_reports(text: str) -> list[Report]:
    """Every REPORT line in a function log; other lines (START, END, the handler's own) are skipped."""
    reports = []
    for line in text.splitlines():
        match = REPORT_LINE.fullmatch(line.strip())
        if match is None:
            continue
        reports.append(
            Report(
                request_id=match["request_id"],
                duration_ms=float(match["duration"]),
                billed_ms=int(match["billed"]),
                memory_mb=int(match["memory"]),
                max_memory_used_mb=int(match["max_memory"]),
                init_ms=float(match["init"]) if match["init"] else None,
            )
        )
    return reports


def lambda_cost_usd(reports: Iterable[Report]) -> float:
    """What these invocations cost at the arm64 prices: GB-seconds billed at each one's memory, plus requests."""
    reports = list(reports)
    gb_seconds = sum(report.billed_ms / 1000 * report.memory_mb / 1024 for report in reports)
    return gb_seconds * ARM64_USD_PER_GB_SECOND + len(reports) * USD_PER_MILLION_REQUESTS / 1_000_000


def usd_per_million_runs(reports: Iterable[Report], runs: int = 1) -> float:
    return lambda_cost_usd(reports) / runs * 1_000_000


def projected_latency_ms(measured_ms: float, invocations: float) -> dict[str, float]:
    """The measured latency plus ``invocations`` times each per-invocation overhead, keyed by the overhead."""
    return {str(overhead): measured_ms + invocations * overhead for overhead in PER_INVOCATION_OVERHEADS_MS}


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


def round_ratios(numerators: Iterable[float], denominators: Iterable[float]) -> list[float]:
    """Round by round, one side's figure ÷ the other's in the same round."""
    return [ratio(mine, theirs) for mine, theirs in zip(numerators, denominators, strict=True)]


def growth_curve(measured: Mapping[int, float], unit: float) -> dict[str, float]:
    """How a figure grows with the work: each amount's figure ÷ ``unit``, keyed by the amount (as JSON keys are).

    ``{1: 1.1, 200: 3.4}`` over one subtask's 1 s is ``{"1": 1.1, "200": 3.4}``; rates over 10, 100
    and 1,000 keys ÷ the rate over 10 keys start at 1.
    """
    return {str(amount): ratio(value, unit) for amount, value in sorted(measured.items())}


@dataclass(frozen=True)
class Goal:
    limit: float
    bound: Literal["at most", "at least"]

    def met_by(self, value: float) -> bool:
        return value <= self.limit if self.bound == "at most" else value >= self.limit

    def text(self, unit: str) -> str:
        sign = "<=" if self.bound == "at most" else ">="
        return f"{sign} {format_value(self.limit, unit)}"


def at_most(limit: float) -> Goal:
    return Goal(limit, "at most")


def at_least(limit: float) -> Goal:
    return Goal(limit, "at least")


@dataclass(frozen=True)
class Figure:
    """One line of the table. ``value`` None means the measurement failed; ``note`` says why or what dominates."""

    name: str
    value: float | None
    unit: str = "x"
    goal: Goal | None = None
    note: str = ""

    @property
    def status(self) -> str:
        if self.goal is None:
            return "-" if self.value is not None else "FAIL"
        return "ok" if self.value is not None and self.goal.met_by(self.value) else "MISS"

    @property
    def missed(self) -> bool:
        return self.status in ("MISS", "FAIL")


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "error"
    if math.isinf(value):
        return "inf"
    match unit:
        case "x":
            return f"{value:.2f}"
        case "ms":
            return f"{value:.1f} ms"
        case "MB":
            return f"{value:.2f} MB"
        case "USD":
            return f"${value:.2f}"
        case "/s":
            return f"{value:.0f}/s"
        case "%":
            return f"{value:.1f} %"
        case "M":
            return f"{value:.0f} M"
        case _:
            return f"{value:g}{unit}"


def render_table(figures: Sequence[Figure]) -> str:
    name_width = max((len(figure.name) for figure in figures), default=10)
    lines = [f"{'figure':<{name_width}}  {'value':>12}  {'goal':>12}  status"]
    for figure in figures:
        goal = figure.goal.text(figure.unit) if figure.goal else "-"
        line = (
            f"{figure.name:<{name_width}}  {format_value(figure.value, figure.unit):>12}  {goal:>12}  {figure.status}"
        )
        lines.append(f"{line:<{name_width + 36}}  {figure.note}".rstrip())
    return "\n".join(lines)


def figures_as_json(figures: Iterable[Figure]) -> list[dict[str, Any]]:
    """The table's lines as the results JSON keeps them, for ``make docs`` to table again."""
    return [
        {
            "name": figure.name,
            "value": figure.value,
            "unit": figure.unit,
            "goal": figure.goal.text(figure.unit) if figure.goal else None,
            "status": figure.status,
            "note": figure.note,
        }
        for figure in figures
    ]


def missed_goals(figures: Iterable[Figure]) -> list[str]:
    return [f"{figure.name}: {format_value(figure.value, figure.unit)}" for figure in figures if figure.missed]


def write_results(path: Path, results: Mapping[str, Any]) -> None:
    """The results as JSON, written whole or not at all; a figure that could not be measured is null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(_finite_or_null(results), indent=2, allow_nan=False) + "\n")
    staged.replace(path)


def _finite_or_null(value: Any) -> Any:
    # JSON has no infinity: a ratio over a zero is no figure at all.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value

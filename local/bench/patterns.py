"""Per-pattern measurements of `make bench` on the Lambda side: demo runs and cold starts."""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime

from functions.catalog import Pattern
from local.bench.cpu import wait_for_quiet_machine
from local.bench.report import Report, parse_reports, round_ratios
from local.bench.stack import LambdaSide
from local.demo import demo_of


def error_text(error: BaseException) -> str:
    """One line of the table: a multi-line message (a log tail) flattened and cut."""
    return " | ".join(line.strip() for line in f"{type(error).__name__}: {error}".splitlines() if line.strip())[:300]


@dataclass
class DemoRun:
    pattern: str
    wall_ms: float
    reports: list[Report]
    summary: str = ""
    error: str = ""


def run_demo(name: str, ingress_url: str, kafka_bootstrap: str) -> str:
    """``local/demos/<name>.py`` as `make demo` runs it, pointed at this stack's Kafka when it produces records."""
    scenario = cast(Callable[..., str], demo_of(name))
    if "bootstrap" in inspect.signature(scenario).parameters:
        return scenario(ingress_url, bootstrap=kafka_bootstrap)
    return scenario(ingress_url)


def run_demos(side: LambdaSide, patterns: Sequence[Pattern]) -> list[DemoRun]:
    """Each pattern's demo once; its invocations are every REPORT line until Restate has nothing left to do."""
    runs = []
    for pattern in patterns:
        side.meter.mark()
        started = time.perf_counter()
        summary, error = "", ""
        try:
            summary = run_demo(pattern.name, side.ingress_url, side.kafka_bootstrap)
        except Exception as failure:  # noqa: BLE001 - one failing demo must not stop the others' figures
            error = error_text(failure)
        wall_ms = (time.perf_counter() - started) * 1000
        # Reminders and retries the demo left behind belong to its run, not to the next one's.
        if not side.wait_until_idle():
            error = error or "Restate still had unfinished invocations after 120 s"
        runs.append(DemoRun(pattern.name, wall_ms, side.meter.reports(), summary, error))
        print(f"  demo {pattern.name:<18} {'FAIL ' + error if error else summary}", flush=True)
    return runs


@dataclass
class ColdStart:
    name: str
    samples_ms: list[float] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    note: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def median_init_ms(self) -> float:
        return statistics.median(report.init_ms or 0.0 for report in self.reports) if self.reports else 0.0

    @property
    def median_first_invocation_ms(self) -> float:
        return statistics.median(report.duration_ms for report in self.reports) if self.reports else 0.0

    def ratios(self, reference: ColdStart) -> list[float]:
        """Round by round, this cold start ÷ ``reference``'s."""
        return round_ratios(self.samples_ms, reference.samples_ms)

    def over(self, reference: ColdStart) -> float:
        """This cold start ÷ ``reference``'s, as the median of the rounds' ratios: each round's two side by side.

        A ratio of the two medians would also divide one busy moment of the machine by another one's:
        taken round by round, a slow stretch that both subjects of a round ran in cancels out.
        """
        return statistics.median(self.ratios(reference))

    def spread_over(self, reference: ColdStart) -> str:
        """The quartiles of the rounds' ratios to ``reference``: how far one round's ratio may be from the median."""
        ratios = self.ratios(reference)
        if len(ratios) < 2:
            return f"{len(ratios)} round"
        low, _, high = statistics.quantiles(ratios, n=4)
        return f"quartiles {low:.2f} to {high:.2f} over {len(ratios)} rounds"


QUIET_IDLE = 0.8
"""A round of cold starts begins once this share of the machine's CPU stayed idle for ``QUIET_WINDOW_SECONDS``,
so that no other work on this machine (the bench's own servers, a test run beside it) shares a round's cores.

It does not make rounds alike: in a full run whose rounds began at 98 % idle, the empty app still took
173 to 221 ms to init from one round to the next, and the same loop run alone gave it a median of 130 ms
at one moment and 183 ms an hour later. The host's other guests do not show in here; the ratios are
taken round by round for them (:meth:`ColdStart.over`).
"""
QUIET_WINDOW_SECONDS = 0.5
QUIET_TIMEOUT_SECONDS = 20.0


@dataclass
class ColdStarts:
    by_subject: dict[str, ColdStart]
    quiet_waits: list[tuple[float, float]] = field(default_factory=list)
    """Per round: the seconds waited for a quiet machine, and the idle share of CPU it began at."""

    def describe_waits(self) -> str:
        # Every round spends one window measuring; only what went on after it is waiting for the machine.
        waited = sum(max(0.0, seconds - QUIET_WINDOW_SECONDS) for seconds, _ in self.quiet_waits)
        idle = statistics.median(share for _, share in self.quiet_waits) if self.quiet_waits else 1.0
        timed_out = sum(1 for _, share in self.quiet_waits if share < QUIET_IDLE)
        began_busy = f", {timed_out} began busy after {QUIET_TIMEOUT_SECONDS:.0f} s" if timed_out else ""
        return f"rounds began at a median {idle:.0%} idle CPU, after {waited:.0f} s of waiting in all{began_busy}"


def cold_starts(
    runtime: LocalLambdaRuntime, subjects: Mapping[str, tuple[FunctionSpec, Any]], repetitions: int
) -> ColdStarts:
    """Per subject: a new execution environment of its function answering ``event``, timed from the process start.

    Each time the function is published anew (no idle worker to reuse) and deleted after its one
    invocation. The subjects take turns, each round in another order, so that a busy moment of the
    machine is shared among them; a first round, not counted, brings their files into the page cache.
    Each round waits for a quiet machine first (:data:`QUIET_IDLE`).
    """
    run = ColdStarts({name: ColdStart(name) for name in subjects})
    measured = run.by_subject
    names = list(subjects)
    for round_number in range(repetitions + 1):
        waited = wait_for_quiet_machine(QUIET_IDLE, QUIET_WINDOW_SECONDS, QUIET_TIMEOUT_SECONDS)
        if round_number:
            run.quiet_waits.append(waited)
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            spec, event = subjects[name]
            arn = runtime.publish_version(spec)
            try:
                started = time.perf_counter()
                result = runtime.invoke(arn, event)
                elapsed_ms = (time.perf_counter() - started) * 1000
            finally:
                runtime.delete_function(spec.name)
            log = runtime.log_dir / f"{spec.name}.log"
            if round_number:
                measured[name].samples_ms.append(elapsed_ms)
                measured[name].reports.append(parse_reports(log.read_text())[-1])
            if result.status != 200:
                measured[name].note = f"answered HTTP {result.status}"
            elif "X-Amz-Function-Error" in result.headers:
                measured[name].note = "answered with a function error"
    return run

"""Per-pattern measurements of `make bench` on the Lambda side: demo runs, cold starts, fan-out, Kafka."""

from __future__ import annotations

import inspect
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime
from restate_lambda.registration.admin import SubscriptionSpec

from functions.catalog import SUBSCRIPTION_OPTIONS, Pattern
from local.bench_report import Report, parse_reports
from local.bench_stack import WARM_STEP, LambdaSide
from local.demo import demo_of
from local.produce import ensure_topics, produce
from local.stack import KAFKA_CLUSTER


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


def cold_starts(
    runtime: LocalLambdaRuntime, subjects: Mapping[str, tuple[FunctionSpec, Any]], repetitions: int
) -> dict[str, ColdStart]:
    """Per subject: a new execution environment of its function answering ``event``, timed from the process start.

    Each time the function is published anew (no idle worker to reuse) and deleted after its one
    invocation. The subjects take turns, each round in another order, so that a busy moment of the
    machine is shared among them; a first round, not counted, brings their files into the page cache.
    """
    measured = {name: ColdStart(name) for name in subjects}
    names = list(subjects)
    for round_number in range(repetitions + 1):
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
    return measured


@dataclass(frozen=True)
class FanOut:
    walls_seconds: list[float]
    invocations_per_run: float

    @property
    def median_wall_seconds(self) -> float:
        return statistics.median(self.walls_seconds)


def task_of(subtasks: int) -> dict[str, str]:
    return {"description": ",".join(f"part{number}" for number in range(subtasks))}


def fan_out(side: LambdaSide, spec: FunctionSpec, subtasks: int, runs: int, timeout: float = 300.0) -> FanOut:
    """``runs`` timed runs of ``subtasks`` subtasks, after untimed ones of growing size.

    The untimed runs start the execution environments, as provisioned concurrency would on AWS,
    :data:`WARM_STEP` more at a time.
    """
    side.deploy(spec)
    task = task_of(subtasks)
    walls = []
    try:
        with httpx.Client(base_url=side.ingress_url, timeout=timeout) as client:
            for size in range(WARM_STEP, subtasks + WARM_STEP, WARM_STEP):
                client.post("/FanOutWorker/Run", json=task_of(min(size, subtasks))).raise_for_status()
                side.wait_until_idle()
            side.meter.mark()
            for _ in range(runs):
                started = time.perf_counter()
                answer = client.post("/FanOutWorker/Run", json=task)
                walls.append(time.perf_counter() - started)
                answer.raise_for_status()
                done = answer.json()["description"].count(": DONE")
                if done != subtasks:
                    raise RuntimeError(f"{done} of {subtasks} subtasks reported DONE")
                side.wait_until_idle()
        return FanOut(walls, side.meter.count([spec.name]) / runs)
    finally:
        side.retire(spec.name)


@dataclass(frozen=True)
class KafkaRun:
    events: int
    seconds: float
    keys_in_order: int
    keys: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def order_kept_percent(self) -> float:
        return 100.0 * self.keys_in_order / self.keys


TALLY_TOPIC = "bench-tally"


def kafka_events(side: LambdaSide, spec: FunctionSpec, events: int, keys: int, timeout: float = 300.0) -> KafkaRun:
    """``events`` records over ``keys`` keys through a subscription to ``Tally/Add``, which keeps each key's records.

    One record per key first, untimed and a few keys more at a time: the execution environments
    every key may need are started then.
    """
    side.deploy(spec)
    try:
        ensure_topics(side.kafka_bootstrap, [TALLY_TOPIC])
        side.admin().create_subscription(
            SubscriptionSpec(
                source=f"kafka://{KAFKA_CLUSTER}/{TALLY_TOPIC}",
                sink="service://Tally/Add",
                options={**SUBSCRIPTION_OPTIONS, "group.id": "bench.tally"},
            )
        )
        for warmed in range(WARM_STEP, keys + WARM_STEP, WARM_STEP):
            side.meter.mark()
            warm_keys = [f"warm-{key}" for key in range(min(warmed, keys))]
            produce(side.kafka_bootstrap, TALLY_TOPIC, [(key, json.dumps("warm")) for key in warm_keys])
            wait_for_invocations(side, spec.name, len(warm_keys), timeout)
            side.wait_until_idle()

        per_key = events // keys
        names = [f"key-{key}" for key in range(keys)]
        side.meter.mark()
        started = time.monotonic()
        # Keys interleaved, so that order per key means something: every key's records are spread over the topic.
        produce(
            side.kafka_bootstrap, TALLY_TOPIC, [(name, json.dumps(str(n))) for n in range(per_key) for name in names]
        )
        finished = wait_for_invocations(side, spec.name, per_key * keys, timeout)
        with httpx.Client(base_url=side.ingress_url, timeout=60) as client:
            expected = [str(n) for n in range(per_key)]
            while True:
                seen = {name: client.post(f"/Tally/{name}/Seen").json() for name in names}
                if all(len(records) >= per_key for records in seen.values()) or time.monotonic() > started + timeout:
                    break
                time.sleep(0.5)
                finished = time.monotonic()
        in_order = sum(records == expected for records in seen.values())
        return KafkaRun(per_key * keys, finished - started, in_order, keys)
    finally:
        side.retire(spec.name)


def wait_for_invocations(side: LambdaSide, function: str, count: int, timeout: float) -> float:
    """When ``function`` had ``count`` invocations since the mark (``time.monotonic()``)."""
    deadline = time.monotonic() + timeout
    while side.meter.count([function]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{function}: {side.meter.count([function])} of {count} invocations after {timeout:g} s")
        time.sleep(0.05)
    return time.monotonic()

"""How cost grows with work, for `make bench`: fan-outs of growing size, Kafka events over growing key counts.

* **Fan-out** (:func:`fan_out`): ``FanOutWorker/Run`` over 1 to 200 subtasks of 1 s each, wall time ÷
  1 s. Every subtask is an invocation of its own, in an execution environment of its own, so the
  ideal is 1 at every size; what is above it is Restate and the runtime starting N invocations,
  answering them, and replaying ``Run`` as their answers come.
* **Kafka** (:func:`kafka_events`): the same number of events over 10, 100 and 1,000 keys through a
  subscription to a virtual object, events per second ÷ the rate over the fewest keys. A key's
  events run one after the other; different keys' at once, up to the function's concurrency.

The amounts take turns in the same run, and each notes the CPU it used: on two shared cores, that
is what the curves come down to. The third curve, 3 nodes ÷ 1, is measured in the rounds of the
Lambda ÷ HTTP/2 comparison (:mod:`local.bench.compare`).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from restate_lambda.local.lambda_runtime import FunctionSpec
from restate_lambda.registration.admin import SubscriptionSpec

from functions.catalog import SUBSCRIPTION_OPTIONS
from local.bench.load import turns
from local.bench.report import Figure, at_least, at_most, growth_curve
from local.bench.stack import WARM_STEP, LambdaSide
from local.produce import ensure_topics, produce
from local.stack import KAFKA_CLUSTER

FANOUT_SUBTASK_SECONDS = 1.0
FANOUT_GOAL_SUBTASKS = 100
"""The fan-out the goal is for; the other sizes are points of the curve."""
FANOUT_CONCURRENCY = 256
"""Execution environments parallelize_work may have: the largest fan-out's 200 subtasks at once, and
``Run`` replayed as their answers come, with room to spare."""
FANOUT_RATIO = at_most(3)
KAFKA_GOAL_KEYS = 100
"""The key count the rate goal is for (issue 12's 10,000 events over 100 keys)."""
KAFKA_CONCURRENCY = 100
"""Execution environments the tally function may have, whatever the keys: more keys than that wait
for one, as under a reserved concurrency on AWS. A thousand Python processes would not fit here."""
KAFKA_RATE, KAFKA_ORDER = at_least(500), at_least(100)
TALLY_HANDLER = "tests.lambda_functions.versioned.app"
TALLY_TOPIC = "bench-tally"


def total_cpu_seconds(side: LambdaSide) -> float:
    return sum(side.cpu_seconds().values())


@dataclass(frozen=True)
class FanOut:
    walls_seconds: dict[int, list[float]]
    """Per number of subtasks, the wall time of each timed run."""
    invocations: dict[int, list[int]]
    """Per number of subtasks, the Lambda invocations of each timed run."""
    cpu_seconds: dict[int, list[float]]
    """Per number of subtasks, the CPU of each timed run: Restate, the runtime and the workers."""

    def median_wall_seconds(self, subtasks: int) -> float:
        return statistics.median(self.walls_seconds[subtasks])

    def invocations_per_run(self, subtasks: int) -> float:
        return statistics.mean(self.invocations[subtasks])

    def cpu_ms_per_subtask(self, subtasks: int) -> float:
        return statistics.mean(self.cpu_seconds[subtasks]) * 1000 / subtasks

    def curve(self) -> dict[str, float]:
        """Wall time ÷ one subtask's 1 s, per number of subtasks."""
        walls = {size: self.median_wall_seconds(size) for size in self.walls_seconds}
        return growth_curve(walls, FANOUT_SUBTASK_SECONDS)


def task_of(subtasks: int) -> dict[str, str]:
    return {"description": ",".join(f"part{number}" for number in range(subtasks))}


def fan_out_spec(spec: FunctionSpec) -> FunctionSpec:
    """parallelize_work with subtasks of :data:`FANOUT_SUBTASK_SECONDS` and room for the largest fan-out."""
    settings = {**spec.environment, "FANOUT_SUBTASK_SECONDS": f"{FANOUT_SUBTASK_SECONDS:g}"}
    return dataclasses.replace(spec, environment=settings, max_concurrency=FANOUT_CONCURRENCY)


def fan_out(side: LambdaSide, spec: FunctionSpec, sizes: Sequence[int], runs: int, timeout: float = 300.0) -> FanOut:
    """``runs`` rounds of one timed fan-out of each of ``sizes`` subtasks, after untimed ones of growing size.

    The untimed runs start the execution environments the largest needs, as provisioned concurrency
    would on AWS, :data:`WARM_STEP` more at a time. In the timed rounds the sizes take turns, each
    round starting with the next, so that a busy moment of the machine is shared among them.
    """
    side.deploy(spec)
    walls: dict[int, list[float]] = {size: [] for size in sizes}
    invocations: dict[int, list[int]] = {size: [] for size in sizes}
    cpu: dict[int, list[float]] = {size: [] for size in sizes}
    largest = max(sizes)
    try:
        with httpx.Client(base_url=side.ingress_url, timeout=timeout) as client:
            for size in range(WARM_STEP, largest + WARM_STEP, WARM_STEP):
                client.post("/FanOutWorker/Run", json=task_of(min(size, largest))).raise_for_status()
                side.wait_until_idle()
            for round_number in range(runs):
                for subtasks in turns(sizes, round_number):
                    side.meter.mark()
                    cpu_before = total_cpu_seconds(side)
                    started = time.perf_counter()
                    answer = client.post("/FanOutWorker/Run", json=task_of(subtasks))
                    walls[subtasks].append(time.perf_counter() - started)
                    answer.raise_for_status()
                    done = answer.json()["description"].count(": DONE")
                    if done != subtasks:
                        raise RuntimeError(f"{done} of {subtasks} subtasks reported DONE")
                    side.wait_until_idle()
                    cpu[subtasks].append(total_cpu_seconds(side) - cpu_before)
                    invocations[subtasks].append(side.meter.count([spec.name]))
        return FanOut(walls, invocations, cpu)
    finally:
        side.retire(spec.name)


def fan_out_figures(run: FanOut) -> tuple[list[Figure], dict[str, Any]]:
    """The table's lines, one per size (the goal on :data:`FANOUT_GOAL_SUBTASKS`), and the results' figures."""
    curve = run.curve()
    figures = []
    for size in run.walls_seconds:
        walls = ", ".join(f"{wall:.2f}" for wall in run.walls_seconds[size])
        note = (
            f"{walls} s; {run.invocations_per_run(size):.0f} invocations and "
            f"{run.cpu_ms_per_subtask(size):.0f} ms CPU a subtask"
        )
        goal = FANOUT_RATIO if size == FANOUT_GOAL_SUBTASKS else None
        figures.append(Figure(f"fan-out {size} x 1 s, wall / 1 s", curve[str(size)], goal=goal, note=note))
    results = {
        "fanout_100x1s_wall_ratio": curve.get(str(FANOUT_GOAL_SUBTASKS)),
        "fanout_wall_seconds": {str(size): walls for size, walls in run.walls_seconds.items()},
        "fanout_invocations_per_run": {str(size): run.invocations_per_run(size) for size in run.walls_seconds},
        "fanout_cpu_ms_per_subtask": {str(size): run.cpu_ms_per_subtask(size) for size in run.walls_seconds},
    }
    return figures, results


@dataclass(frozen=True)
class KafkaRun:
    events: int
    seconds: float
    keys_in_order: int
    keys: int
    cpu_seconds: float = 0.0
    """Restate's, the runtime's and the workers', from the first event produced to the last handled."""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def order_kept_percent(self) -> float:
        return 100.0 * self.keys_in_order / self.keys if self.keys else 0.0

    @property
    def cpu_ms_per_event(self) -> float:
        return self.cpu_seconds * 1000 / self.events if self.events else 0.0

    def __add__(self, other: KafkaRun) -> KafkaRun:
        return KafkaRun(
            self.events + other.events,
            self.seconds + other.seconds,
            self.keys_in_order + other.keys_in_order,
            self.keys + other.keys,
            self.cpu_seconds + other.cpu_seconds,
        )


def tally_spec(environment: Mapping[str, str]) -> FunctionSpec:
    return FunctionSpec(
        name="bench_tally", handler=TALLY_HANDLER, environment=dict(environment), max_concurrency=KAFKA_CONCURRENCY
    )


def kafka_events(
    side: LambdaSide, spec: FunctionSpec, events: int, key_counts: Sequence[int], rounds: int, timeout: float = 300.0
) -> dict[int, KafkaRun]:
    """Per count of keys, ``events`` records over that many keys through a subscription to ``Tally/Add``.

    ``Tally`` keeps each key's records, to check their order. One record per key first, untimed and
    a few keys more at a time, up to as many keys as the function may have execution environments:
    those are started then. The events are split into ``rounds``; in each, the key counts take
    turns, each on keys of its own. A count's figures are its rounds together.
    """
    side.deploy(spec)
    runs: dict[int, list[KafkaRun]] = {keys: [] for keys in key_counts}
    try:
        ensure_topics(side.kafka_bootstrap, [TALLY_TOPIC])
        side.admin().create_subscription(
            SubscriptionSpec(
                source=f"kafka://{KAFKA_CLUSTER}/{TALLY_TOPIC}",
                sink="service://Tally/Add",
                options={**SUBSCRIPTION_OPTIONS, "group.id": "bench.tally"},
            )
        )
        warm_keys = min(max(key_counts), spec.max_concurrency)
        for warmed in range(WARM_STEP, warm_keys + WARM_STEP, WARM_STEP):
            side.meter.mark()
            names = [f"warm-{key}" for key in range(min(warmed, warm_keys))]
            produce(side.kafka_bootstrap, TALLY_TOPIC, [(name, json.dumps("warm")) for name in names])
            wait_for_invocations(side, spec.name, len(names), timeout)
            side.wait_until_idle()
        for round_number in range(rounds):
            for keys in turns(key_counts, round_number):
                names = [f"round{round_number}-of-{keys}-key-{key}" for key in range(keys)]
                runs[keys].append(tally_records(side, spec.name, names, events // rounds // keys, timeout))
                side.wait_until_idle()
    finally:
        side.retire(spec.name)
    return {keys: sum(measured[1:], measured[0]) for keys, measured in runs.items() if measured}


def tally_records(side: LambdaSide, function: str, names: Sequence[str], per_key: int, timeout: float) -> KafkaRun:
    """``per_key`` records for each key of ``names``, interleaved, from the first produced to the last handled."""
    side.meter.mark()
    cpu_before = total_cpu_seconds(side)
    started = time.monotonic()
    # Keys interleaved, so that order per key means something: every key's records are spread over the topic.
    produce(side.kafka_bootstrap, TALLY_TOPIC, [(name, json.dumps(str(n))) for n in range(per_key) for name in names])
    finished = wait_for_invocations(side, function, per_key * len(names), timeout)
    # Read now: the checks below are Lambda invocations too (Tally/Seen), not part of handling the events.
    cpu_seconds = total_cpu_seconds(side) - cpu_before
    with httpx.Client(base_url=side.ingress_url, timeout=60) as client:
        expected = [str(n) for n in range(per_key)]
        while True:
            seen = {name: client.post(f"/Tally/{name}/Seen").json() for name in names}
            if all(len(records) >= per_key for records in seen.values()) or time.monotonic() > started + timeout:
                break
            time.sleep(0.5)
            finished = time.monotonic()
    in_order = sum(records == expected for records in seen.values())
    return KafkaRun(per_key * len(names), finished - started, in_order, len(names), cpu_seconds)


def wait_for_invocations(side: LambdaSide, function: str, count: int, timeout: float) -> float:
    """When ``function`` had ``count`` invocations since the mark (``time.monotonic()``)."""
    deadline = time.monotonic() + timeout
    while side.meter.count([function]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{function}: {side.meter.count([function])} of {count} invocations after {timeout:g} s")
        time.sleep(0.05)
    return time.monotonic()


def kafka_curve(runs: Mapping[int, KafkaRun]) -> dict[str, float]:
    """Events per second ÷ the rate over the fewest keys, per count of keys (and that count, as ``fewest_keys``)."""
    fewest = min(runs)
    rates = {keys: run.events_per_second for keys, run in runs.items()}
    return {"fewest_keys": fewest, **growth_curve(rates, rates[fewest])}


def kafka_figures(runs: Mapping[int, KafkaRun]) -> tuple[list[Figure], dict[str, Any]]:
    """Per count of keys, the rate (the goal on :data:`KAFKA_GOAL_KEYS`) and the keys kept in order (a goal everywhere).

    Order is the pattern's promise, not a point of a curve: its goal holds at every count.
    """
    curve = kafka_curve(runs)
    figures = []
    for keys, run in sorted(runs.items()):
        note = (
            f"{run.events} events in {run.seconds:.1f} s, {run.cpu_ms_per_event:.1f} ms CPU an event; "
            f"{curve[str(keys)]:.2f} x the rate over {curve['fewest_keys']:g} keys"
        )
        rate_goal = KAFKA_RATE if keys == KAFKA_GOAL_KEYS else None
        figures.append(Figure(f"Kafka events per second, {keys} keys", run.events_per_second, "/s", rate_goal, note))
        in_order = f"{run.keys_in_order} of {run.keys} keys"
        figures.append(
            Figure(f"Kafka keys handled in order, {keys} keys", run.order_kept_percent, "%", KAFKA_ORDER, in_order)
        )
    results = {
        "kafka_by_keys": {
            str(keys): {
                "events_per_s": run.events_per_second,
                "order_kept": run.keys_in_order == run.keys,
                "events": run.events,
                "cpu_ms_per_event": run.cpu_ms_per_event,
            }
            for keys, run in sorted(runs.items())
        }
    }
    return figures, results

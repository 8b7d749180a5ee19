"""Lambda ÷ HTTP/2: the same handler modules, the same calls, through either restate-server, taking turns."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from restate_lambda.local.lambda_runtime import FunctionSpec

from functions.catalog import pattern_named
from local.bench_load import RESERVE, SAGA, LoadGenerator, LoadPlan, SideResult, compare, round_by_round_ratio
from local.bench_report import Figure, at_least, at_most, ratio
from local.bench_stack import WARM_STEP, Http2Side, LambdaSide

COMPARED = {"reserve": (RESERVE, "durable_rpc"), "saga": (SAGA, "sagas")}
"""Label in the results: (call, the function serving it)."""
LOAD_CONCURRENCY = 100
"""Execution environments the compared functions may have: 50 callers never wait for one, as on AWS."""
PROBE_CALLS = 10
P50_RATIO, THROUGHPUT_RATIO = at_most(1.2), at_least(0.8)
WARM_ROUNDS_AT_MOST = 10


@dataclass(frozen=True)
class Compared:
    sides: Mapping[str, SideResult]
    """``lambda`` and ``http2``."""
    invocations_per_call: float
    environments_warmed: int


def lambda_vs_http2(
    side: LambdaSide,
    specs: Mapping[str, FunctionSpec],
    settings: Mapping[str, str],
    plans: Mapping[str, LoadPlan],
    state_dir: Path,
) -> dict[str, Compared]:
    """Per label of :data:`COMPARED`, the load of ``plans[label]`` on both sides."""
    for _, function in COMPARED.values():
        side.deploy(dataclasses.replace(specs[function], max_concurrency=LOAD_CONCURRENCY))
    patterns = [pattern_named(function) for _, function in COMPARED.values()]
    compared = {}
    try:
        with Http2Side(state_dir, patterns, settings) as http2, LoadGenerator() as generator:
            urls = {"lambda": side.ingress_url, "http2": http2.ingress_url}
            for label, (kind, function) in COMPARED.items():
                plan = plans[label]
                per_call = invocations_per_call(side, generator, kind, function)
                warmed = warm_lambda_pool(side, generator, kind, function, max(plan.concurrencies))
                cpu_meters = {"lambda": side.cpu_seconds, "http2": http2.cpu_seconds}
                compared[label] = Compared(compare(generator, urls, kind, plan, cpu_meters), per_call, warmed)
    finally:
        for _, function in COMPARED.values():
            side.retire(function)
    return compared


def invocations_per_call(side: LambdaSide, generator: LoadGenerator, kind: str, function: str) -> float:
    """Lambda invocations Restate makes for one call, suspensions and replays included."""
    side.meter.mark()
    generator.latencies_ms(side.ingress_url, kind, PROBE_CALLS)
    side.wait_until_idle()
    return side.meter.count([function]) / PROBE_CALLS


def warm_lambda_pool(side: LambdaSide, generator: LoadGenerator, kind: str, function: str, concurrency: int) -> int:
    """Load at rising concurrency up to ``concurrency`` until a round starts no new execution environment.

    What provisioned concurrency gives on AWS: the throughput compared is the steady one, not that
    of a pool still starting Python processes on the machine's two cores. Returns how many started.
    """
    started = 0
    for level in range(WARM_STEP, concurrency + WARM_STEP, WARM_STEP):
        for _ in range(WARM_ROUNDS_AT_MOST):
            side.meter.mark()
            generator.throughput(side.ingress_url, kind, min(level, concurrency), 1.0)
            new = sum(report.init_ms is not None for report in side.meter.reports([function]))
            started += new
            if not new:
                break
    return started


def comparison_figures(label: str, compared: Compared) -> tuple[list[Figure], dict[str, float]]:
    """The table's lines and the results' ratios of one compared call."""
    on_lambda, on_http2 = compared.sides["lambda"], compared.sides["http2"]
    title = "Reserve" if label == "reserve" else "saga"
    ratios = {
        f"{label}_p50_ratio": ratio(on_lambda.p50_ms, on_http2.p50_ms),
        f"{label}_p95_ratio": ratio(on_lambda.p95_ms, on_http2.p95_ms),
    }
    invocations = f"Lambda invocations a call: {compared.invocations_per_call:g}"
    figures = [
        Figure(
            f"{title} p50 latency, Lambda / HTTP/2",
            ratios[f"{label}_p50_ratio"],
            goal=P50_RATIO,
            note=f"{on_lambda.p50_ms:.1f} vs {on_http2.p50_ms:.1f} ms; {invocations}",
        ),
        Figure(
            f"{title} p95 latency, Lambda / HTTP/2",
            ratios[f"{label}_p95_ratio"],
            note=f"{on_lambda.p95_ms:.1f} vs {on_http2.p95_ms:.1f} ms",
        ),
    ]
    for concurrency, lambda_throughput in sorted(on_lambda.throughputs.items()):
        http2_throughput = on_http2.throughputs[concurrency]
        key = f"{label}_throughput_c{concurrency}_ratio"
        ratios[key] = round_by_round_ratio(on_lambda, on_http2, concurrency)
        failed = lambda_throughput.failed + http2_throughput.failed
        lambda_cpu = on_lambda.cpu_ms_per_call(concurrency).get("total", 0.0)
        http2_cpu = on_http2.cpu_ms_per_call(concurrency).get("total", 0.0)
        note = (
            f"{lambda_throughput.per_second:.0f} vs {http2_throughput.per_second:.0f} calls/s; "
            f"CPU {lambda_cpu:.1f} vs {http2_cpu:.1f} ms a call" + (f"; {failed} calls failed" if failed else "")
        )
        figures.append(
            Figure(f"{title} throughput c{concurrency}, Lambda / HTTP/2", ratios[key], "x", THROUGHPUT_RATIO, note)
        )
    return figures, ratios

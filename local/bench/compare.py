"""Lambda ÷ HTTP/2 and 3 nodes ÷ 1: the same handler modules, the same calls, through each Restate, taking turns.

Three sides share one load generator and take turns round by round: the Lambda side (one
restate-server), the same functions behind a Restate cluster of three nodes (:class:`ClusterSide`,
the callers spread over its nodes) and the long-running HTTP/2 endpoints (:class:`Http2Side`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from restate_lambda.local.lambda_runtime import FunctionSpec

from functions.catalog import pattern_named
from local.bench.load import RESERVE, SAGA, LoadGenerator, LoadPlan, SideResult, compare, round_by_round_ratio
from local.bench.patterns import error_text
from local.bench.report import Figure, at_least, at_most, ratio
from local.bench.stack import WARM_STEP, ClusterSide, Http2Side, LambdaSide

COMPARED = {"reserve": (RESERVE, "durable_rpc"), "saga": (SAGA, "sagas")}
"""Label in the results: (call, the function serving it)."""
LOAD_CONCURRENCY = 100
"""Execution environments the compared functions may have: 50 callers never wait for one, as on AWS."""
PROBE_CALLS = 10
P50_RATIO, THROUGHPUT_RATIO = at_most(1.2), at_least(0.8)
WARM_ROUNDS_AT_MOST = 10
CLUSTER_NODES = 3
LAMBDA, CLUSTER, HTTP2 = "lambda", "cluster", "http2"
"""The sides, as the results name them."""


@dataclass(frozen=True)
class Compared:
    sides: Mapping[str, SideResult]
    """:data:`LAMBDA`, :data:`HTTP2` and, unless it failed to start, :data:`CLUSTER`."""
    invocations_per_call: float
    environments_warmed: int


@dataclass(frozen=True)
class Comparison:
    calls: Mapping[str, Compared]
    """Per label of :data:`COMPARED`."""
    cluster_problem: str = ""
    """Why the cluster side is missing, if it is."""


def lambda_vs_http2(
    side: LambdaSide,
    specs: Mapping[str, FunctionSpec],
    settings: Mapping[str, str],
    plans: Mapping[str, LoadPlan],
    state_dir: Path,
) -> Comparison:
    """Per label of :data:`COMPARED`, the load of ``plans[label]`` on every side.

    A cluster that does not start leaves the Lambda ÷ HTTP/2 comparison to go on without it.
    """
    arns = [
        side.deploy(dataclasses.replace(specs[function], max_concurrency=LOAD_CONCURRENCY))
        for _, function in COMPARED.values()
    ]
    patterns = [pattern_named(function) for _, function in COMPARED.values()]
    compared = {}
    cluster_problem = ""
    try:
        with contextlib.ExitStack() as running:
            http2 = running.enter_context(Http2Side(state_dir, patterns, settings))
            urls: dict[str, list[str]] = {LAMBDA: [side.ingress_url], HTTP2: [http2.ingress_url]}
            cpu_meters = {LAMBDA: side.cpu_seconds, HTTP2: http2.cpu_seconds}
            try:
                cluster = running.enter_context(ClusterSide(side, arns, state_dir, CLUSTER_NODES))
            except Exception as failure:  # noqa: BLE001 - the other comparison still stands
                cluster_problem = f"the {CLUSTER_NODES}-node cluster did not start: {error_text(failure)}"
                print(f"  {cluster_problem}", flush=True)
            else:
                urls[CLUSTER], cpu_meters[CLUSTER] = cluster.ingress_urls, cluster.cpu_seconds
            generator = running.enter_context(LoadGenerator())
            for label, (kind, function) in COMPARED.items():
                plan = plans[label]
                per_call = invocations_per_call(side, generator, kind, function)
                warmed = warm_lambda_pool(side, generator, kind, function, max(plan.concurrencies))
                compared[label] = Compared(compare(generator, urls, kind, plan, cpu_meters), per_call, warmed)
    finally:
        for _, function in COMPARED.values():
            side.retire(function)
    return Comparison(compared, cluster_problem)


def invocations_per_call(side: LambdaSide, generator: LoadGenerator, kind: str, function: str) -> float:
    """Lambda invocations Restate makes for one call, suspensions and replays included."""
    side.meter.mark()
    generator.latencies_ms([side.ingress_url], kind, PROBE_CALLS)
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
            generator.throughput([side.ingress_url], kind, min(level, concurrency), 1.0)
            new = sum(report.init_ms is not None for report in side.meter.reports([function]))
            started += new
            if not new:
                break
    return started


def comparison_figures(label: str, compared: Compared) -> tuple[list[Figure], dict[str, float]]:
    """The table's lines and the results' ratios of one compared call."""
    on_lambda, on_http2 = compared.sides[LAMBDA], compared.sides[HTTP2]
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


def cluster_figures(label: str, compared: Compared) -> tuple[list[Figure], dict[str, float]]:
    """The table's lines and the results' ratios of one call on the cluster ÷ on one node (no goal: a curve)."""
    on_cluster, on_one = compared.sides[CLUSTER], compared.sides[LAMBDA]
    title = "Reserve" if label == "reserve" else "saga"
    ratios = {f"{label}_p50_ratio": ratio(on_cluster.p50_ms, on_one.p50_ms)}
    latency = Figure(
        f"{title} p50 latency, {CLUSTER_NODES} nodes / 1 node",
        ratios[f"{label}_p50_ratio"],
        note=f"{on_cluster.p50_ms:.1f} vs {on_one.p50_ms:.1f} ms",
    )
    figures = [latency]
    for concurrency, cluster_throughput in sorted(on_cluster.throughputs.items()):
        one_throughput = on_one.throughputs[concurrency]
        key = f"{label}_throughput_c{concurrency}_ratio"
        ratios[key] = round_by_round_ratio(on_cluster, on_one, concurrency)
        failed = cluster_throughput.failed + one_throughput.failed
        cluster_cpu = on_cluster.cpu_ms_per_call(concurrency)
        one_cpu = on_one.cpu_ms_per_call(concurrency)
        note = (
            f"{cluster_throughput.per_second:.0f} vs {one_throughput.per_second:.0f} calls/s; Restate's CPU "
            f"{cluster_cpu.get('restate', 0.0):.1f} vs {one_cpu.get('restate', 0.0):.1f} ms a call"
            + (f"; {failed} calls failed" if failed else "")
        )
        name = f"{title} throughput c{concurrency}, {CLUSTER_NODES} nodes / 1 node"
        figures.append(Figure(name, ratios[key], "x", note=note))
    return figures, ratios

"""`make bench`: speed and memory of the local Lambda path, checked against stated goals.

Tests never assert on time; this is where speed and memory are measured. Each line is one
measurement with its goal; the exit status is non-zero if a goal is missed.

* warm call latency: ``ProductService/Reserve`` through ingress -> restate-server -> local
  Lambda runtime -> worker, p50 and p95 over many calls;
* cold start: a new execution environment importing a pattern's handler module;
* worker memory: resident set size of a warm worker, against the function's memory setting.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from functions.catalog import PATTERNS
from local.stack import LocalStack, StackPorts


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    goal: float

    @property
    def met(self) -> bool:
        return self.value <= self.goal

    def line(self) -> str:
        verdict = "ok  " if self.met else "MISS"
        return f"{verdict} {self.name:<40} {self.value:8.1f} {self.unit:<3} (goal <= {self.goal:g} {self.unit})"


def warm_latency(stack: LocalStack, calls: int = 200) -> list[Measurement]:
    timings = []
    with httpx.Client(base_url=stack.ingress_url, timeout=30) as client:
        for _ in range(20):  # warm-up: workers started, connections open
            client.post(f"/ProductService/{uuid.uuid4().hex}/Reserve")
        for _ in range(calls):
            started = time.perf_counter()
            client.post(f"/ProductService/{uuid.uuid4().hex}/Reserve").raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return [
        Measurement("warm Reserve latency p50", statistics.median(timings), "ms", 20),
        Measurement("warm Reserve latency p95", timings[int(len(timings) * 0.95)], "ms", 50),
    ]


def cold_start(stack: LocalStack) -> Measurement:
    assert stack.lambda_runtime is not None
    pool = stack.lambda_runtime.pools["durable_rpc"]
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        worker = pool.start_worker()
        error = worker.wait_ready(timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        worker.kill()
        if error:
            raise RuntimeError(f"worker failed to start: {error}")
    return Measurement("cold start (import durable_rpc handler)", statistics.median(samples), "ms", 1000)


def worker_memory(stack: LocalStack) -> Measurement:
    assert stack.lambda_runtime is not None
    pool = stack.lambda_runtime.pools["durable_rpc"]
    rss_kib = max(_rss_kib(worker.process.pid) for worker in pool.live_workers())
    limit = next(p.memory_mb for p in PATTERNS if p.name == "durable_rpc")
    return Measurement("warm worker RSS (durable_rpc)", rss_kib / 1024, "MiB", limit / 4)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as state_dir,
        LocalStack(state_dir=Path(state_dir), ports=StackPorts.random(), with_kafka=False) as stack,
    ):
        measurements = [*warm_latency(stack), cold_start(stack), worker_memory(stack)]
    for measurement in measurements:
        print(measurement.line())
    sys.exit(0 if all(m.met for m in measurements) else 1)


if __name__ == "__main__":
    main()

"""The load of the side-by-side comparisons: the same calls against each side's ingress, taking turns.

The local Lambda runtime answers invocations from threads of the bench's own process, so a load
generator in that process would compete with it for the GIL and slow the Lambda side alone. The
calls therefore come from a process of their own (:class:`LoadGenerator`). Each side gets the same
calls in rotating rounds, so that whatever else runs on the machine meanwhile hits all alike.

A side is a list of ingress URLs: one restate-server's, or each node's of a cluster, the callers
spread over them in turn (:func:`spread`) as a load balancer would.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from local.bench.report import percentile, round_ratios

RESERVE = "reserve"
SAGA = "saga"
BOOKING_BODY = json.dumps(
    {
        "flights": {"flight_id": "12345", "passenger_name": "Jane Doe"},
        "car": {"pickup_location": "Airport", "rental_date": "2024-12-16"},
        # A card that never loses the provider's answer and an amount under its limit: the saga succeeds.
        "payment_info": {"card_number": "4111111111111111", "amount": 500},
    }
).encode()
CALL_TIMEOUT_SECONDS = 120.0
Item = TypeVar("Item")


def call_for(kind: str) -> tuple[str, bytes]:
    """A fresh call of ``kind``: a new product or trip each time, so no call waits for another's key."""
    if kind == RESERVE:
        return f"/ProductService/{uuid.uuid4().hex}/Reserve", b""
    if kind == SAGA:
        return f"/BookingWorkflow/bench-{uuid.uuid4().hex}/Run", BOOKING_BODY
    raise ValueError(f"unknown call kind {kind!r}")


class IngressConnection:
    """One kept-alive HTTP/1.1 connection to the ingress, with just enough HTTP for its answers.

    httpx spends about a millisecond of CPU per call, and more the more connections it pools: at 50
    callers it used a whole core and capped both sides alike. This costs tens of microseconds.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader, self._writer, self._host = reader, writer, host

    @classmethod
    async def open(cls, ingress_url: str) -> IngressConnection:
        address = urlsplit(ingress_url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        return cls(reader, writer, address.netloc)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nhost: {self._host}\r\ncontent-length: {len(body)}\r\n"
        if body:
            head += "content-type: application/json\r\n"
        self._writer.write(f"{head}\r\n".encode() + body)
        status = int((await self._reader.readline()).split()[1])
        length, chunked = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                chunked = "chunked" in value.lower()
        if not chunked:
            return status, await self._reader.readexactly(length)
        answer = b""
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            answer += (await self._reader.readexactly(size + 2))[:-2]
        await self._reader.readline()
        return status, answer

    def close(self) -> None:
        self._writer.close()


def spread(ingresses: Sequence[Item], callers: int) -> list[Item]:
    """The ingress (a URL, a connection) each of ``callers`` calls: in turn, so every node gets its share."""
    if not ingresses:
        raise ValueError("no ingress to call")
    return [ingresses[caller % len(ingresses)] for caller in range(callers)]


def latencies_ms(ingress_urls: Sequence[str], kind: str, count: int) -> list[float]:
    """One call after the other, each to the next of ``ingress_urls``; each one's time from request to answer."""
    return asyncio.run(_latencies_ms(ingress_urls, kind, count))


async def _latencies_ms(ingress_urls: Sequence[str], kind: str, count: int) -> list[float]:
    connections = [await IngressConnection.open(url) for url in ingress_urls]
    samples = []
    try:
        for connection in spread(connections, count):
            path, body = call_for(kind)
            started = time.perf_counter()
            status, answer = await asyncio.wait_for(connection.post(path, body), CALL_TIMEOUT_SECONDS)
            samples.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{kind} call {path} answered {status}: {answer[:300]!r}")
    finally:
        for connection in connections:
            connection.close()
    return samples


@dataclass(frozen=True)
class Throughput:
    completed: int
    failed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def __add__(self, other: Throughput) -> Throughput:
        return Throughput(self.completed + other.completed, self.failed + other.failed, self.seconds + other.seconds)


def throughput(ingress_urls: Sequence[str], kind: str, concurrency: int, seconds: float) -> Throughput:
    """``concurrency`` callers spread over ``ingress_urls``, each calling again as soon as it has its answer."""
    return asyncio.run(_throughput(ingress_urls, kind, concurrency, seconds))


async def _throughput(ingress_urls: Sequence[str], kind: str, concurrency: int, seconds: float) -> Throughput:
    connections = [await IngressConnection.open(url) for url in spread(ingress_urls, concurrency)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + seconds
    outcomes = {"completed": 0, "failed": 0}

    async def keep_calling(connection: IngressConnection) -> None:
        while loop.time() < deadline:
            status, _ = await asyncio.wait_for(connection.post(*call_for(kind)), CALL_TIMEOUT_SECONDS)
            outcomes["completed" if status == 200 else "failed"] += 1

    try:
        await asyncio.gather(*(keep_calling(connection) for connection in connections))
    finally:
        for connection in connections:
            connection.close()
    # Calls started before the deadline still count, and so does the time they took.
    return Throughput(outcomes["completed"], outcomes["failed"], loop.time() - started)


class LoadGenerator:
    """Makes the calls from a separate Python process (spawned, so it shares nothing with the bench)."""

    def __enter__(self) -> LoadGenerator:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(cancel_futures=True)

    def latencies_ms(self, ingress_urls: Sequence[str], kind: str, count: int) -> list[float]:
        return self._pool.submit(latencies_ms, ingress_urls, kind, count).result()

    def throughput(self, ingress_urls: Sequence[str], kind: str, concurrency: int, seconds: float) -> Throughput:
        return self._pool.submit(throughput, ingress_urls, kind, concurrency, seconds).result()


@dataclass(frozen=True)
class LoadPlan:
    rounds: int
    latency_calls: int
    """Calls per side and round at concurrency 1."""
    throughput_seconds: float
    """Per side and round at each concurrency."""
    concurrencies: Sequence[int] = (10, 50)
    warm_calls: int = 10
    warm_seconds: float = 1.0
    """Untimed load at each concurrency first: the Lambda side starts its execution environments then."""


CpuMeter = Callable[[], Mapping[str, float]]
"""CPU seconds used so far by each part of one side (restate-server, runtime, workers, endpoint)."""


@dataclass
class SideResult:
    latencies_ms: list[float] = field(default_factory=list)
    rounds: dict[int, list[Throughput]] = field(default_factory=dict)
    """Per concurrency, each round's throughput, in the order of the rounds."""
    cpu_seconds: dict[int, dict[str, float]] = field(default_factory=dict)
    """Per concurrency, what each part of the side used while its throughput was measured."""

    @property
    def throughputs(self) -> dict[int, Throughput]:
        """Per concurrency, all rounds together."""
        return {concurrency: sum(rounds[1:], rounds[0]) for concurrency, rounds in self.rounds.items() if rounds}

    def cpu_ms_per_call(self, concurrency: int) -> dict[str, float]:
        completed = self.throughputs[concurrency].completed
        parts = self.cpu_seconds.get(concurrency, {})
        per_part = {part: seconds * 1000 / completed for part, seconds in parts.items()} if completed else {}
        return {"total": sum(per_part.values()), **per_part}

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 0.95)

    def summary(self) -> dict[str, float]:
        figures = {"p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "calls_at_concurrency_1": len(self.latencies_ms)}
        for concurrency, measured in sorted(self.throughputs.items()):
            figures[f"throughput_c{concurrency}_per_s"] = measured.per_second
            figures[f"failed_calls_c{concurrency}"] = measured.failed
            for part, milliseconds in self.cpu_ms_per_call(concurrency).items():
                figures[f"cpu_ms_per_call_c{concurrency}_{part}"] = milliseconds
        return figures


def turns(sides: Sequence[Item], round_number: int) -> list[Item]:
    """The order the sides take in a round: each round starts one side further, so each goes first as often."""
    shift = round_number % len(sides) if sides else 0
    return [*sides[shift:], *sides[:shift]]


def compare(
    generator: LoadGenerator,
    ingress_urls: Mapping[str, Sequence[str]],
    kind: str,
    plan: LoadPlan,
    cpu_meters: Mapping[str, CpuMeter] | None = None,
) -> dict[str, SideResult]:
    """The same load of ``kind`` calls on every side (its ingress URLs), taking turns round by round.

    With ``cpu_meters``, what each side's processes spent on the CPU during its throughput rounds too:
    on two shared cores, that is what throughput comes down to.
    """
    results = {side: SideResult() for side in ingress_urls}
    sides = list(ingress_urls)
    for urls in ingress_urls.values():
        generator.latencies_ms(urls, kind, plan.warm_calls)
    for round_number in range(plan.rounds):
        for side in turns(sides, round_number):
            results[side].latencies_ms += generator.latencies_ms(ingress_urls[side], kind, plan.latency_calls)
    for concurrency in plan.concurrencies:
        for urls in ingress_urls.values():
            generator.throughput(urls, kind, concurrency, plan.warm_seconds)
        for round_number in range(plan.rounds):
            for side in turns(sides, round_number):
                meter = (cpu_meters or {}).get(side)
                before = meter() if meter else {}
                measured = generator.throughput(ingress_urls[side], kind, concurrency, plan.throughput_seconds)
                used = results[side].cpu_seconds.setdefault(concurrency, {})
                for part, seconds in (meter() if meter else {}).items():
                    used[part] = used.get(part, 0.0) + seconds - before.get(part, 0.0)
                results[side].rounds.setdefault(concurrency, []).append(measured)
    return results


def round_by_round_ratio(numerator: SideResult, denominator: SideResult, concurrency: int) -> float:
    """The median over rounds of one side's throughput divided by the other's in the same round.

    The two measurements of a round are seconds apart, so a burst of other work on the machine
    mostly hits both or neither, and the median leaves out the rounds where it hit one side only.
    """
    return statistics.median(
        round_ratios(
            (mine.per_second for mine in numerator.rounds[concurrency]),
            (theirs.per_second for theirs in denominator.rounds[concurrency]),
        )
    )

"""Faults on a three-node Restate cluster: the node leading the most partitions killed, then a rolling restart.

On a cluster of its own (``LocalStack(nodes=3)``, Kafka and moto shared, every node invoking the
local Lambda runtime). While the patterns' work is in flight - 50 sagas, a 20-way fan-out, 1,000
Kafka events over 100 keys for each Kafka pattern, payment reminders with their delayed self-calls
and uploads waiting on their promise - the node leading the most partitions is killed with
``kill -9``. The clients here do what a client that survives a node does: on a refused or broken
connection they send the same call, with the same idempotency key, to the next node. Afterwards
nothing is lost and nothing is done twice (the payment ledger, the feeds, the package locations,
the reminders, the emails), each key's records are handled in order, and nothing is left retrying;
the node is then started again on its data and serves. The rolling restart stops each node in turn
with SIGTERM under a stream of calls, and no call fails.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from restate_lambda.local.cluster import RestateCluster
from restate_lambda.local.harness import RETRYING

from functions.catalog import pattern_named
from functions.sagas.payment_provider import PaymentRecord
from local.clients.webhook_callbacks import stripe_event
from local.demos.sagas import ROLLED_BACK as UNDONE_IN_REVERSE
from local.produce import produce
from local.stack import LocalStack, StackPorts
from tests.fault_figures import report_fault
from tests.polling import wait_until
from tests.stack.test_data_upload import emails_to
from tests.stack.test_event_enrichment import location
from tests.stack.test_sagas import trip_request

pytestmark = [
    pytest.mark.fault,
    pytest.mark.kafka,
    pytest.mark.skipif(os.environ.get("CHAOS") != "1", reason="slow, a cluster of its own: `make chaos` runs it"),
    pytest.mark.timeout(1500),
]

TRIPS = 50
SUBTASKS = 20
KEYS = 100
EVENTS = 1000
INVOICES = 10
UPLOADS = 10
REMINDERS = 3
"""The scheduling pattern's reminders before it escalates: one more would be a reminder sent twice."""
SETTINGS = {
    "PAYMENT_REMINDER_INTERVAL_SECONDS": "2",
    "FANOUT_SUBTASK_SECONDS": "2",
    "UPLOAD_MIN_SECONDS": "3",
    "UPLOAD_MAX_SECONDS": "4",
    "MODERATION_POLL_SECONDS": "0.2",
    "MODERATION_MIN_PENDING_POLLS": "0",
    "MODERATION_MAX_PENDING_POLLS": "1",
    "FEED_MAX_POSTS": str(EVENTS // KEYS),
    "PACKAGE_MAX_LOCATIONS": str(EVENTS // KEYS),
    "BOOKING_CHARGE_MAX_ATTEMPTS": "10",
}
PATTERNS = (
    "durable_rpc",
    "sagas",
    "parallelize_work",
    "event_transactions",
    "event_enrichment",
    "webhook_callbacks",
    "scheduling_tasks",
    "data_upload",
)
BROKEN_CONNECTION = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What a client sees of a node that is gone: refused, or cut in the middle of its answer."""


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("cluster")
    stack = LocalStack(
        state_dir=folder / "stack",
        ports=StackPorts.random(),
        patterns=[pattern_named(name) for name in PATTERNS],
        http_apis=(),
        with_kafka=True,
        nodes=3,
        function_settings={**SETTINGS, "BOOKING_PAYMENT_LEDGER_DIR": str(folder / "ledger")},
    ).start()
    yield stack
    stack.stop()


def cluster_of(stack: LocalStack) -> RestateCluster:
    assert stack.harness.cluster is not None
    return stack.harness.cluster


@dataclass
class FailoverClient:
    """Calls the ingress of one node after the other: a broken connection sends the same call to the next."""

    urls: list[str]
    timeout: float = 120.0
    failed_over: int = 0
    longest_call: float = 0.0
    _next: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, *, key: str | None = None, body: Any = None) -> httpx.Response:
        headers = {"idempotency-key": key} if key else {}
        started = time.monotonic()
        with self._lock:
            first = next(self._next)
        for attempt in itertools.count():
            url = self.urls[(first + attempt) % len(self.urls)]
            try:
                answer = httpx.request(method, f"{url}{path}", json=body, headers=headers, timeout=self.timeout)
            except BROKEN_CONNECTION:
                if time.monotonic() - started > self.timeout:
                    raise
                with self._lock:
                    self.failed_over += 1
                continue
            with self._lock:
                self.longest_call = max(self.longest_call, time.monotonic() - started)
            return answer
        raise AssertionError("unreachable")


class Prober:
    """Reserves a fresh product every 50 ms through the failover client: the stall a client sees."""

    def __init__(self, client: FailoverClient, run: str) -> None:
        self.client, self.run = client, run
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        for n in itertools.count():
            if self._stop.wait(0.05):
                return
            started = time.monotonic()
            key = f"probe-{self.run}-{n}"
            try:
                answer = self.client.call("POST", f"/ProductService/{key}/Reserve", key=key)
                if answer.status_code != 200:
                    self.failures.append(f"{key}: {answer.status_code} {answer.text[:200]}")
            except Exception as failure:  # noqa: BLE001 - a failed probe is a finding, reported by the test
                self.failures.append(f"{key}: {failure!r}")
            self.latencies.append(time.monotonic() - started)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ledger(stack: LocalStack) -> dict[str, PaymentRecord]:
    folder = Path(stack.function_settings["BOOKING_PAYMENT_LEDGER_DIR"])
    return {path.stem: PaymentRecord.model_validate_json(path.read_text()) for path in folder.glob("*.json")}


def retrying(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.admin().query(f"SELECT id, target, status FROM sys_invocation WHERE {RETRYING}")


def unfinished(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.admin().query("SELECT id, target, status FROM sys_invocation WHERE status <> 'completed'")


@dataclass
class Work:
    """What one run sends, by key, and what it must find at the end."""

    run: str
    trips: dict[str, int] = field(default_factory=dict)
    """Trip id to amount: 1000 books, 1500 is refused by the provider and rolled back."""
    fan_out: str = ""
    subtasks: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)

    def records(self, keys: list[str], half: int, value: Any) -> list[tuple[str, str]]:
        per_key = EVENTS // KEYS
        numbers = range(half * per_key // 2, (half + 1) * per_key // 2)
        return [(key, value(key, n)) for n in numbers for key in keys]


def post_value(user: str, n: int) -> str:
    return json.dumps({"content": f"post {n:02d}", "metadata": "m"})


def location_value(package: str, n: int) -> str:
    return location(f"2024-10-10 13:{n:02d}", f"stop {n:02d}")


def start_work(stack: LocalStack, client: FailoverClient, run: str) -> Work:
    work = Work(run)
    for n in range(TRIPS):
        work.trips[f"trip-{run}-{n}"] = 1500 if n % 5 == 4 else 1000
    work.subtasks = [f"{run}-sub-{n}" for n in range(SUBTASKS)]
    work.users = [f"user-{run}-{n}" for n in range(KEYS)]
    work.packages = [f"package-{run}-{n}" for n in range(KEYS)]
    work.invoices = [f"in_{run}_{n}" for n in range(INVOICES)]
    work.uploads = [f"upload-{run}-{n}" for n in range(UPLOADS)]

    def accepted(answer: httpx.Response) -> httpx.Response:
        assert answer.status_code in (200, 202), answer.text
        return answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda package: accepted(
                    client.call(
                        "POST",
                        f"/PackageTracker/{package}/RegisterPackage",
                        key=f"register-{package}",
                        body={"finalDestination": "Bridge 6, Amsterdam"},
                    )
                ),
                work.packages,
            )
        )
        list(
            pool.map(
                lambda trip: accepted(
                    client.call(
                        "POST",
                        f"/BookingWorkflow/{trip}/Run/send",
                        body=trip_request(trip, work.trips[trip]),
                    )
                ),
                work.trips,
            )
        )
    work.fan_out = accepted(
        client.call(
            "POST", "/FanOutWorker/Run/send", key=f"fan-out-{run}", body={"description": ",".join(work.subtasks)}
        )
    ).json()["invocationId"]
    for invoice in work.invoices:
        event = stripe_event("invoice.payment_failed", invoice, f"cus_{run}", event_id=f"evt_{invoice}")
        accepted(client.call("POST", "/WebhookCallbackRouter/OnStripeEvent", body=event))
    for upload in work.uploads:
        accepted(client.call("POST", f"/DataUploadService/{upload}/Run/send"))
        accepted(
            client.call(
                "POST",
                f"/DataUploadService/{upload}/ResultAsEmail/send",
                key=f"email-{upload}",
                body=f"{upload}@example.com",
            )
        )
    produce(stack.kafka_bootstrap, "social-media-posts", work.records(work.users, 0, post_value))
    produce(stack.kafka_bootstrap, "package-location-updates", work.records(work.packages, 0, location_value))
    return work


def finish_work(stack: LocalStack, client: FailoverClient, work: Work) -> dict[str, str]:
    """Wait for every piece of ``work`` to end; what went wrong, by pattern (empty: nothing)."""
    produce(stack.kafka_bootstrap, "social-media-posts", work.records(work.users, 1, post_value))
    produce(stack.kafka_bootstrap, "package-location-updates", work.records(work.packages, 1, location_value))
    problems: dict[str, str] = {}
    per_key = EVENTS // KEYS

    endings: dict[str, tuple[str, str]] = {}
    """Each trip's ending and the payment id it names."""
    for trip in work.trips:
        answer = client.call("GET", f"/restate/workflow/BookingWorkflow/{quote(trip)}/attach")
        rolled_back = UNDONE_IN_REVERSE.search(answer.text) if answer.status_code in (402, 500) else None
        if answer.status_code == 200:
            endings[trip] = ("booked", answer.json()["payment_id"])
        elif rolled_back is not None:
            endings[trip] = ("rolled back", rolled_back["payment"])
        else:
            endings[trip] = (f"{answer.status_code} {answer.text[:120]}", "")
    payments = ledger(stack)
    # One ledger record per payment id: a charge repeated under the trip's id is one payment, as at a real
    # provider; a second id for one trip, or a record in the wrong state, would show here.
    found = {
        trip: (ending, payments[payment].status if payment in payments else "none")
        for trip, (ending, payment) in endings.items()
    }
    expected = {
        trip: ("booked", "charged") if amount == 1000 else ("rolled back", "refused")
        for trip, amount in work.trips.items()
    }
    if found != expected:
        problems["sagas"] = (
            f"wrong endings or payments: { {trip: found[trip] for trip in found if found[trip] != expected[trip]} }"
        )

    fan_out = client.call("GET", f"/restate/invocation/{work.fan_out}/attach")
    if fan_out.status_code != 200 or fan_out.json() != {"description": ", ".join(f"{s}: DONE" for s in work.subtasks)}:
        problems["parallelize_work"] = f"{fan_out.status_code} {fan_out.text[:200]}"

    def feed_of(user: str) -> list[str]:
        answer = client.call("POST", f"/UserFeed/{user}/GetFeed")
        return [post["content"] for post in answer.json()["posts"]] if answer.status_code == 200 else []

    def locations_of(package: str) -> list[str]:
        answer = client.call("POST", f"/PackageTracker/{package}/GetPackageInfo")
        return [entry["location"] for entry in answer.json().get("locations", [])] if answer.status_code == 200 else []

    in_order_posts = [f"post {n:02d}" for n in range(per_key)]
    in_order_stops = [f"stop {n:02d}" for n in range(per_key)]
    feeds = wait_until(
        lambda: {user: feed_of(user) for user in work.users},
        "every post in its feed",
        accept=lambda feeds: all(len(posts) >= per_key for posts in feeds.values()),
        timeout=600,
    )
    stops = wait_until(
        lambda: {package: locations_of(package) for package in work.packages},
        "every location of every package",
        accept=lambda found: all(len(places) >= per_key for places in found.values()),
        timeout=600,
    )
    out_of_order = [user for user, posts in feeds.items() if posts != in_order_posts]
    if out_of_order:
        problems["event_transactions"] = (
            f"{len(out_of_order)} feeds lost, doubled or reordered, e.g. {feeds[out_of_order[0]]}"
        )
    misplaced = [package for package, places in stops.items() if places != in_order_stops]
    if misplaced:
        problems["event_enrichment"] = (
            f"{len(misplaced)} packages lost, doubled or reordered, e.g. {stops[misplaced[0]]}"
        )

    statuses = wait_until(
        lambda: [client.call("POST", f"/PaymentTracker/{invoice}/GetStatus").json() for invoice in work.invoices],
        "every reminder loop to escalate",
        accept=lambda statuses: all(status["escalated"] for status in statuses),
        timeout=300,
    )
    counts = Counter(status["reminders_count"] for status in statuses)
    if counts != Counter({REMINDERS: INVOICES}):
        problems["scheduling_tasks"] = f"reminders sent per invoice: {dict(counts)}"

    emails = wait_until(
        lambda: {upload: len(emails_to(stack, f"{upload}@example.com")) for upload in work.uploads},
        "an email for every upload",
        accept=lambda sent: all(sent.values()),
        timeout=300,
    )
    wait_until(lambda: unfinished(stack), "every invocation to end", accept=lambda left: not left, timeout=300)
    emails = {upload: len(emails_to(stack, f"{upload}@example.com")) for upload in work.uploads}
    if set(emails.values()) != {1}:
        problems["data_upload"] = f"emails per upload: {emails}"
    left = retrying(stack)
    if left:
        problems["retrying"] = str(left[:5])
    return problems


def test_killing_the_node_that_leads_most_partitions_loses_nothing_and_doubles_nothing(cluster_stack: LocalStack):
    cluster = cluster_of(cluster_stack)
    run = uuid.uuid4().hex[:6]
    client = FailoverClient(cluster_stack.ingress_urls)
    work = start_work(cluster_stack, client, run)
    wait_until(lambda: len(ledger(cluster_stack)) >= TRIPS // 10, "a few sagas past their charge", timeout=300)

    victim = cluster.node_leading_most()
    led = list(cluster.leaders().values()).count(victim.name)
    with Prober(FailoverClient(cluster_stack.ingress_urls, timeout=60), run) as prober:
        killed_at = time.monotonic()
        cluster.kill(victim)
        to_leaders = cluster.wait_for_leaders(not_on=[victim])
        problems = finish_work(cluster_stack, client, work)
        worked_for = time.monotonic() - killed_at
    rejoined_in = cluster.restart(victim)
    back = httpx.post(f"{victim.ingress_url}/ProductService/back-{run}/Reserve", timeout=60)
    stall = max(prober.latencies, default=0.0)

    report_fault(
        f"kill -9 of the cluster node leading the most partitions ({led} of {cluster.partitions()}) under every "
        f"pattern's work",
        f"{TRIPS} sagas, a {SUBTASKS}-way fan-out, {EVENTS} events over {KEYS} keys for each Kafka pattern, "
        f"{INVOICES} reminder loops, {UPLOADS} uploads; lost or doubled: {problems or 'none'}; "
        f"leaders on every partition after {to_leaders:.1f} s, longest client call {stall:.1f} s "
        f"({client.failed_over + prober.client.failed_over} calls sent on to another node), "
        f"everything done {worked_for:.0f} s after the kill, node rejoined in {rejoined_in:.1f} s",
    )
    assert problems == {}
    assert prober.failures == []
    assert back.status_code == 200, back.text


def test_a_rolling_restart_under_load_fails_no_call(cluster_stack: LocalStack):
    cluster = cluster_of(cluster_stack)
    run = uuid.uuid4().hex[:6]
    client = FailoverClient(cluster_stack.ingress_urls)
    trips = {f"roll-{run}-{n}": 1000 for n in range(20)}
    restarts: list[str] = []
    with Prober(FailoverClient(cluster_stack.ingress_urls, timeout=60), run) as prober:
        for trip, amount in trips.items():
            sent = client.call("POST", f"/BookingWorkflow/{trip}/Run/send", body=trip_request(trip, amount))
            assert sent.status_code in (200, 202), sent.text
        for node in cluster.nodes:
            stopped_at = time.monotonic()
            cluster.stop_node(node)
            cluster.wait_for_leaders(not_on=[node])
            rejoined = cluster.restart(node)
            cluster.wait_for_leaders()
            restarts.append(f"{node.name} {time.monotonic() - stopped_at:.1f} s (rejoined in {rejoined:.1f} s)")
        endings = {
            trip: client.call("GET", f"/restate/workflow/BookingWorkflow/{trip}/attach").status_code for trip in trips
        }
    wait_until(lambda: unfinished(cluster_stack), "every invocation to end", accept=lambda left: not left, timeout=300)
    longest = max(prober.latencies, default=0.0)
    booked = sum(status == 200 for status in endings.values())
    report_fault(
        "rolling restart of the cluster (SIGTERM one node at a time) under calls and sagas",
        f"{len(prober.latencies)} calls, failed {len(prober.failures)}, longest {longest:.1f} s; "
        f"sagas booked {booked}/{len(trips)}; restarts: {', '.join(restarts)}",
    )
    assert prober.failures == [] and prober.latencies
    assert set(endings.values()) == {200}
    assert retrying(cluster_stack) == []

"""Several ingress URLs, and which calls go on to the next node when one is gone (``functions/front_door/failover.py``).

The nodes here are httpx mock transports, so every rule is shown without a cluster: a call goes on
only if it may reach Restate twice without being done twice. tests/stack/test_ingress_failover.py shows
the same on a real three-node cluster with a node killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from functions.catalog import INGRESS_URL_VARIABLE
from functions.common.ingress import ingress_urls
from functions.front_door.config import configured_ingress_urls
from functions.front_door.failover import REPEATABLE, FailoverTransport, SyncFailoverTransport, nodes_of
from local.clients import add_ingress_arguments
from local.demo import running_stack_ingress

NODES = ["http://127.0.0.1:8080", "http://127.0.0.1:18080", "http://127.0.0.1:28080"]
FIRST, SECOND, THIRD = (url.removeprefix("http://") for url in NODES)


@dataclass(frozen=True)
class Sent:
    """A request as a node received it (the transport aims the same request at one node after the other)."""

    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def node(self) -> str:
        return httpx.URL(self.url).netloc.decode()


@dataclass
class Cluster:
    """Mock nodes: each request is recorded, and a node named in ``gone`` fails the way it says."""

    gone: dict[str, Callable[[httpx.Request], Exception]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(Sent(str(request.url), dict(request.headers), request.read()))
        node = request.url.netloc.decode()
        if node in self.gone:
            raise self.gone[node](request)
        return httpx.Response(200, json={"node": node, "path": request.url.path})

    @property
    def nodes_asked(self) -> list[str]:
        return [sent.node for sent in self.sent]

    def client(self, urls: list[str] = NODES) -> httpx.Client:
        transport = SyncFailoverTransport(urls, transport=httpx.MockTransport(self.answer))
        return httpx.Client(base_url=urls[0], transport=transport)


def refused(request: httpx.Request) -> Exception:
    return httpx.ConnectError("[Errno 111] Connection refused", request=request)


def cut_off(request: httpx.Request) -> Exception:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def too_slow(request: httpx.Request) -> Exception:
    return httpx.ReadTimeout("timed out", request=request)


def test_a_call_with_an_idempotency_key_goes_to_the_next_node_with_the_same_key_and_body():
    cluster = Cluster(gone={FIRST: refused})
    with cluster.client() as client:
        answer = client.post("/ProductService/1/Reserve", headers={"idempotency-key": "r1"}, json={"a": 1})
    assert answer.json() == {"node": SECOND, "path": "/ProductService/1/Reserve"}
    assert cluster.nodes_asked == [FIRST, SECOND]
    assert [(sent.headers["idempotency-key"], json.loads(sent.body)) for sent in cluster.sent] == [
        ("r1", {"a": 1}),
        ("r1", {"a": 1}),
    ]
    assert cluster.sent[1].headers["host"] == SECOND


def test_later_calls_start_at_the_node_that_answered():
    cluster = Cluster(gone={FIRST: refused})
    with cluster.client() as client:
        for key in ("r1", "r2"):
            client.post("/ProductService/1/Reserve", headers={"idempotency-key": key})
    assert cluster.nodes_asked == [FIRST, SECOND, SECOND]


@pytest.mark.parametrize("gone", [refused, cut_off], ids=["refused", "cut off"])
def test_a_call_without_a_key_is_not_sent_to_another_node(gone):
    cluster = Cluster(gone={FIRST: gone})
    with cluster.client() as client, pytest.raises(httpx.TransportError):
        client.post("/FanOutWorker/Run", json={"description": "a,b"})
    assert cluster.nodes_asked == [FIRST]


@pytest.mark.parametrize(
    "send",
    [
        lambda client: client.get("/restate/invocation/inv_1/attach"),
        lambda client: client.post("/BookingWorkflow/trip-1/Run/send", extensions={REPEATABLE: True}),
        lambda client: client.post("/UserFeed/u1/GetFeed", extensions={REPEATABLE: True}),
    ],
    ids=["a read", "a workflow's run", "a shared handler"],
)
def test_reads_and_calls_marked_repeatable_go_to_the_next_node_when_cut_off(send):
    cluster = Cluster(gone={FIRST: cut_off})
    with cluster.client() as client:
        assert send(client).json()["node"] == SECOND
    assert cluster.nodes_asked == [FIRST, SECOND]


def test_clients_of_the_same_nodes_in_one_process_start_where_the_last_one_was_answered():
    # A command-line client opens a client per command: the next one does not knock at the gone node again.
    urls = [f"http://shared-{index}.example" for index in range(3)]
    nodes_of(urls).answered(2)
    assert nodes_of(tuple(urls)) is nodes_of(urls)
    request = httpx.Request("POST", f"{urls[0]}/ProductService/1/Reserve", headers={"idempotency-key": "r1"})
    assert [node for node, _ in nodes_of(urls).targets(request)] == [2, 0, 1]


def test_a_slow_node_is_not_passed_over_for_another():
    # It still runs the call: another node would only be asked to wait for the same answer again.
    cluster = Cluster(gone={FIRST: too_slow})
    with cluster.client() as client, pytest.raises(httpx.ReadTimeout):
        client.post("/ProductService/1/Reserve", headers={"idempotency-key": "r1"})
    assert cluster.nodes_asked == [FIRST]


def test_when_every_node_is_gone_the_last_failure_is_raised_after_each_node_was_asked_once():
    cluster = Cluster(gone={FIRST: refused, SECOND: refused, THIRD: cut_off})
    with cluster.client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.post("/ProductService/1/Reserve", headers={"idempotency-key": "r1"})
    assert cluster.nodes_asked == [FIRST, SECOND, THIRD]


def test_a_path_below_each_node_s_url_is_kept_and_a_url_elsewhere_is_left_alone():
    cluster = Cluster(gone={"a.example": refused})
    with cluster.client(["http://a.example/restate/", "http://b.example:9000/ingress"]) as client:
        moved = client.get("/restate/invocation/inv_1/attach?x=1")
        elsewhere = client.get("http://c.example/data.txt")
    assert moved.json() == {"node": "b.example:9000", "path": "/ingress/restate/invocation/inv_1/attach"}
    assert cluster.sent[1].url == "http://b.example:9000/ingress/restate/invocation/inv_1/attach?x=1"
    assert elsewhere.json()["node"] == "c.example"


def test_the_async_transport_the_front_door_uses_goes_on_alike():
    cluster = Cluster(gone={FIRST: refused})

    async def reserve() -> httpx.Response:
        transport = FailoverTransport(NODES, transport=httpx.MockTransport(cluster.answer))
        async with httpx.AsyncClient(base_url=NODES[0], transport=transport) as client:
            await client.post("/AsyncTaskWorker/RunTask/send", headers={"idempotency-key": "t1"})
            return await client.post("/FanOutWorker/Run")

    assert asyncio.run(reserve()).json()["node"] == SECOND
    assert cluster.nodes_asked == [FIRST, SECOND, SECOND]


@pytest.mark.parametrize(
    ("given", "urls"),
    [
        ("http://127.0.0.1:8080/", ("http://127.0.0.1:8080",)),
        (" http://a:1 , https://b/x/ ", ("http://a:1", "https://b/x")),
        (["http://a:1", "http://b:2"], ("http://a:1", "http://b:2")),
    ],
)
def test_ingress_urls_are_one_or_several_separated_by_commas(given, urls):
    assert ingress_urls(given) == urls


@pytest.mark.parametrize("given", ["", "http://a:1,", "127.0.0.1:8080", "http://a:port", "ftp://a", "http://a b"])
def test_what_is_no_list_of_ingress_urls_is_refused(given):
    with pytest.raises(ValueError, match="ingress URL"):
        ingress_urls(given)


def test_the_front_door_reads_several_urls_from_its_variable_and_fails_its_cold_start_on_a_bad_one():
    assert configured_ingress_urls({INGRESS_URL_VARIABLE: ",".join(NODES)}) == tuple(NODES)
    assert configured_ingress_urls({}) == ("http://127.0.0.1:8080",)
    with pytest.raises(RuntimeError, match=f"{INGRESS_URL_VARIABLE}: 'localhost:8080' is not an ingress URL"):
        configured_ingress_urls({INGRESS_URL_VARIABLE: "http://127.0.0.1:8080,localhost:8080"})


def client_arguments(argv: list[str]) -> tuple[str, ...]:
    parser = argparse.ArgumentParser()
    add_ingress_arguments(parser)
    urls: tuple[str, ...] = parser.parse_args(argv).ingress
    return urls


def test_a_client_takes_ingress_repeated_or_comma_separated_and_the_variable_as_its_default(monkeypatch):
    monkeypatch.delenv(INGRESS_URL_VARIABLE, raising=False)
    assert client_arguments([]) == ("http://127.0.0.1:8080",)
    monkeypatch.setenv(INGRESS_URL_VARIABLE, f"{NODES[0]}, {NODES[1]}")
    assert client_arguments([]) == tuple(NODES[:2])
    # Given on the command line, the URLs replace the variable's.
    assert client_arguments(["--ingress", NODES[2]]) == (NODES[2],)
    assert client_arguments(["--ingress", f"{NODES[2]},{NODES[0]}", "--ingress", NODES[1]]) == (
        NODES[2],
        NODES[0],
        NODES[1],
    )


def test_a_client_refuses_a_bad_url_as_a_usage_error(capsys):
    with pytest.raises(SystemExit) as usage_error:
        client_arguments(["--ingress", "http://a:1,a:2"])
    assert usage_error.value.code == 2
    assert "argument --ingress: 'a:2' is not an ingress URL" in capsys.readouterr().err


def test_the_demo_takes_the_further_nodes_of_a_running_cluster_on_this_machine_only():
    named = {INGRESS_URL_VARIABLE: f"{NODES[1]},https://ingress.example.com,http://localhost:38080"}
    assert running_stack_ingress(named) == (NODES[0], NODES[1], "http://localhost:38080")
    assert running_stack_ingress({}) == (NODES[0],)

"""Clients that survive a node: the front door and the command-line clients on three nodes, the first one killed.

Both are given every node's ingress, the first node's first: the local stack gives the front door
all of them in ``RESTATE_INGRESS_URL``, a client takes them in ``--ingress`` or the same variable.
With the first node killed its ingress refuses connections, and each call goes on to the next
node with the same idempotency key: the answers are what one node would give, and every call ran
once. A call without a key is not sent on. The rules one by one: tests/unit/test_failover.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.catalog import INGRESS_URL_VARIABLE, pattern_named
from functions.front_door.failover import SyncFailoverTransport
from local.clients import call_key, checked
from local.clients.delayed_queue import main as task_client
from local.clients.durable_rpc import main as reservation_client
from local.stack import LocalStack, StackPorts
from tests.polling import wait_until
from tests.stack_setup import assert_nothing_left_retrying

PATTERNS = ("durable_rpc", "delayed_queue")


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The reservation and queue patterns and the front door on three Restate nodes."""
    stack = LocalStack(
        state_dir=tmp_path_factory.mktemp("failover"),
        ports=StackPorts.random(),
        patterns=[pattern_named(name) for name in PATTERNS],
        with_kafka=False,
        nodes=3,
    ).start()
    try:
        yield stack
        assert_nothing_left_retrying(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def first_node_killed(cluster_stack: LocalStack) -> LocalStack:
    """The stack once its first node (the first ingress URL everyone is given) is killed and the others lead."""
    cluster = cluster_stack.harness.cluster
    assert cluster is not None
    first = cluster.nodes[0]
    assert cluster_stack.ingress_urls[0] == first.ingress_url
    # A warm front door: it holds a connection to the first node, which the kill cuts.
    with httpx.Client(base_url=cluster_stack.http_api_url("front_door"), timeout=60) as api:
        warm = api.post(f"/products/warm-{call_key()}/reserve", json={"reservationId": "warm"})
        assert warm.status_code == 200, warm.text
    cluster.kill(first)
    cluster.wait_for_leaders(not_on=[first])
    return cluster_stack


def idempotency_keys(stack: LocalStack, service: str, where: str) -> list[str]:
    rows: list[dict[str, Any]] = stack.admin().query(
        f"SELECT idempotency_key FROM sys_invocation WHERE target_service_name = '{service}' AND {where}"
    )
    return sorted(str(row["idempotency_key"]) for row in rows)


def test_the_front_door_answers_through_the_next_node_with_the_same_ids_and_runs_each_call_once(
    first_node_killed, unique
):
    stack = first_node_killed
    product, task_id = f"product-{unique}", f"task-{unique}"
    with httpx.Client(base_url=stack.http_api_url("front_door"), timeout=60) as api:
        reservations = [
            api.post(f"/products/{product}/reserve", json={"reservationId": f"{product}-{reservation}"})
            for reservation in ("r1", "r2", "r1")
        ]
        task = {"id": task_id, "description": "resize images"}
        submissions = [api.post("/tasks", json=task) for _ in range(2)]
        done = wait_until(
            lambda: api.get(f"/tasks/{task_id}").json(), "the task done", accept=lambda state: state["status"] == "done"
        )

    assert [(answer.status_code, answer.json()) for answer in reservations] == [(200, True), (200, False), (200, True)]
    assert [answer.json()["status"] for answer in submissions] == ["Accepted", "PreviouslyAccepted"]
    assert submissions[0].json()["invocationId"] == submissions[1].json()["invocationId"]
    assert done["result"] == {"description": f"Finished task {task_id}: resize images"}
    # Nothing done twice: one invocation per reservation id, one per task id.
    assert idempotency_keys(stack, "ProductService", f"target_service_key = '{product}'") == [
        f"{product}-r1",
        f"{product}-r2",
    ]
    assert idempotency_keys(stack, "AsyncTaskWorker", f"idempotency_key = '{task_id}'") == [task_id]
    # The first call went to the killed node first (the warm front door's connection was to it), then on.
    assert f"with the same idempotency key '{product}-r1'" in stack.lambda_runtime.log_path("front_door").read_text()


def test_a_command_line_client_given_every_node_answers_through_the_next_one_with_the_same_key(
    first_node_killed, unique, capsys, caplog, monkeypatch
):
    stack = first_node_killed
    product, task_id = f"product-{unique}", f"task-{unique}"
    nodes = ",".join(stack.ingress_urls)
    reserve = ["--product-id", product, "--reservation-id", f"{product}-r1"]
    reservation_client(["--ingress", nodes, *reserve])
    monkeypatch.setenv(INGRESS_URL_VARIABLE, nodes)
    reservation_client(reserve)
    task_client(["submit", "--id", task_id, "--description", "resize images"])
    task_client(["attach", "--id", task_id])

    first, again, submitted, attached = capsys.readouterr().out.splitlines()
    assert (first, again) == ("true", "true")
    assert submitted.startswith("Accepted inv_")
    assert json.loads(attached) == {"description": f"Finished task {task_id}: resize images"}
    # The first command met the killed node first and sent the same call on with its key; the later
    # ones started at the node that answered.
    assert caplog.text.count(" is gone ") == 1
    assert f"with the same idempotency key '{product}-r1'" in caplog.text
    assert idempotency_keys(stack, "ProductService", f"target_service_key = '{product}'") == [f"{product}-r1"]
    assert idempotency_keys(stack, "AsyncTaskWorker", f"idempotency_key = '{task_id}'") == [task_id]


def test_a_call_without_an_idempotency_key_is_not_sent_to_another_node(first_node_killed, unique):
    stack = first_node_killed
    product = f"product-{unique}"
    reserve = f"/ProductService/{product}/Reserve"
    # A transport of its own, which starts at the first node (the clients' shared one moved on to a live node).
    with (
        httpx.Client(base_url=stack.ingress_url, transport=SyncFailoverTransport(stack.ingress_urls)) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.post(reserve)
    assert idempotency_keys(stack, "ProductService", f"target_service_key = '{product}'") == []

    key = call_key()
    with httpx.Client(base_url=stack.ingress_url, transport=SyncFailoverTransport(stack.ingress_urls)) as client:
        assert checked(client.post(reserve, headers={"idempotency-key": key})).json() is True
    assert idempotency_keys(stack, "ProductService", f"target_service_key = '{product}'") == [key]

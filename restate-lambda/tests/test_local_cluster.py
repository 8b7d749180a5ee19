"""A three-node Restate cluster in the harness (``nodes=3``) keeps its invocations when a node dies.

The handlers are written here; each records its side effect in a file, so that a lost one would
show. Every node invokes the local Lambda runtime for the partitions it leads.
"""

from __future__ import annotations

import textwrap
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from restate_lambda.local import LocalHarness

HANDLERS = """
import os
from datetime import timedelta

import restate

counter = restate.Service("Counter")


@counter.handler()
async def count(ctx: restate.Context, name: str) -> str:
    await ctx.sleep(timedelta(seconds=1))

    def effect() -> None:
        with open(os.environ["EFFECTS"], "a") as effects:
            effects.write(name + "\\n")

    await ctx.run("effect", effect)
    return f"counted {name}"


app = restate.app(services=[counter])
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHarness]:
    source = tmp_path_factory.mktemp("cluster_source")
    (source / "counter.py").write_text(textwrap.dedent(HANDLERS))
    effects = source / "effects.txt"
    effects.touch()

    def harness() -> LocalHarness:
        return LocalHarness(
            {"counter": "counter:app"}, source=source, environment={"EFFECTS": str(effects)}, nodes=3, aws=True
        )

    try:
        started = harness().start()
    except TimeoutError as problem:
        # In a full `make test` on two busy cores, a new cluster once kept a partition without a leader
        # for two minutes (the other nodes saw n1's status as unknown); alone, the module always formed.
        # A second cluster is tried once, and said so; a second failure fails the tests.
        warnings.warn(ClusterFormedOnSecondTry(f"the first cluster did not form: {str(problem)[:3000]}"), stacklevel=1)
        started = harness().start()
    try:
        yield started
    finally:
        started.stop()


class ClusterFormedOnSecondTry(UserWarning):
    """The module's cluster did not get a leader for every partition in time, and a new one was started."""


def effects_of(harness: LocalHarness) -> list[str]:
    return Path(harness.environment["EFFECTS"]).read_text().split()


def call_any_node(harness: LocalHarness, name: str) -> tuple[str, int]:
    """What a client that survives a node does: the same call, same idempotency key, on the next node."""
    refused = 0
    for url in harness.ingress_urls * 20:
        try:
            answer = httpx.post(f"{url}/Counter/count", json=name, headers={"idempotency-key": name}, timeout=60)
        except httpx.TransportError:
            refused += 1
            continue
        answer.raise_for_status()
        return answer.json(), refused
    raise AssertionError(f"no node answered {name}")


def test_every_node_serves_the_cluster_s_functions(cluster: LocalHarness) -> None:
    assert len(cluster.ingress_urls) == 3 and cluster.ingress_urls[0] == cluster.ingress_url
    assert cluster.cluster is not None
    # Leadership may still move while the nodes settle: every partition gets a leader, on some node.
    cluster.cluster.wait_for_leaders()
    assert set(cluster.cluster.leaders().values()) <= {node.name for node in cluster.cluster.nodes}
    names = [f"each-{uuid.uuid4().hex[:8]}-{index}" for index in range(3)]
    for url, name in zip(cluster.ingress_urls, names, strict=True):
        assert httpx.post(f"{url}/Counter/count", json=name, timeout=60).json() == f"counted {name}"
    assert set(names) <= set(effects_of(cluster))


def test_a_killed_node_loses_no_invocation_and_a_retried_call_runs_once(cluster: LocalHarness) -> None:
    assert cluster.cluster is not None
    names = [f"kill-{uuid.uuid4().hex[:8]}-{index}" for index in range(12)]
    for index, name in enumerate(names):
        url = cluster.ingress_urls[index % 3]
        sent = httpx.post(f"{url}/Counter/count/send", json=name, headers={"idempotency-key": name}, timeout=30)
        assert sent.status_code in (200, 202), sent.text
    victim = cluster.cluster.node_leading_most()
    cluster.cluster.kill(victim)
    cluster.cluster.wait_for_leaders(not_on=[victim])

    answers = [call_any_node(cluster, name) for name in names]
    assert [answer for answer, _ in answers] == [f"counted {name}" for name in names]
    cluster.wait_until_idle()
    # Every effect ran. A step whose result the dead node never journaled runs again: effects must be
    # idempotent (at least once, not exactly once), so only "not lost" is checked of them here.
    effects = effects_of(cluster)
    assert all(name in effects for name in names)
    # The calls sent again to another node with the same idempotency key joined the first invocation.
    listed = ", ".join(f"'{name}'" for name in names)
    rows = cluster.admin().query(f"SELECT idempotency_key FROM sys_invocation WHERE idempotency_key IN ({listed})")
    assert sorted(row["idempotency_key"] for row in rows) == sorted(names)
    assert cluster.retrying_invocations() == []

    rejoined_after = cluster.cluster.restart(victim)
    assert rejoined_after > 0
    name = f"back-{uuid.uuid4().hex[:8]}"
    assert httpx.post(f"{victim.ingress_url}/Counter/count", json=name, timeout=60).json() == f"counted {name}"


def test_partition_snapshots_go_to_the_local_s3(cluster: LocalHarness) -> None:
    assert cluster.cluster is not None and cluster.cluster.snapshots is not None
    cluster.cluster.restatectl("snapshots", "create-snapshot", "0")
    assert cluster.aws is not None
    s3 = cluster.aws.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=cluster.SNAPSHOT_BUCKET).get("Contents", [])]
    assert "cluster/0/latest.json" in keys, keys

"""A Restate cluster of several nodes on 127.0.0.1: a replicated log and partitions that survive a node.

Every node is a restate-server of its own, configured by a small TOML file: the same cluster name,
the replicated metadata store on every node's fabric address, ``default-replication`` copies of the
log and of each partition, and ``auto-provision`` on the first node only. Every node is a worker,
so every node invokes the Lambda functions of the partitions it leads: each gets the Lambda
endpoint settings in its own environment.

Where a partition's leader is (a cluster question the admin API does not answer) is asked with
``restatectl`` over the fabric; it is found like restate-server (a path, ``node_modules/.bin``,
``PATH``). With ``snapshots`` the partition snapshots go to an S3 bucket (moto locally), so that the
log can be trimmed: restate-server accepts only ``s3://`` destinations.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Self

from restate_lambda.local.processes import free_port, loopback_url, port_is_open, start_guarded, stop_process, tail
from restate_lambda.local.restate_server import (
    LOCAL_SETTINGS,
    check_version,
    find_npm_tool,
    find_restate_server,
    lambda_endpoint_environment,
)
from restate_lambda.registration.admin import AdminApiError, RestateAdmin

NODE_ROCKSDB_MEMORY = "256MB"
"""Per node: restate-server claims up to 2 GiB by default, too much for three on a laptop."""


class RestatectlNotFound(FileNotFoundError):
    """No restatectl where the cluster looks; the message says how to install one."""


def find_restatectl(path: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path:
    """``restatectl``: ``path`` if given, else ``node_modules/.bin`` upwards from ``start``, else PATH."""
    if path is not None:
        return Path(path)
    found = find_npm_tool("restatectl", start)
    if found is None:
        raise RestatectlNotFound(
            "restatectl not found (node_modules/.bin or PATH); install it beside restate-server, in the same "
            "version: npm install @restatedev/restatectl@<restate-server's version>"
        )
    return found


@dataclass(frozen=True)
class SnapshotStore:
    """Where partition snapshots go: an S3 bucket, at ``endpoint_url`` (moto) unless that is None (AWS)."""

    destination: str
    """``s3://<bucket>/<prefix>``."""
    endpoint_url: str | None = None

    def environment(self) -> dict[str, str]:
        if self.endpoint_url is None:
            return {}
        # object_store, restate-server's S3 client, refuses plain http unless told.
        return {"AWS_ENDPOINT_URL_S3": self.endpoint_url, "AWS_ALLOW_HTTP": "true"}


@dataclass(frozen=True)
class NodePorts:
    fabric: int
    admin: int
    ingress: int

    @classmethod
    def free(cls) -> NodePorts:
        return cls(free_port(), free_port(), free_port())


QUERY_PATIENCE_SECONDS = 30.0
"""How long a query may keep failing because the cluster still tries a node it lost."""


class ClusterAdmin(RestateAdmin):
    """One node's admin API, asking again while a query fails on a node the cluster has just lost.

    A query reads every partition, wherever it is; right after a node died, the node answering
    still tries the dead one and fails ("connect throttled") until the cluster has moved on.
    """

    def query(self, sql: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + QUERY_PATIENCE_SECONDS
        while True:
            try:
                return super().query(sql)
            except AdminApiError as error:
                if error.status < 500 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


class RestateNode:
    """One node of a :class:`RestateCluster`: its config file, base dir, log and process."""

    def __init__(self, name: str, ports: NodePorts, base_dir: Path, log_file: Path) -> None:
        self.name = name
        self.ports = ports
        self.base_dir = base_dir
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.base_dir.parent / f"{self.name}.toml"

    @property
    def fabric_url(self) -> str:
        return loopback_url(self.ports.fabric)

    @property
    def admin_url(self) -> str:
        return loopback_url(self.ports.admin)

    @property
    def ingress_url(self) -> str:
        return loopback_url(self.ports.ingress)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def admin(self) -> RestateAdmin:
        return RestateAdmin(self.admin_url)

    def __repr__(self) -> str:
        return f"RestateNode({self.name!r}, admin={self.admin_url}, ingress={self.ingress_url})"


class RestateCluster:
    """``nodes`` restate-servers forming one cluster, their data under ``base_dir``, their logs in ``log_dir``.

    ``lambda_endpoint`` is the local Lambda runtime every node invokes through; ``settings`` are more
    ``RESTATE_*`` environment variables for every node.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        lambda_endpoint: str,
        log_dir: Path,
        nodes: int = 3,
        replication: int = 2,
        region: str = "us-east-1",
        executable: str | os.PathLike[str] | None = None,
        restatectl: str | os.PathLike[str] | None = None,
        settings: Mapping[str, str] | None = None,
        snapshots: SnapshotStore | None = None,
        cluster_name: str = "local-cluster",
        first_node_ports: NodePorts | None = None,
    ) -> None:
        if not 1 <= replication <= nodes:
            raise ValueError(f"replication must be between 1 and the number of nodes ({nodes}), got {replication}")
        self.base_dir = base_dir
        self.lambda_endpoint = lambda_endpoint
        self.replication = replication
        self.region = region
        self.executable = executable
        self.restatectl_path = restatectl
        self.settings = dict(settings or {})
        self.snapshots = snapshots
        self.cluster_name = cluster_name
        # The first node keeps the ports a single server would have: its URLs are the harness's own.
        ports = [first_node_ports or NodePorts.free(), *(NodePorts.free() for _ in range(nodes - 1))]
        self.nodes = [
            RestateNode(f"n{index}", node_ports, base_dir / f"n{index}", log_dir / f"restate-n{index}.log")
            for index, node_ports in enumerate(ports, start=1)
        ]
        self.version: str | None = None

    # --- where clients go ------------------------------------------------------------------------

    @property
    def ingress_urls(self) -> list[str]:
        return [node.ingress_url for node in self.nodes]

    @property
    def admin_urls(self) -> list[str]:
        return [node.admin_url for node in self.nodes]

    @property
    def ingress_url(self) -> str:
        return self.live_nodes()[0].ingress_url

    @property
    def admin_url(self) -> str:
        return self.live_nodes()[0].admin_url

    def admin(self) -> RestateAdmin:
        """The admin API of a node that runs: any one answers for the whole cluster."""
        return ClusterAdmin(self.admin_url)

    def live_nodes(self) -> list[RestateNode]:
        return [node for node in self.nodes if node.running]

    def node_named(self, name: str) -> RestateNode:
        return next(node for node in self.nodes if node.name == name)

    # --- lifecycle -------------------------------------------------------------------------------

    def config(self, node: RestateNode) -> str:
        """The node's TOML: what all nodes share, and its own name, folders and addresses."""
        fabric = ", ".join(f'"{other.fabric_url}"' for other in self.nodes)
        lines = [
            f'node-name = "{node.name}"',
            f'cluster-name = "{self.cluster_name}"',
            f'base-dir = "{node.base_dir}"',
            f"default-replication = {self.replication}",
            # Exactly one node provisions the cluster; the others join it.
            f"auto-provision = {'true' if node is self.nodes[0] else 'false'}",
            f'bind-address = "127.0.0.1:{node.ports.fabric}"',
            f'advertised-address = "{node.fabric_url}"',
            "",
            "[metadata-client]",
            'type = "replicated"',
            f"addresses = [{fabric}]",
            "",
            "[admin]",
            f'bind-address = "127.0.0.1:{node.ports.admin}"',
            "",
            "[ingress]",
            f'bind-address = "127.0.0.1:{node.ports.ingress}"',
        ]
        if self.snapshots is not None:
            lines += ["", "[worker.snapshots]", f'destination = "{self.snapshots.destination}"']
        return "\n".join(lines) + "\n"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            # Every node invokes the functions of the partitions it leads.
            **lambda_endpoint_environment(self.lambda_endpoint, self.region),
            **LOCAL_SETTINGS,
            "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": NODE_ROCKSDB_MEMORY,
            **(self.snapshots.environment() if self.snapshots else {}),
            **self.settings,
        }

    def start(self, timeout: float = 120.0) -> Self:
        executable = find_restate_server(self.executable)
        self.version = check_version(executable)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        try:
            for node in self.nodes:
                self._launch(node, executable)
            self.wait_until_formed(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, node: RestateNode, executable: Path | None = None) -> None:
        for port in (node.ports.fabric, node.ports.admin, node.ports.ingress):
            if port_is_open(port):
                raise RuntimeError(f"port {port} of node {node.name} is already in use")
        node.base_dir.mkdir(parents=True, exist_ok=True)
        (node.base_dir / "tmp").mkdir(exist_ok=True)
        node.log_file.parent.mkdir(parents=True, exist_ok=True)
        node.config_file.write_text(self.config(node))
        command = [
            str(executable or find_restate_server(self.executable)),
            "--config-file",
            str(node.config_file),
            "--listen-mode",
            "tcp",
            "--no-logo",
        ]
        with node.log_file.open("ab") as log:
            node.process = start_guarded(
                command, log=log, env={**self.environment(), "TMPDIR": str(node.base_dir / "tmp")}, cwd=node.base_dir
            )

    def wait_until_formed(self, timeout: float) -> None:
        """Every running node's admin API and ingress answer, and every partition has a leader."""
        deadline = time.monotonic() + timeout
        for node in self.live_nodes():
            node.admin().wait_until_healthy(max(1.0, deadline - time.monotonic()))
            self._wait_for(partial(port_is_open, node.ports.ingress), deadline, f"{node.name}'s ingress")
        self.wait_for_leaders(max(1.0, deadline - time.monotonic()))

    def _wait_for(self, condition: Callable[[], bool], deadline: float, what: str) -> None:
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready in time; logs:\n{self.log_tails()}")
            time.sleep(0.1)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self.stop_node(node)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults ----------------------------------------------------------------------------------

    def kill(self, node: RestateNode) -> None:
        """``kill -9`` of the node (its process group: the npm wrapper and the server binary it runs)."""
        if node.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait()
        if node.process.stdin is not None:
            node.process.stdin.close()

    def stop_node(self, node: RestateNode, timeout: float = 30.0) -> None:
        """SIGTERM: the node hands its partitions over and shuts down cleanly."""
        if node.process is not None:
            stop_process(node.process, timeout)

    def restart(self, node: RestateNode, timeout: float = 120.0) -> float:
        """Start ``node`` again on its data; the seconds until it serves its ingress and admin API again."""
        started = time.monotonic()
        deadline = started + timeout
        self._wait_for(
            lambda: not any(port_is_open(port) for port in (node.ports.fabric, node.ports.admin, node.ports.ingress)),
            deadline,
            f"{node.name}'s ports to close",
        )
        self._launch(node)
        node.admin().wait_until_healthy(max(1.0, deadline - time.monotonic()))
        self._wait_for(lambda: port_is_open(node.ports.ingress), deadline, f"{node.name}'s ingress")
        self._wait_for(lambda: node.name in self.processor_nodes(), deadline, f"{node.name} to run partitions again")
        return time.monotonic() - started

    # --- what the cluster says of itself ---------------------------------------------------------

    def restatectl(self, *arguments: str) -> str:
        addresses = ",".join(node.fabric_url for node in self.live_nodes())
        done = subprocess.run(
            [str(find_restatectl(self.restatectl_path)), "--address", addresses, *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"restatectl {' '.join(arguments)} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def cluster_sql(self, query: str) -> list[dict[str, object]]:
        """A query on the cluster's own tables (``partition_state``, ``nodes``, ``logs``), not the admin API's."""
        rows = []
        for line in self.restatectl("sql", "--jsonl", query).splitlines():
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
        return rows

    def node_names(self) -> dict[str, str]:
        """Node names by plain node id (``N1``): the ids are given at joining, not by name."""
        return {str(row["plain_node_id"]): str(row["name"]) for row in self.cluster_sql("SELECT * FROM nodes")}

    def leaders(self) -> dict[int, str]:
        """The node name leading each partition, by partition id; a partition without an active leader is absent."""
        names = self.node_names()
        rows = self.cluster_sql(
            "SELECT partition_id, plain_node_id FROM partition_state WHERE effective_mode = 'Leader' "
            "AND replay_status = 'active'"
        )
        return {int(str(row["partition_id"])): names.get(str(row["plain_node_id"]), "?") for row in rows}

    def processor_nodes(self) -> set[str]:
        """Nodes that run a partition processor now (leader or follower)."""
        names = self.node_names()
        rows = self.cluster_sql("SELECT DISTINCT plain_node_id FROM partition_state WHERE replay_status = 'active'")
        return {names.get(str(row["plain_node_id"]), "?") for row in rows}

    def partitions(self) -> int:
        return len(self.cluster_sql("SELECT DISTINCT partition_id FROM partition_state"))

    def node_leading_most(self) -> RestateNode:
        led: dict[str, int] = {}
        for name in self.leaders().values():
            led[name] = led.get(name, 0) + 1
        return self.node_named(max(led, key=lambda name: led[name]))

    def wait_for_leaders(self, timeout: float = 60.0, *, not_on: Sequence[RestateNode] = ()) -> float:
        """Seconds until every partition has an active leader on a running node (none of ``not_on``)."""
        started = time.monotonic()
        excluded = {node.name for node in not_on}
        deadline = started + timeout
        expected = None
        leaders: dict[int, str] = {}
        while True:
            try:
                expected = expected or self.partitions()
                leaders = self.leaders()
                if expected and len(leaders) == expected and not excluded & set(leaders.values()):
                    return time.monotonic() - started
            except RuntimeError:
                pass  # a node going away in the middle of a query; ask again
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"partitions without a leader after {timeout:.0f} s (leaders of {expected} partitions: "
                    f"{leaders}); logs:\n{self.log_tails()}"
                )
            time.sleep(0.1)

    def log_tails(self, lines: int = 20) -> str:
        return "\n".join(f"--- {node.name} ({node.log_file}) ---\n{tail(node.log_file, lines)}" for node in self.nodes)

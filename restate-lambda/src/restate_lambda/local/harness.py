"""The local harness: a real restate-server invoking your handler modules through a local Lambda.

::

    harness.ingress (httpx) --> restate-server   free ports, a temporary base dir
                                     |  AWS_ENDPOINT_URL_LAMBDA
                                     v
                                local Lambda runtime  POST /2015-03-31/functions/<ARN>/invocations
                                     |  worker processes: Lambda's environment, timeout, memory, 6 MB limits
                                     v
                                "greeter.service:app"  --boto3-->  moto      (aws=True)
                                                        Kafka subscriptions  (kafka=True)

    with LocalHarness({"greeter": "greeter.service:app"}) as harness:
        assert harness.ingress.post("/Greeter/greet", json="World").json() == "Hello, World!"

Each function is published as version 1 and registered with Restate by its ARN, as a deploy does;
:meth:`LocalHarness.publish` deploys a new version the same way. Everything lives in a temporary
folder that :meth:`LocalHarness.stop` removes, unless you give ``base_dir`` (then state survives a
restart, and a harness killed with ``kill -9`` is cleaned up by the next start on that folder).
The servers run under a guard that ends them when this process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Self

import httpx

from restate_lambda.local.aws_endpoint import LocalAwsEndpoint
from restate_lambda.local.cluster import NodePorts, RestateCluster, SnapshotStore
from restate_lambda.local.kafka_broker import KafkaBroker, ensure_kafka_jars, ensure_topics, produce
from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime
from restate_lambda.local.processes import free_port, loopback_url, stop_all, tail
from restate_lambda.local.record import StackRecord
from restate_lambda.local.restate_server import (
    KAFKA_MINIMUM_VERSION,
    MINIMUM_VERSION,
    RestatePorts,
    RestateServer,
)
from restate_lambda.registration.admin import Deployment, RestateAdmin, SubscriptionSpec

RETRYING = "status IN ('backing-off', 'paused') OR (retry_count > 1 AND status <> 'completed')"
"""Admin SQL on ``sys_invocation``: retried or given up on. ``retry_count`` counts attempts, the first
one included; ``paused`` is where Restate parks an invocation that used up its attempts."""
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class Function:
    """A function to serve: its handler, its code's folder, its environment and its Lambda settings."""

    handler: str
    """``module:attribute`` or Lambda's ``module.attribute``, e.g. ``"greeter.service:app"``."""
    source: Path | str | None = None
    """The folder the handler is imported from (Lambda's /var/task): the harness's ``source``, or a folder
    relative to it."""
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 60.0
    memory_mb: int = 512
    max_concurrency: int = 10
    register: bool = True
    """False: served by the local Lambda runtime but not registered (a Function URL's function, a probe)."""
    version: str | None = None
    """The qualifier it is registered by. None: published as version 1, the way a deploy does. A label
    of your own (a code hash) for a harness kept in a folder across restarts: a changed code gets a new
    ARN, so invocations in flight keep the code they started on."""

    def spec(self, name: str, source: Path, environment: Mapping[str, str]) -> FunctionSpec:
        return FunctionSpec(
            name=name,
            handler=self.handler,
            timeout_seconds=self.timeout_seconds,
            memory_mb=self.memory_mb,
            environment={**environment, **self.environment},
            max_concurrency=self.max_concurrency,
            code_root=(source / (self.source or "")).resolve(),
        )


@dataclass(frozen=True)
class Subscription:
    """Records of a Kafka ``topic`` delivered to ``sink`` (``Service/handler``), with Restate's ``options``."""

    topic: str
    sink: str
    options: Mapping[str, str] = field(default_factory=dict)

    def spec(self, cluster: str) -> SubscriptionSpec:
        """As the admin API takes it, reading from ``cluster``."""
        sink = self.sink if "://" in self.sink else f"service://{self.sink}"
        return SubscriptionSpec(source=f"kafka://{cluster}/{self.topic}", sink=sink, options=dict(self.options))


@dataclass
class HarnessPorts:
    """The harness's ports on 127.0.0.1; :meth:`random` picks free ones (the default)."""

    ingress: int
    admin: int
    node: int
    lambda_runtime: int
    aws: int
    kafka: int
    kafka_controller: int

    @classmethod
    def random(cls) -> Self:
        return cls(*(free_port() for _ in fields(cls)))


class LocalHarness:
    """restate-server, a local Lambda runtime serving ``functions``, and on request moto and Kafka.

    ``functions`` maps each function's name to its handler (``"module:app"``) or a :class:`Function`.
    ``environment`` is every function's (a function's own wins). Ports are free ones unless given.
    """

    def __init__(
        self,
        functions: Mapping[str, str | Function],
        *,
        source: Path | str | None = None,
        environment: Mapping[str, str] | None = None,
        aws: bool = False,
        kafka: bool = False,
        subscriptions: Iterable[Subscription] = (),
        kafka_cluster: str = "local",
        base_dir: Path | str | None = None,
        ports: HarnessPorts | None = None,
        restate_server: str | os.PathLike[str] | None = None,
        restate_settings: Mapping[str, str] | None = None,
        kafka_jars_dir: Path | None = None,
        prewarm: bool = True,
        nodes: int = 1,
        replication: int = 2,
    ) -> None:
        self.functions = {
            name: Function(value) if isinstance(value, str) else value for name, value in functions.items()
        }
        self.source = Path(source if source is not None else Path.cwd()).resolve()
        self.environment = dict(environment or {})
        self.subscriptions = tuple(subscriptions)
        if self.subscriptions and not kafka:
            raise ValueError("subscriptions need kafka=True")
        self.kafka_cluster = kafka_cluster
        self.ports = ports or HarnessPorts.random()
        self.restate_server = restate_server
        self.restate_settings = dict(restate_settings or {})
        self.kafka_jars_dir = kafka_jars_dir
        self.prewarm = prewarm
        self._temporary = base_dir is None
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.with_aws = aws
        self.aws: LocalAwsEndpoint | None = None
        self.with_kafka = kafka
        self.kafka: KafkaBroker | None = None
        self.runtime: LocalLambdaRuntime | None = None
        self.restate: RestateServer | None = None
        """The one restate-server; None with ``nodes`` above 1, where :attr:`cluster` has the servers."""
        if nodes < 1:
            raise ValueError(f"nodes must be at least 1, got {nodes}")
        self.nodes = nodes
        self.replication = min(replication, nodes)
        self.cluster: RestateCluster | None = None
        self.specs: dict[str, FunctionSpec] = {}
        """Each function's spec as it is served now (after :meth:`publish`, the new version's)."""
        self.arns: dict[str, str] = {}
        """Each registered function's ARN, the latest version registered."""
        self.deployments: dict[str, Deployment] = {}
        self._ingress: httpx.Client | None = None
        self._started: list[Any] = []
        self._record: StackRecord | None = None

    # --- where things are ---------------------------------------------------------------------------------

    @property
    def ingress_url(self) -> str:
        return loopback_url(self.ports.ingress)

    @property
    def admin_url(self) -> str:
        return loopback_url(self.ports.admin)

    @property
    def lambda_url(self) -> str:
        return loopback_url(self.ports.lambda_runtime)

    @property
    def aws_url(self) -> str:
        assert self.with_aws, "start the harness with aws=True"
        return loopback_url(self.ports.aws)

    @property
    def kafka_bootstrap(self) -> str:
        assert self.with_kafka, "start the harness with kafka=True"
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def log_dir(self) -> Path:
        assert self.base_dir is not None, "start the harness first"
        return self.base_dir / "logs"

    @property
    def server_log_path(self) -> Path:
        return self.log_dir / "restate-server.log"

    @property
    def ingress(self) -> httpx.Client:
        """An httpx client of the ingress (``harness.ingress.post("/Greeter/greet", json="World")``)."""
        if self._ingress is None:
            self._ingress = httpx.Client(base_url=self.ingress_url, timeout=60)
        return self._ingress

    @property
    def ingress_urls(self) -> list[str]:
        """Every node's ingress: one, or with ``nodes`` above 1 one per node (the first is :attr:`ingress_url`)."""
        return self.cluster.ingress_urls if self.cluster is not None else [self.ingress_url]

    def admin(self) -> RestateAdmin:
        """The admin API: of a node that runs, in a cluster (any node answers for the whole cluster)."""
        if self.cluster is not None and self.cluster.live_nodes():
            return self.cluster.admin()
        return RestateAdmin(self.admin_url)

    def function_environment(self) -> dict[str, str]:
        """What every function gets besides Lambda's variables: moto's endpoint (aws=True) and ``environment``."""
        aws = self.aws.function_environment() if self.aws is not None else {}
        # Lambda's code folder is read-only: no __pycache__ is left in the caller's project either.
        return {"PYTHONDONTWRITEBYTECODE": "1", **aws, **self.environment}

    def function_arn(self, name: str) -> str:
        """The ARN ``name`` is registered by: its latest version's."""
        return self.arns[name]

    # --- start and stop -----------------------------------------------------------------------------------

    def start(self) -> Self:
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="restate-lambda-"))
        else:
            self.base_dir.mkdir(parents=True, exist_ok=True)
            self._record = StackRecord(self.base_dir)
            leftovers = self._record.claim()
            if leftovers:
                print(f"Stopped what an earlier run on {self.base_dir} left running: {leftovers}", flush=True)
        try:
            self._start_parts()
            if self._record is not None:
                self._record.save(self.server_pids())
            self.register()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        assert self.base_dir is not None
        if self.with_aws:
            self.aws = LocalAwsEndpoint(self.ports.aws, self.base_dir / "aws")
        environment = self.function_environment()
        given: list[FunctionSpec] = []
        for name, function in self.functions.items():
            self.specs[name] = function.spec(name, self.source, environment)
            # Published functions get their pools at publish_version, like a deploy's new version.
            if not function.register or function.version is not None:
                given.append(self.specs[name])
        self.runtime = LocalLambdaRuntime(given, self.log_dir / "lambda", port=self.ports.lambda_runtime).start()
        self._started.append(self.runtime)
        for name, function in self.functions.items():
            if function.register and function.version is None:
                self.arns[name] = self.runtime.publish_version(self.specs[name])
            elif function.register:
                self.arns[name] = self.runtime.function_arn(name, function.version or "")
            if function.register and self.prewarm:
                # Its handler imports while restate-server starts: the registration's discovery finds it ready.
                self.runtime.prewarm(name, self.arns[name].rsplit(":", 1)[1])
        servers: list[Any] = []
        if self.aws is not None:
            servers.append(self.aws)
        if self.with_kafka:
            self.kafka = KafkaBroker(
                data_dir=self.base_dir / "kafka",
                port=self.ports.kafka,
                controller_port=self.ports.kafka_controller,
                log_file=self.log_dir / "kafka.log",
                jars_dir=ensure_kafka_jars(self.kafka_jars_dir),
            )
            servers.append(self.kafka)
        self.restate = RestateServer(
            base_dir=self.base_dir / "restate",
            ports=RestatePorts(ingress=self.ports.ingress, admin=self.ports.admin, node=self.ports.node),
            lambda_endpoint=self.runtime.url,
            log_file=self.server_log_path,
            executable=self.restate_server,
            settings=self.restate_settings,
        )
        minimum = KAFKA_MINIMUM_VERSION if self.with_kafka else MINIMUM_VERSION
        if self.nodes == 1:
            servers.append(_Starting(self.restate, lambda server: server.start(minimum_version=minimum)))
            self._start_together(servers)
            return
        self.restate = None
        snapshots = None
        if self.aws is not None:
            # The snapshots' bucket must be there before a node takes its first snapshot.
            self._start_together([self.aws])
            servers.remove(self.aws)
            snapshots = self._snapshot_store(self.aws)
        self.cluster = RestateCluster(
            self.base_dir / "restate",
            lambda_endpoint=self.runtime.url,
            log_dir=self.log_dir,
            nodes=self.nodes,
            replication=self.replication,
            executable=self.restate_server,
            settings=self.restate_settings,
            snapshots=snapshots,
            first_node_ports=NodePorts(fabric=self.ports.node, admin=self.ports.admin, ingress=self.ports.ingress),
        )
        servers.append(self.cluster)
        self._start_together(servers)

    SNAPSHOT_BUCKET = "restate-snapshots"

    def _snapshot_store(self, aws: LocalAwsEndpoint) -> SnapshotStore:
        """moto's S3 as the cluster's snapshot repository, as S3 would be on AWS (log trimming needs one)."""
        aws.client("s3").create_bucket(Bucket=self.SNAPSHOT_BUCKET)
        return SnapshotStore(f"s3://{self.SNAPSHOT_BUCKET}/cluster", endpoint_url=aws.url)

    def _start_together(self, servers: list[Any]) -> None:
        """Start the servers at once (they only need each other's ports, chosen already); all or none."""
        starting = [server if isinstance(server, _Starting) else _Starting(server) for server in servers]
        with ThreadPoolExecutor(max_workers=len(starting)) as pool:
            outcomes = list(pool.map(_Starting.run, starting))
        self._started.extend(server.part for server, failure in zip(starting, outcomes, strict=True) if failure is None)
        failures = [failure for failure in outcomes if failure is not None]
        if failures:
            raise failures[0]

    def register(self) -> None:
        """Register each function by its ARN, then the Kafka cluster and the subscriptions (done at start;
        again, it changes nothing: Restate takes a known ARN as it is)."""
        admin = self.admin()
        for name in self.arns:
            self.deployments[name] = self._register_arn(admin, name, self.arns[name])
        if self.with_kafka:
            admin.ensure_kafka_cluster(self.kafka_cluster, {"bootstrap.servers": self.kafka_bootstrap})
            if self.subscriptions:
                self.subscribe(*self.subscriptions)

    def _register_arn(self, admin: RestateAdmin, name: str, arn: str) -> Deployment:
        try:
            return admin.register_lambda(arn)
        except Exception as problem:
            # Restate's message names the discovery's failure; the function's log says why it failed.
            raise RuntimeError(
                f"registering {name} ({arn}) failed: {problem}\n{self.log_tails(functions=[name])}"
            ) from problem

    def subscribe(self, *subscriptions: Subscription) -> None:
        """Create each subscription unless it exists, its topic first (a late topic is noticed only later)."""
        ensure_topics(self.kafka_bootstrap, {subscription.topic for subscription in subscriptions})
        self.admin().reconcile_subscriptions(subscription.spec(self.kafka_cluster) for subscription in subscriptions)

    def server_pids(self) -> list[int]:
        """The servers running in processes of their own (each leads its process group)."""
        return [process.pid for process in self._server_processes()]

    def _server_processes(self) -> list[subprocess.Popen[bytes]]:
        processes = [getattr(part, "process", None) for part in self._started]
        if self.cluster is not None:
            processes += [node.process for node in self.cluster.nodes]
        return [process for process in processes if isinstance(process, subprocess.Popen)]

    def stop(self) -> None:
        """Stop what was started, newest first, and remove the temporary folder; safe to call twice."""
        if self._ingress is not None:
            self._ingress.close()
            self._ingress = None
        if self._temporary:
            # Their data goes with the folder: no orderly shutdown to wait for (restate-server's takes 1.5 s).
            for process in self._server_processes():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stop_all(self._started)
        if self._record is not None:
            self._record.release()
            self._record = None
        if self._temporary and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests do ------------------------------------------------------------------------------------

    def publish(self, name: str, **changes: Any) -> str:
        """Publish a new version of ``name`` and register it, as a deploy does; its ARN.

        ``changes`` are :class:`Function` fields (``environment=``, ``handler=``, ``source=``, ...)
        or ``description=``: a version of unchanged code and settings is refused, as Lambda refuses it
        (:class:`~restate_lambda.local.lambda_runtime.VersionExists`). New invocations go to the new
        version; those in flight finish on the one they started on.
        """
        assert self.runtime is not None, "start the harness first"
        if "source" in changes:
            changes["code_root"] = Path(changes.pop("source")).resolve()
        if "environment" in changes:
            changes["environment"] = {**self.specs[name].environment, **changes["environment"]}
        spec = dataclasses.replace(self.specs[name], **changes)
        arn = self.runtime.publish_version(spec)
        self.deployments[name] = self._register_arn(self.admin(), name, arn)
        self.specs[name], self.arns[name] = spec, arn
        return arn

    def kill_workers(self, name: str) -> int:
        """Kill every execution environment of ``name`` (every version), as crashes would; how many ran.

        An invocation in flight fails with Lambda's ``Runtime.ExitError`` and Restate retries it.
        """
        assert self.runtime is not None, "start the harness first"
        return self.runtime.kill_workers(name)

    def produce(self, topic: str, records: Iterable[tuple[str, str]]) -> int:
        """Send ``(key, value)`` records to ``topic`` of the harness's Kafka broker; how many."""
        return produce(self.kafka_bootstrap, topic, records)

    def retrying_invocations(self) -> list[str]:
        """One line per invocation Restate is retrying or has paused: id, target, attempts, last failure."""
        rows = self.admin().query(
            f"SELECT id, target, status, retry_count, last_failure FROM sys_invocation WHERE {RETRYING}"
        )
        return [
            f"{row['id']} {row['target']} {row['status']} after {row.get('retry_count', '?')} attempts: "
            f"{next(iter(str(row.get('last_failure', '')).splitlines()), '')}"
            for row in rows
        ]

    def unfinished_invocations(self) -> list[str]:
        """One line per invocation that has not completed (running, suspended, scheduled, retrying, ...)."""
        rows = self.admin().query("SELECT id, target, status FROM sys_invocation WHERE status <> 'completed'")
        return [f"{row['id']} {row['target']} {row['status']}" for row in rows]

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Return once every invocation has completed; TimeoutError listing the others after ``timeout`` s."""
        _wait_for(self.unfinished_invocations, timeout, "invocations still unfinished")

    def wait_until_nothing_retries(self, timeout: float = 60.0) -> None:
        """Return once no invocation is being retried; TimeoutError listing them after ``timeout`` s."""
        _wait_for(self.retrying_invocations, timeout, "invocations still retrying")

    # --- logs ---------------------------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        """``name``'s log: its output, and Lambda's START/END/REPORT lines for each invocation."""
        return self.log_dir / "lambda" / f"{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = LOG_TAIL_LINES, functions: Iterable[str] | None = None) -> str:
        """The last ``lines`` of restate-server's log and of each function's (of ``functions``, if given)."""
        if self.base_dir is None:
            return "(the harness is not running: no logs)"
        servers = [node.log_file for node in self.cluster.nodes] if self.cluster is not None else [self.server_log_path]
        paths = servers if functions is None else []
        paths += [self.log_path(name) for name in (self.functions if functions is None else functions)]
        return "\n".join(
            f"----- {path.name} (last lines) -----\n{tail(path, lines)}" for path in paths if path.exists()
        )


class _Starting:
    """One server to start on a thread of its own; what it raised, if anything, is returned, not thrown."""

    def __init__(self, part: Any, start: Callable[[Any], Any] | None = None) -> None:
        self.part = part
        self.start = start or (lambda server: server.start())

    def run(self) -> BaseException | None:
        try:
            self.start(self.part)
        except BaseException as failure:  # noqa: BLE001 - handed to the caller, who stops what did start
            return failure
        return None


def _wait_for(lines: Callable[[], list[str]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        found = lines()
        if not found:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} {what} after {timeout:.0f} s:\n" + "\n".join(found))
        time.sleep(pause)
        pause = min(pause * 2, 0.5)

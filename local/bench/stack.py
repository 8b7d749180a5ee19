"""The two ways `make bench` serves the same handler modules, side by side in one run.

* :class:`LambdaSide`: restate-server invoking the handlers through the local Lambda runtime, with
  moto and Kafka: the package's :class:`~restate_lambda.local.LocalHarness` with no function at
  start, rather than :class:`local.stack.LocalStack`, because the bench deploys versions of its own
  (with per-function concurrency limits) and retires them to free memory.
* :class:`Http2Side`: a second restate-server calling each module as a long-running endpoint,
  hypercorn serving ``restate.app(...)`` as an ASGI app over HTTP/2 without TLS (h2c).
* :class:`ClusterSide`: a Restate cluster of three nodes (the package's
  :class:`~restate_lambda.local.cluster.RestateCluster`, as ``LocalHarness(nodes=3)`` runs it)
  invoking the *Lambda side's* runtime: the same function versions and execution environments
  behind three restate-servers instead of one, so that a ratio of the two is Restate's alone.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from restate_lambda.local import LocalHarness
from restate_lambda.local.cluster import RestateCluster
from restate_lambda.local.lambda_runtime import WORKER_FILE, FunctionSpec, LocalLambdaRuntime, parse_function_reference
from restate_lambda.local.processes import free_port, start_guarded, stop_process, tail, wait_until_listening
from restate_lambda.registration.admin import RestateAdmin

from functions.catalog import Pattern
from local.bench.cpu import ProcessInfo, process_table, tree_cpu_seconds
from local.bench.report import Report, parse_reports
from local.processes import PROJECT_ROOT, STATE_DIR
from local.restate_server import RESTATE_SETTINGS, RestatePorts, RestateServer
from local.stack import KAFKA_CLUSTER, subscriptions_of

WARM_STEP = 20
"""At most this many execution environments start at once while a pool is warmed: more at once, on two
shared cores, can take longer than Lambda's 10 s init limit, and then fail instead of warming."""
NO_LAMBDA_ENDPOINT = "http://127.0.0.1:1"
"""The HTTP/2 side's restate-server invokes no Lambda function; nothing listens on port 1."""


def pid_of(process: subprocess.Popen[bytes] | None) -> int:
    return process.pid if process is not None else -1


@contextlib.contextmanager
def stopped_on_failure(side: Any) -> Iterator[None]:
    """A side whose start fails half-way stops what it did start: nothing may be left running."""
    try:
        yield
    except BaseException:
        side.stop()
        raise


class FirstEvents:
    """Keeps the first discovery and the first invocation each function gets, to replay on a fresh worker."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], Any] = {}

    def __call__(self, reference: str, event: Any) -> None:
        if isinstance(event, dict):
            name, _ = parse_function_reference(reference)
            kind = "discover" if str(event.get("path", "")).endswith("/discover") else "invoke"
            self.events.setdefault((name, kind), event)


class ReportMeter:
    """The REPORT lines written to a log folder since :meth:`mark`: the invocations of one stretch of the run."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._offsets: dict[Path, int] = {}
        self._counted: dict[Path, tuple[int, int]] = {}
        """Per log: how far :meth:`count` has read since the mark, and the REPORT lines it found there."""

    def mark(self) -> None:
        self._offsets = {path: path.stat().st_size for path in self.log_dir.glob("*.log")}
        self._counted = {}

    def reports(self, functions: Iterable[str] | None = None) -> list[Report]:
        return [report for text in self._written(functions) for report in parse_reports(text.decode(errors="replace"))]

    def count(self, functions: Iterable[str] | None = None) -> int:
        """How many invocations ended since the mark; cheap enough to poll.

        Each call reads only what was written since the one before: the bench polls this while the
        runtime it measures runs in the same process, and 10,000 invocations make megabytes of log.
        """
        total = 0
        for path in self._logs(functions):
            scanned, found = self._counted.get(path, (self._offsets.get(path, 0), 0))
            with path.open("rb") as log:
                log.seek(scanned)
                new = log.read()
            complete = new[: new.rfind(b"\n") + 1]  # a line still being written is counted next time
            found += complete.count(b"REPORT RequestId: ")
            self._counted[path] = (scanned + len(complete), found)
            total += found
        return total

    def _logs(self, functions: Iterable[str] | None) -> list[Path]:
        wanted = set(functions) if functions is not None else None
        return [path for path in sorted(self.log_dir.glob("*.log")) if wanted is None or path.stem in wanted]

    def _written(self, functions: Iterable[str] | None) -> list[bytes]:
        written = []
        for path in self._logs(functions):
            with path.open("rb") as log:
                log.seek(self._offsets.get(path, 0))
                written.append(log.read())
        return written


class LambdaSide:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.harness = LocalHarness(
            {},
            source=PROJECT_ROOT,
            aws=True,
            kafka=True,
            kafka_cluster=KAFKA_CLUSTER,
            base_dir=state_dir,
            restate_settings=RESTATE_SETTINGS,
            kafka_jars_dir=STATE_DIR / "kafka-jars",
        )
        self.first_events = FirstEvents()
        self.meter = ReportMeter(self.harness.log_dir / "lambda")

    @property
    def runtime(self) -> LocalLambdaRuntime:
        assert self.harness.runtime is not None, "start the Lambda side first"
        return self.harness.runtime

    @property
    def function_environment(self) -> dict[str, str]:
        return self.harness.function_environment()

    @property
    def kafka_bootstrap(self) -> str:
        return self.harness.kafka_bootstrap

    @property
    def ingress_url(self) -> str:
        return self.harness.ingress_url

    def admin(self) -> RestateAdmin:
        return self.harness.admin()

    def start(self) -> LambdaSide:
        self.harness.start()
        self.runtime.on_invoke.append(self.first_events)
        return self

    def __enter__(self) -> LambdaSide:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def subscribe(self, patterns: Iterable[Pattern]) -> None:
        """The patterns' Kafka subscriptions, as the local stack makes them (their functions deployed first)."""
        self.harness.subscribe(*subscriptions_of(patterns))

    def deploy(self, spec: FunctionSpec) -> str:
        """Publish ``spec`` as the next version of its function and register it: its services' latest deployment."""
        arn = self.runtime.publish_version(spec)
        self.admin().register_lambda(arn)
        return arn

    def retire(self, name: str) -> None:
        """Stop every worker of every version of ``name``; Restate must not invoke it any more."""
        self.runtime.delete_function(name)

    def cpu_seconds(self, table: Mapping[int, ProcessInfo] | None = None) -> dict[str, float]:
        """CPU time used so far by restate-server, the runtime (this process's threads) and the workers."""
        table = table if table is not None else process_table()
        bench = os.getpid()
        workers = [
            pid for pid, info in table.items() if info.parent == bench and WORKER_FILE.name.encode() in info.command
        ]
        return {
            "restate": tree_cpu_seconds(table, pid_of(self.harness.restate.process if self.harness.restate else None)),
            "runtime": table[bench].cpu_seconds,
            "workers": sum(table[pid].cpu_seconds for pid in workers),
        }

    def wait_until_idle(self, timeout: float = 120.0) -> bool:
        """True once Restate has no invocation left that is not completed (scheduled ones included)."""
        try:
            self.harness.wait_until_idle(timeout)
        except TimeoutError:
            return False
        return True

    def stop(self) -> None:
        self.harness.stop()


class ClusterSide:
    """``nodes`` restate-servers as one cluster, invoking the functions of ``lambda_side``'s runtime.

    Not a second harness: that would start a second pool of execution environments (a hundred Python
    processes per compared function, on two shared cores) and compare two pools as well as two
    Restates. Here the nodes register the very versions the Lambda side serves.
    """

    def __init__(self, lambda_side: LambdaSide, arns: Sequence[str], state_dir: Path, nodes: int = 3) -> None:
        self.lambda_side = lambda_side
        self.arns = list(arns)
        """The versions the Lambda side published that the cluster serves too."""
        self.cluster = RestateCluster(
            state_dir / "restate-cluster",
            lambda_endpoint=lambda_side.runtime.url,
            log_dir=state_dir / "logs",
            nodes=nodes,
            settings=RESTATE_SETTINGS,
        )

    @property
    def ingress_urls(self) -> list[str]:
        return self.cluster.ingress_urls

    def start(self) -> ClusterSide:
        """The nodes up, every partition led, and :attr:`arns` registered through one node (all know them)."""
        self.cluster.start()
        with stopped_on_failure(self):
            admin = self.cluster.admin()
            for arn in self.arns:
                admin.register_lambda(arn)
        return self

    def cpu_seconds(self) -> dict[str, float]:
        """As :meth:`LambdaSide.cpu_seconds`, the cluster's nodes as Restate (the runtime and workers are shared)."""
        table = process_table()
        nodes = sum(tree_cpu_seconds(table, pid_of(node.process)) for node in self.cluster.nodes)
        return {**self.lambda_side.cpu_seconds(table), "restate": nodes}

    def __enter__(self) -> ClusterSide:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.cluster.stop()


def endpoint_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """A long-running process's environment: nothing that would make ``restate.app`` build a Lambda handler."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_LAMBDA_", "LAMBDA_")) and name != "AWS_EXECUTION_ENV"
    }
    return {**inherited, **settings, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}


class HypercornEndpoint:
    def __init__(self, application: str, environment: Mapping[str, str], log_file: Path) -> None:
        self.application = application
        self.environment = environment
        self.log_file = log_file
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> HypercornEndpoint:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        bind = f"127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "hypercorn", self.application, "--bind", bind, "--log-level", "warning"]
        with self.log_file.open("ab") as log:
            self.process = start_guarded(command, log=log, env=self.environment, cwd=PROJECT_ROOT)
        if not wait_until_listening(self.process, self.port, timeout):
            self.stop()
            raise RuntimeError(f"hypercorn {self.application} did not start:\n{tail(self.log_file)}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


class Http2Side:
    def __init__(self, state_dir: Path, patterns: Sequence[Pattern], settings: Mapping[str, str]) -> None:
        self.restate = RestateServer(
            base_dir=state_dir / "restate-http2",
            ports=RestatePorts(ingress=free_port(), admin=free_port(), node=free_port()),
            lambda_endpoint=NO_LAMBDA_ENDPOINT,
            log_file=state_dir / "logs" / "restate-server-http2.log",
        )
        self.endpoints = [
            HypercornEndpoint(
                ":".join(pattern.handler.rsplit(".", 1)),
                endpoint_environment({**pattern.settings, **settings}),
                state_dir / "logs" / "hypercorn" / f"{pattern.name}.log",
            )
            for pattern in patterns
        ]
        self._started: list[Any] = []

    @property
    def ingress_url(self) -> str:
        return self.restate.ingress_url

    def start(self) -> Http2Side:
        with stopped_on_failure(self):
            self.restate.start()
            self._started.append(self.restate)
            for endpoint in self.endpoints:
                endpoint.start()
                self._started.append(endpoint)
                # use_http_11 false: Restate talks HTTP/2 with prior knowledge, one bidirectional stream per invocation.
                answer = httpx.post(
                    f"{self.restate.admin_url}/deployments",
                    json={"uri": endpoint.url, "use_http_11": False},
                    timeout=60,
                )
                if answer.status_code >= 300:
                    raise RuntimeError(f"registering {endpoint.url} failed: {answer.status_code} {answer.text}")
        return self

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by restate-server and the hypercorn endpoints."""
        table = process_table()
        return {
            "restate": tree_cpu_seconds(table, pid_of(self.restate.process)),
            "hypercorn": sum(tree_cpu_seconds(table, pid_of(endpoint.process)) for endpoint in self.endpoints),
        }

    def __enter__(self) -> Http2Side:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        while self._started:
            part = self._started.pop()
            with contextlib.suppress(Exception):
                part.stop()

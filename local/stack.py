"""The local stack: Restate invoking the real Lambda handlers, with Kafka and AWS beside it.

``make dev`` runs :func:`main`; ``make demo`` and the tests use :class:`LocalStack` directly::

      curl --> front door :8000 (local Function URL) --event--> local Lambda runtime: front_door/api.py
                                                                      | calls the ingress like any client
      curl / clients                                    Kafka (KRaft) 127.0.0.1:9092
            |                                                 | subscriptions
            v                                                 v
      restate-server  ingress :8080, admin + UI :9070  --------+
            |  AWS_ENDPOINT_URL_LAMBDA
            v
      local Lambda runtime  POST /2015-03-31/functions/<ARN>/invocations
            |  one worker process per concurrent invocation
            v
      functions/<pattern>/service.py  --boto3-->  moto (local AWS endpoint)

Everything is registered from the catalog: each function by its (local) ARN, the Kafka cluster
``my-cluster`` and every catalog subscription. The catalog's HTTP APIs are no Restate deployments:
they are served through a local Function URL (:mod:`local.function_url`) instead of registered.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import FrameType

from restate_lambda.registration.admin import RestateAdmin, SubscriptionSpec

from functions.catalog import (
    HTTP_APIS,
    INGRESS_URL_VARIABLE,
    PATTERNS,
    HttpApi,
    Pattern,
    Subscription,
    subscription_options,
)
from local.aws_endpoint import LocalAwsEndpoint
from local.function_url import FunctionUrlServer
from local.kafka_broker import KafkaBroker, ensure_kafka_jars
from local.lambda_runtime import FunctionSpec, LocalLambdaRuntime, spec_for_http_api, specs_for_patterns
from local.processes import PROJECT_ROOT, STATE_DIR, free_port, stop_all
from local.produce import ensure_topics
from local.restate_server import RestatePorts, RestateServer
from local.stack_record import StackRecord

KAFKA_CLUSTER = "my-cluster"


@dataclass
class StackPorts:
    ingress: int = 8080
    admin: int = 9070
    node: int = 5122
    lambda_runtime: int = 9000
    aws: int = 4566
    kafka: int = 9092
    kafka_controller: int = 9093
    http_api: int = 8000
    """The Function URL of the catalog's first HTTP API (the front door); any further one gets a free port."""

    @classmethod
    def random(cls) -> StackPorts:
        return cls(*(free_port() for _ in fields(cls)))


def code_version(pattern_name: str) -> str:
    """A Lambda-alias-shaped qualifier that changes whenever the function's code changes.

    On AWS every deploy publishes a new version and Restate registers it as a new deployment;
    locally the same happens when the source of the pattern (or of what it shares) changes.
    """
    digest = hashlib.sha256()
    folders = [PROJECT_ROOT / "functions" / pattern_name, PROJECT_ROOT / "functions" / "common"]
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return f"local-{digest.hexdigest()[:10]}"


LOCAL_APP_NAME = "local"
"""The app name in the local stack's consumer groups (the CDK app uses its name prefix)."""


def subscribe(admin: RestateAdmin, bootstrap: str, patterns: Iterable[Pattern]) -> None:
    """The patterns' topics, created first (a subscription notices a late topic only at its next metadata
    refresh), then their subscriptions to ``my-cluster``, each created unless it exists."""
    pairs = [(pattern, sub) for pattern in patterns for sub in pattern.subscriptions]
    ensure_topics(bootstrap, {sub.topic for _, sub in pairs})
    admin.reconcile_subscriptions([subscription_spec(pattern, sub) for pattern, sub in pairs])


def subscription_spec(pattern: Pattern, subscription: Subscription, cluster: str = KAFKA_CLUSTER) -> SubscriptionSpec:
    return SubscriptionSpec(
        source=f"kafka://{cluster}/{subscription.topic}",
        sink=subscription.sink,
        options=subscription_options(LOCAL_APP_NAME, pattern.name, subscription),
    )


@dataclass
class LocalStack:
    state_dir: Path
    ports: StackPorts = field(default_factory=StackPorts)
    patterns: Iterable[Pattern] = PATTERNS
    with_kafka: bool = True
    function_settings: Mapping[str, str] = field(default_factory=dict)
    """Overrides of pattern settings, e.g. short delays for tests."""
    extra_functions: Iterable[FunctionSpec] = ()
    """Functions outside the catalog, served but not registered (tests use these)."""
    http_apis: Iterable[HttpApi] = HTTP_APIS
    """Served through a local Function URL each, calling this stack's ingress; never registered."""

    def __post_init__(self) -> None:
        self.patterns = tuple(self.patterns)
        self.http_apis = tuple(self.http_apis)
        self.function_urls: dict[str, FunctionUrlServer] = {}
        self.log_dir = self.state_dir / "logs"
        self.aws = LocalAwsEndpoint(self.ports.aws, self.state_dir / "aws")
        self.kafka: KafkaBroker | None = None
        self.lambda_runtime: LocalLambdaRuntime | None = None
        self.restate: RestateServer | None = None
        self._started: list[object] = []
        self.record = StackRecord(self.state_dir)
        self._claimed = False

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ingress}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    def http_api_url(self, name: str) -> str:
        assert name in self.function_urls, f"no HTTP API {name!r} is served (start the stack first)"
        return self.function_urls[name].url

    def admin(self) -> RestateAdmin:
        return RestateAdmin(self.admin_url)

    def function_arn(self, pattern_name: str) -> str:
        assert self.lambda_runtime is not None, "start the stack first"
        return self.lambda_runtime.function_arn(pattern_name, code_version(pattern_name))

    def start(self) -> LocalStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        leftovers = self.record.claim()
        self._claimed = True
        if leftovers:
            print(f"Stopped what an earlier stack on {self.state_dir} left running: {leftovers}", flush=True)
        try:
            self._start_parts()
            self.record.save(self.server_pids())
            self.register()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        self.aws.start()
        self._started.append(self.aws)
        environment = {**self.aws.function_environment(), **self.function_settings}
        # The local ingress takes no API key: the HTTP APIs get its URL and nothing else.
        api_environment = {**environment, INGRESS_URL_VARIABLE: self.ingress_url}
        functions = [
            *specs_for_patterns(self.patterns, environment),
            *(spec_for_http_api(api, api_environment) for api in self.http_apis),
            *self.extra_functions,
        ]
        self.lambda_runtime = LocalLambdaRuntime(
            functions, self.log_dir / "lambda", port=self.ports.lambda_runtime
        ).start()
        self._started.append(self.lambda_runtime)
        for index, api in enumerate(self.http_apis):
            port = self.ports.http_api if index == 0 else 0
            server = FunctionUrlServer(self.lambda_runtime, api.name, port=port).start()
            self._started.append(server)
            self.function_urls[api.name] = server
        if self.with_kafka:
            jars = ensure_kafka_jars(STATE_DIR / "kafka-jars")
            self.kafka = KafkaBroker(
                data_dir=self.state_dir / "kafka",
                port=self.ports.kafka,
                controller_port=self.ports.kafka_controller,
                log_file=self.log_dir / "kafka.log",
                jars_dir=jars,
            )
            self.kafka.start()
            self._started.append(self.kafka)
        self.restate = RestateServer(
            base_dir=self.state_dir / "restate",
            ports=RestatePorts(ingress=self.ports.ingress, admin=self.ports.admin, node=self.ports.node),
            lambda_endpoint=self.lambda_runtime.url,
            log_file=self.log_dir / "restate-server.log",
        ).start()
        self._started.append(self.restate)

    def register(self) -> None:
        """Register every catalog function by ARN, then the Kafka cluster and subscriptions."""
        admin = self.admin()
        for pattern in self.patterns:
            deployment = admin.register_lambda(self.function_arn(pattern.name))
            missing = set(pattern.services) - set(deployment.services)
            if missing:
                raise RuntimeError(f"{pattern.name} did not serve {sorted(missing)} (got {deployment.services})")
            for service in pattern.private_services:
                admin.set_service_public(service, public=False)
        if self.with_kafka:
            admin.ensure_kafka_cluster(KAFKA_CLUSTER, {"bootstrap.servers": self.kafka_bootstrap})
            subscribe(admin, self.kafka_bootstrap, self.patterns)

    def server_pids(self) -> list[int]:
        """The servers running in processes of their own (each leads its process group)."""
        processes = (getattr(part, "process", None) for part in self._started)
        return [process.pid for process in processes if isinstance(process, subprocess.Popen)]

    def stop(self) -> None:
        """Stop what was started, newest first; safe to call twice."""
        stop_all(self._started)
        if self._claimed:
            self.record.release()
            self._claimed = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def banner(self) -> str:
        assert self.lambda_runtime is not None
        functions = "\n".join(f"    {p.name:<16} {self.function_arn(p.name)}" for p in self.patterns)
        apis = "".join(
            f"\n  HTTP API         {self.http_api_url(api.name)}   {api.name}, OpenAPI docs at /docs"
            for api in self.http_apis
        )
        front_door = self.function_urls.get("front_door")
        try_api = (
            f"""
        curl {front_door.url}/products/try-1/reserve --json '{{"reservationId": "try-1"}}'
        curl {front_door.url}/tasks --json '{{"id": "try-task", "description": "resize images", "delay": "10s"}}'
        curl {front_door.url}/tasks/try-task"""
            if front_door
            else ""
        )
        return f"""
Local Restate + Lambda stack is ready.

  Ingress          {self.ingress_url}
  Admin API + UI   {self.admin_url}
  Kafka bootstrap  {self.kafka_bootstrap if self.with_kafka else "(off)"}   cluster `{KAFKA_CLUSTER}`
  Lambda runtime   {self.lambda_runtime.url}
  AWS (moto)       {self.aws.url}
  Logs             {self.log_dir}{apis}

  Registered functions:
{functions}

  Try:  curl -X POST {self.ingress_url}/ProductService/try-1/Reserve -H 'idempotency-key: try-1'{try_api}

Ctrl-C stops everything.
"""


def settings_from(environment: Mapping[str, str]) -> dict[str, str]:
    """The catalog settings given in ``environment``, e.g. ``MACHINE_TRANSITION_SECONDS=1 make dev``."""
    names = {name for pattern in PATTERNS for name in pattern.settings}
    # Locally a secret setting is given by value (STRIPE_WEBHOOK_SECRET=whsec_... make dev): no Secrets Manager here.
    names.update(name for pattern in PATTERNS for name in pattern.secret_settings)
    names.update(name for api in HTTP_APIS for name in api.settings)
    return {name: value for name, value in environment.items() if name in names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the local Restate + Lambda stack in the foreground.")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR / "dev")
    parser.add_argument("--no-kafka", action="store_true", help="do not start Kafka")
    parser.add_argument(
        "--random-ports",
        action="store_true",
        help="free ports, not the usual ones (for tests)",
    )
    args = parser.parse_args(argv)

    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    # SIGHUP: the terminal `make dev` runs in was closed. Stopping in order beats being killed mid-write.
    for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop_signal, request_stop)
    stack = LocalStack(
        state_dir=args.state_dir,
        ports=StackPorts.random() if args.random_ports else StackPorts(),
        with_kafka=not args.no_kafka,
        function_settings=settings_from(os.environ),
    )
    try:
        print("Starting the local stack (first run downloads the Kafka jars)...", flush=True)
        stack.start()
        print(stack.banner(), flush=True)
        stop_requested.wait()
        print("Stopping...", flush=True)
    except Exception as error:  # noqa: BLE001 - print a clear reason instead of a traceback
        print(f"local stack failed: {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()

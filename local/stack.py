"""The local stack: this project's catalog on the package's local harness, with the front door beside it.

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

Everything but the catalog is :class:`restate_lambda.local.LocalHarness`: restate-server, the local
Lambda runtime, moto, Kafka, registering by ARN, subscriptions, clean exits. What is this project's
own is here: each catalog function registered by a code version of its own, the Kafka cluster
``my-cluster`` with the catalog's subscriptions, the fixed ports and ``.state/``, the catalog's HTTP
APIs served through a local Function URL each (:mod:`local.function_url`) instead of registered,
and the banner.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from restate_lambda.local import Function, HarnessPorts, LocalHarness, Subscription
from restate_lambda.local.aws_endpoint import LocalAwsEndpoint
from restate_lambda.local.kafka_broker import KafkaBroker
from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime
from restate_lambda.local.processes import stop_all
from restate_lambda.local.restate_server import RestateServer
from restate_lambda.registration.admin import RestateAdmin, SubscriptionSpec

from functions.catalog import (
    HTTP_APIS,
    INGRESS_URL_VARIABLE,
    PATTERNS,
    HttpApi,
    Pattern,
    code_sources,
    subscription_options,
)
from functions.catalog import (
    Subscription as CatalogSubscription,
)
from local.function_url import FunctionUrlServer
from local.processes import PROJECT_ROOT, STATE_DIR
from local.restate_server import RESTATE_SETTINGS

KAFKA_CLUSTER = "my-cluster"


@dataclass
class StackPorts(HarnessPorts):
    """The usual ports of `make dev` (the README and the clients name them); :meth:`random` for tests."""

    ingress: int = 8080
    admin: int = 9070
    node: int = 5122
    lambda_runtime: int = 9000
    aws: int = 4566
    kafka: int = 9092
    kafka_controller: int = 9093
    http_api: int = 8000
    """The Function URL of the catalog's first HTTP API (the front door); any further one gets a free port."""


def code_version(pattern_name: str) -> str:
    """A Lambda-alias-shaped qualifier that changes whenever the function's code changes.

    On AWS every deploy publishes a new version and Restate registers it as a new deployment;
    locally the same happens when the source of the pattern (or of what it shares) changes.
    """
    digest = hashlib.sha256()
    for source in map(PROJECT_ROOT.joinpath, code_sources(pattern_name)):
        for path in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return f"local-{digest.hexdigest()[:10]}"


LOCAL_APP_NAME = "local"
"""The app name in the local stack's consumer groups (the CDK app uses its name prefix)."""


def local_subscription(pattern: Pattern, subscription: CatalogSubscription) -> Subscription:
    return Subscription(
        subscription.topic, subscription.sink, subscription_options(LOCAL_APP_NAME, pattern.name, subscription)
    )


def subscriptions_of(patterns: Iterable[Pattern]) -> list[Subscription]:
    """The patterns' Kafka subscriptions, as the harness creates them on the cluster ``my-cluster``."""
    return [local_subscription(pattern, sub) for pattern in patterns for sub in pattern.subscriptions]


def subscription_spec(
    pattern: Pattern, subscription: CatalogSubscription, cluster: str = KAFKA_CLUSTER
) -> SubscriptionSpec:
    return local_subscription(pattern, subscription).spec(cluster)


def served_only(spec: FunctionSpec) -> Function:
    """A function outside the catalog (tests use these): served by the local Lambda runtime, never registered."""
    return Function(
        handler=spec.handler,
        source=spec.code_root,
        environment=spec.environment,
        timeout_seconds=spec.timeout_seconds,
        memory_mb=spec.memory_mb,
        max_concurrency=spec.max_concurrency,
        register=False,
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
    nodes: int = 1
    """Restate nodes: 1, or a cluster (3 keeps every partition when one node is lost)."""

    def __post_init__(self) -> None:
        self.patterns = tuple(self.patterns)
        self.http_apis = tuple(self.http_apis)
        self.function_urls: dict[str, FunctionUrlServer] = {}
        self.log_dir = self.state_dir / "logs"
        self.harness = LocalHarness(
            self._functions(),
            source=PROJECT_ROOT,
            aws=True,
            kafka=self.with_kafka,
            subscriptions=subscriptions_of(self.patterns) if self.with_kafka else (),
            kafka_cluster=KAFKA_CLUSTER,
            base_dir=self.state_dir,
            ports=self.ports,
            restate_settings=RESTATE_SETTINGS,
            kafka_jars_dir=STATE_DIR / "kafka-jars",
            nodes=self.nodes,
        )
        self.lambda_runtime: LocalLambdaRuntime | None = None
        self.restate: RestateServer | None = None
        self.kafka: KafkaBroker | None = None
        self._served: list[FunctionUrlServer] = []

    def _functions(self) -> dict[str, Function]:
        settings = dict(self.function_settings)
        functions = {
            pattern.name: Function(
                handler=pattern.handler,
                environment={**pattern.settings, **settings},
                timeout_seconds=pattern.timeout_seconds,
                memory_mb=pattern.memory_mb,
                version=code_version(pattern.name),
            )
            for pattern in self.patterns
        }
        functions.update({spec.name: served_only(spec) for spec in self.extra_functions})
        return functions

    @property
    def aws(self) -> LocalAwsEndpoint:
        assert self.harness.aws is not None, "start the stack first"
        return self.harness.aws

    @property
    def ingress_url(self) -> str:
        return self.harness.ingress_url

    @property
    def admin_url(self) -> str:
        return self.harness.admin_url

    @property
    def ingress_urls(self) -> list[str]:
        """Every node's ingress (one node: just :attr:`ingress_url`)."""
        return self.harness.ingress_urls

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    def http_api_url(self, name: str) -> str:
        assert name in self.function_urls, f"no HTTP API {name!r} is served (start the stack first)"
        return self.function_urls[name].url

    def admin(self) -> RestateAdmin:
        return self.harness.admin()

    def function_arn(self, pattern_name: str) -> str:
        return self.harness.function_arn(pattern_name)

    def start(self) -> LocalStack:
        self.harness.start()
        self.lambda_runtime, self.restate = self.harness.runtime, self.harness.restate
        self.kafka = self.harness.kafka
        try:
            self._check_services()
            self._serve_http_apis()
        except BaseException:
            self.stop()
            raise
        return self

    def _http_api_function(self, api: HttpApi) -> Function:
        """The HTTP API's function, calling every node's ingress: a call whose node is gone goes to the next."""
        # The local ingress takes no API key: the HTTP APIs get its URLs and nothing else.
        ingress = {INGRESS_URL_VARIABLE: ",".join(self.ingress_urls)}
        return Function(
            handler=api.handler,
            environment={**api.settings, **self.function_settings, **ingress},
            timeout_seconds=api.timeout_seconds,
            memory_mb=api.memory_mb,
            register=False,
        )

    def _serve_http_apis(self) -> None:
        """Each HTTP API behind a local Function URL, its function published now that Restate runs.

        Not given to the harness with the patterns: a cluster's further nodes get their ports as they
        start, after the Lambda runtime, and the function's environment names every node's ingress.
        """
        assert self.lambda_runtime is not None
        environment = self.harness.function_environment()
        for index, api in enumerate(self.http_apis):
            spec = self._http_api_function(api).spec(api.name, self.harness.source, environment)
            arn = self.lambda_runtime.publish_version(spec)
            port = self.ports.http_api if index == 0 else 0
            server = FunctionUrlServer(self.lambda_runtime, arn, port=port).start()
            self._served.append(server)
            self.function_urls[api.name] = server

    def _check_services(self) -> None:
        admin = self.admin()
        for pattern in self.patterns:
            served = self.harness.deployments[pattern.name].services
            missing = set(pattern.services) - set(served)
            if missing:
                raise RuntimeError(f"{pattern.name} did not serve {sorted(missing)} (got {served})")
            for service in pattern.private_services:
                admin.set_service_public(service, public=False)

    def register(self) -> None:
        """Register every catalog function by ARN, then the Kafka cluster and subscriptions (again: a no-op)."""
        self.harness.register()
        self._check_services()

    def server_pids(self) -> list[int]:
        """The servers running in processes of their own (each leads its process group)."""
        return self.harness.server_pids()

    def stop(self) -> None:
        """Stop what was started, newest first; safe to call twice."""
        stop_all(self._served)
        self.harness.stop()

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
        cluster = self.harness.cluster
        restate = (
            "".join(
                f"\n  Node {node.name}          ingress {node.ingress_url}   admin + UI {node.admin_url}"
                for node in cluster.nodes
            )
            # The clients and `make demo` go on to the next node when one is gone, given all of them.
            + f"\n  Clients, make demo: export {INGRESS_URL_VARIABLE}={','.join(self.ingress_urls)}"
            if cluster is not None
            else f"\n  Ingress          {self.ingress_url}\n  Admin API + UI   {self.admin_url}"
        )
        return f"""
Local Restate + Lambda stack is ready.
{restate}
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
    parser.add_argument("--nodes", type=int, default=1, help="Restate nodes: 1, or 3 for a cluster that survives one")
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
        nodes=args.nodes,
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

"""``python -m restate_lambda.local serve greeter=greeter.service:app``: your handlers on the local Lambda path, live.

A dev server: the harness in the foreground, on Restate's usual ingress and admin ports, with a
banner naming the URLs. When a ``.py`` file under a function's source folder changes, a new version
of that function is published and registered, the way a deploy does it: new invocations run the new
code, those in flight finish on the version they started on. A version whose registration fails (a
syntax error, a service removed) is reported and the previous one keeps serving.

State lives in a temporary folder removed at exit, unless ``--state-dir`` keeps it across restarts.
Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stop everything in order; ``kill -9`` of this process
leaves nothing running either (the servers' guard ends them).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

from restate_lambda.local.harness import Function, HarnessPorts, LocalHarness, Subscription
from restate_lambda.local.processes import free_port

RESTATE_INGRESS_PORT, RESTATE_ADMIN_PORT = 8080, 9070
"""restate-server's own defaults: the restate CLI and the docs' examples find a dev server there."""
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "build", "dist", "cdk.out"})
"""Never a function's own code: not watched, however large."""
POLL_SECONDS = 0.5


def python_files(source: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(source):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name not in SKIPPED_FOLDERS)
        yield from (Path(folder) / name for name in sorted(files) if name.endswith(".py"))


def code_fingerprint(source: Path) -> str:
    """Changes when a ``.py`` file under ``source`` is added, removed or written: names, sizes and mtimes."""
    digest = hashlib.sha256()
    for path in python_files(source):
        with_stat = path.stat()
        digest.update(f"{path}\0{with_stat.st_size}\0{with_stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


class Reloader:
    """Publishes and registers a new version of each function whose source changed; polls, needs no extra package."""

    def __init__(self, harness: LocalHarness, stopping: threading.Event) -> None:
        self.harness = harness
        self.stopping = stopping
        self.sources = {name: spec.code_root for name, spec in harness.specs.items() if name in harness.arns}
        self.seen = {source: code_fingerprint(source) for source in set(self.sources.values())}

    def run(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            for source, before in list(self.seen.items()):
                now = code_fingerprint(source)
                if now != before:
                    self.seen[source] = now
                    self.reload([name for name, folder in self.sources.items() if folder == source], now)

    def reload(self, names: Iterable[str], fingerprint: str) -> None:
        for name in names:
            try:
                # The description carries the code's fingerprint: the settings are unchanged, and Lambda
                # (like the local runtime) publishes no version of an unchanged configuration.
                arn = self.harness.publish(name, description=f"local code {fingerprint}")
            except Exception as problem:  # noqa: BLE001 - reported; the running version keeps serving
                print(f"{name}: the new code was not deployed: {problem}", file=sys.stderr, flush=True)
                continue
            services = ", ".join(self.harness.deployments[name].services)
            print(f"{name}: new code deployed as {arn} ({services})", flush=True)


def banner(harness: LocalHarness) -> str:
    width = max((len(name) for name in harness.arns), default=8) + 2
    functions = "\n".join(
        f"    {name:<{width}} {arn}\n    {'':<{width}} {harness.specs[name].handler}, serving "
        f"{', '.join(harness.deployments[name].services) or '(no services)'}"
        for name, arn in harness.arns.items()
    )
    extras = ""
    if harness.with_aws:
        extras += f"\n  AWS (moto)       {harness.aws_url}   (the functions' boto3 calls it)"
    if harness.with_kafka:
        extras += f"\n  Kafka bootstrap  {harness.kafka_bootstrap}   cluster `{harness.kafka_cluster}`"
    service = next((services[0] for d in harness.deployments.values() if (services := d.services)), "<Service>")
    return f"""
restate-lambda dev server is ready: Restate invokes your handlers through a local Lambda.

  Ingress          {harness.ingress_url}
  Admin API + UI   {harness.admin_url}
  Lambda runtime   {harness.lambda_url}{extras}
  Logs             {harness.log_dir}   (one file per function, with Lambda's START/END/REPORT lines)

  Functions (registered by ARN; saving a .py file publishes and registers a new version):
{functions}

  Try:  curl {harness.ingress_url}/{service}/<handler> --json '...'

Ctrl-C stops everything.
"""


def parse_function(argument: str) -> tuple[str, str]:
    """``name=module:app``, or ``module:app`` named after its module's first part."""
    name, separator, handler = argument.partition("=")
    if not separator:
        handler = argument
        name = handler.split(":", 1)[0].split(".", 1)[0]
    if not name or not handler or (":" not in handler and "." not in handler):
        raise argparse.ArgumentTypeError(f"expected [name=]module:app, got {argument!r}")
    return name, handler


def parse_pair(argument: str) -> tuple[str, str]:
    key, separator, value = argument.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {argument!r}")
    return key, value


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m restate_lambda.local", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="a dev server for your handlers, reloading on code changes")
    serve.add_argument("functions", nargs="+", type=parse_function, metavar="[NAME=]MODULE:APP")
    serve.add_argument("--source", type=Path, default=Path.cwd(), help="the folder handlers import from (default .)")
    serve.add_argument("--env", type=parse_pair, action="append", default=[], metavar="KEY=VALUE")
    serve.add_argument("--timeout", type=float, default=60.0, help="each function's Lambda timeout, s")
    serve.add_argument("--memory", type=int, default=512, help="each function's Lambda memory setting, MB")
    serve.add_argument("--aws", action="store_true", help="start moto and point the functions' boto3 at it")
    serve.add_argument("--kafka", action="store_true", help="start a Kafka broker (needs java and mvn)")
    serve.add_argument("--subscribe", type=parse_pair, action="append", default=[], metavar="TOPIC=SERVICE/HANDLER")
    serve.add_argument("--state-dir", type=Path, help="keep Restate's state here across restarts")
    serve.add_argument("--restate-server", help="the restate-server to run (else node_modules/.bin, then PATH)")
    serve.add_argument("--ingress-port", type=int, default=RESTATE_INGRESS_PORT)
    serve.add_argument("--admin-port", type=int, default=RESTATE_ADMIN_PORT)
    serve.add_argument("--no-reload", action="store_true", help="do not watch the code")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    ports = HarnessPorts.random()
    ports.ingress, ports.admin = args.ingress_port or free_port(), args.admin_port or free_port()
    harness = LocalHarness(
        {
            name: Function(handler, timeout_seconds=args.timeout, memory_mb=args.memory)
            for name, handler in args.functions
        },
        source=args.source,
        environment=dict(args.env),
        aws=args.aws,
        kafka=args.kafka or bool(args.subscribe),
        subscriptions=[Subscription(topic, sink) for topic, sink in args.subscribe],
        base_dir=args.state_dir,
        ports=ports,
        restate_server=args.restate_server,
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    # SIGHUP: the terminal was closed. Stopping in order beats being killed mid-write.
    for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop_signal, request_stop)
    try:
        print("Starting restate-server and the local Lambda runtime...", flush=True)
        harness.start()
        print(banner(harness), flush=True)
        if not args.no_reload:
            threading.Thread(target=Reloader(harness, stopping).run, name="reloader", daemon=True).start()
        stopping.wait()
        print("Stopping...", flush=True)
    except Exception as error:  # noqa: BLE001 - a clear reason instead of a traceback
        print(f"restate-lambda dev server failed: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        harness.stop()

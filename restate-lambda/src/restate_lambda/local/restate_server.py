"""Find and run restate-server so that it invokes Lambda functions locally.

``AWS_ENDPOINT_URL_LAMBDA`` sends every Lambda invoke to the local Lambda runtime; the AWS SDK
inside restate-server still wants credentials and a region, so dummy ones are set.

Where the binary comes from, first found wins (:func:`find_restate_server`):

1. the path you give (``restate_server=``, ``--restate-server``, the pytest ini option);
2. ``node_modules/.bin/restate-server`` in the current folder or one above it, so that a project
   pinning ``@restatedev/restate-server`` in its package.json gets that version, as ``npx`` would;
3. ``restate-server`` on ``PATH``.

Its version is checked before it starts: older than :data:`MINIMUM_VERSION` is refused, with the
``npm install`` line that fixes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Self

from restate_lambda.local.aws_endpoint import LOCAL_CREDENTIALS
from restate_lambda.local.processes import (
    LOOPBACK,
    loopback_url,
    port_is_open,
    start_guarded,
    stop_process,
    tail,
    wait_until_listening,
)
from restate_lambda.registration.admin import AdminApiUnreachable, RestateAdmin, parse_version

TESTED_VERSION = "1.7.12"
"""The restate-server version the harness is tested with (this repository's package.json pins it)."""
MINIMUM_VERSION = "1.6.0"
"""Registering a Lambda deployment by ARN, as the harness and restate_lambda.registration do it."""
KAFKA_MINIMUM_VERSION = "1.7.0"
"""Kafka clusters managed through the admin API (``/kafka-clusters``), which subscriptions need here."""
NPM_INSTALL = f"npm install @restatedev/restate-server@{TESTED_VERSION}"
DEFAULT_INGRESS_REQUEST_SIZE_LIMIT = "4 MiB"
"""Restate hands a request's body to Lambda base64-encoded, with the invocation's journal around it:
past about 4.5 MB of body Lambda refuses every attempt (6 MB limit) and the invocation retries
forever. A body over this limit is refused at the ingress instead, at once, with a 413."""


LOCAL_SETTINGS = {
    "RESTATE_DISABLE_TELEMETRY": "true",
    "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
    "RESTATE_INGRESS__REQUEST_SIZE_LIMIT": DEFAULT_INGRESS_REQUEST_SIZE_LIMIT,
    # Fewer partitions and a smaller cache: a laptop-sized server starts faster.
    "RESTATE_DEFAULT_NUM_PARTITIONS": "4",
    "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "512MB",
}
"""Restate's configuration (as environment variables) for every server the harness runs, a cluster's nodes too."""


def lambda_endpoint_environment(endpoint: str, region: str) -> dict[str, str]:
    """What makes a restate-server invoke Lambda functions through ``endpoint``: the AWS SDK inside it
    takes the endpoint from the environment, and still wants credentials and a region (dummy ones)."""
    return {"AWS_ENDPOINT_URL_LAMBDA": endpoint, **LOCAL_CREDENTIALS, "AWS_REGION": region}


class RestateServerNotFound(FileNotFoundError):
    """No restate-server where the harness looks; the message says how to install one."""


def find_npm_tool(name: str, start: Path | None = None) -> Path | None:
    """``name`` in ``node_modules/.bin`` of ``start`` (default: here) or a folder above it, as ``npx`` finds
    a project's pinned tools, else on ``PATH``; None where neither has it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "node_modules" / ".bin" / name
        if candidate.is_file():
            return candidate
    on_path = shutil.which(name)
    return Path(on_path) if on_path is not None else None


def find_restate_server(path: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path:
    """The restate-server to run: ``path`` if given, else ``node_modules/.bin`` upwards from ``start``, else PATH."""
    if path is not None:
        given = Path(path).expanduser()
        if given.is_file() and os.access(given, os.X_OK):
            return given
        raise RestateServerNotFound(f"restate-server not found at {given} (given as its path).\n{install_hint()}")
    here = (start or Path.cwd()).resolve()
    found = find_npm_tool("restate-server", here)
    if found is not None:
        return found
    raise RestateServerNotFound(
        f"restate-server not found: not in node_modules/.bin of {here} or a folder above it, nor on PATH.\n"
        f"{install_hint()}"
    )


def install_hint() -> str:
    return (
        f"Install it in your project with\n    {NPM_INSTALL}\n"
        f"(restate-server {MINIMUM_VERSION} or later; the harness is tested with {TESTED_VERSION}),\n"
        "or give its path: LocalHarness(restate_server=...), --restate-server, or the pytest ini option "
        "restate_lambda_restate_server."
    )


@cache
def restate_server_version(executable: Path) -> str:
    """``restate-server --version`` of ``executable``, e.g. ``"1.7.12"``."""
    answer = subprocess.run([str(executable), "--version"], capture_output=True, text=True, timeout=60, check=False)
    words = answer.stdout.split()
    if answer.returncode != 0 or not words:
        raise RuntimeError(f"{executable} --version failed (exit {answer.returncode}): {answer.stderr.strip()}")
    return words[-1]


def check_version(executable: Path, minimum: str = MINIMUM_VERSION) -> str:
    """The version of ``executable``; RuntimeError naming the fix if it is older than ``minimum``."""
    version = restate_server_version(executable)
    if parse_version(version) < parse_version(minimum):
        raise RuntimeError(
            f"{executable} is restate-server {version}; the harness needs {minimum} or later.\n{install_hint()}"
        )
    return version


@dataclass
class RestatePorts:
    ingress: int
    admin: int
    node: int


class RestateServer:
    """One restate-server node on 127.0.0.1, its data in ``base_dir``, its output in ``log_file``.

    ``settings`` are more ``RESTATE_*`` environment variables (Restate's configuration), over the
    defaults here, e.g. ``{"RESTATE_INGRESS__REQUEST_SIZE_LIMIT": "2 MiB"}``.
    """

    def __init__(
        self,
        base_dir: Path,
        ports: RestatePorts,
        lambda_endpoint: str,
        log_file: Path,
        region: str = "us-east-1",
        *,
        executable: str | os.PathLike[str] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.ports = ports
        self.lambda_endpoint = lambda_endpoint
        self.log_file = log_file
        self.region = region
        self.executable = executable
        self.settings = dict(settings or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.version: str | None = None

    @property
    def ingress_url(self) -> str:
        return loopback_url(self.ports.ingress)

    @property
    def admin_url(self) -> str:
        return loopback_url(self.ports.admin)

    def admin(self) -> RestateAdmin:
        return RestateAdmin(self.admin_url)

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **lambda_endpoint_environment(self.lambda_endpoint, self.region),
            "RESTATE_BIND_IP": LOOPBACK,
            "RESTATE_BIND_PORT": str(self.ports.node),
            "RESTATE_INGRESS__BIND_PORT": str(self.ports.ingress),
            "RESTATE_ADMIN__BIND_PORT": str(self.ports.admin),
            # The invoker spills to TMPDIR; keep that inside the server's own state folder.
            "TMPDIR": str(self.base_dir / "tmp"),
            **LOCAL_SETTINGS,
            **self.settings,
        }

    def command(self, executable: Path) -> list[str]:
        """The server's command line (its configuration is in :meth:`environment`)."""
        return [
            str(executable),
            "--listen-mode",
            "tcp",
            "--no-logo",
            "--base-dir",
            str(self.base_dir),
            "--node-name",
            "local",
        ]

    def start(self, timeout: float = 60.0, minimum_version: str = MINIMUM_VERSION) -> Self:
        executable = find_restate_server(self.executable)
        # Asked while the server starts: ``--version`` is a process start of its own (0.1 s with npm's node shim).
        checking = ThreadPoolExecutor(max_workers=1)
        version = checking.submit(check_version, executable, minimum_version)
        checking.shutdown(wait=False)
        for port in (self.ports.ingress, self.ports.admin, self.ports.node):
            if port_is_open(port):
                raise RuntimeError(f"port {port} is already in use; is another Restate server running?")
        (self.base_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = start_guarded(
                self.command(executable),
                env=self.environment(),
                log=log,
                # Whatever the server writes beside its base dir stays out of the caller's folder.
                cwd=self.base_dir,
            )
        deadline = time.monotonic() + timeout
        try:
            self.version = version.result()
        except BaseException:
            self.stop()
            raise
        try:
            # The port first, polled often and watching the process: wait_until_healthy backs off (made
            # for a Cloud environment waking up), which could add a second to every start here.
            if not wait_until_listening(self.process, self.ports.admin, timeout):
                raise AdminApiUnreachable("the admin API did not open")
            self.admin().wait_until_healthy(max(1.0, deadline - time.monotonic()))
            if not wait_until_listening(self.process, self.ports.ingress, deadline - time.monotonic()):
                raise AdminApiUnreachable("ingress did not open")
        except AdminApiUnreachable as problem:
            self.stop()
            raise RuntimeError(f"restate-server did not start: {problem}\n{tail(self.log_file)}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

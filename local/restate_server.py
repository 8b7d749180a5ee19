"""Run restate-server (the npm-pinned binary) so that it invokes Lambda functions locally.

``AWS_ENDPOINT_URL_LAMBDA`` sends every Lambda invoke to the local Lambda runtime; the AWS SDK
inside restate-server still wants credentials and a region, so dummy ones are set.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from restate_lambda.registration.admin import AdminApiUnreachable, RestateAdmin

from functions.common.state_size import MAX_INPUT_BYTES
from local.processes import PROJECT_ROOT, port_is_open, start_guarded, stop_process, tail, wait_until_listening

RESTATE_SERVER = PROJECT_ROOT / "node_modules" / ".bin" / "restate-server"
INGRESS_REQUEST_SIZE_LIMIT = f"{MAX_INPUT_BYTES // 1024 // 1024} MiB"
"""A body, with a key's state at its budget beside it, still fits into one Lambda invocation;
deployed Restate environments need the same (README)."""


@dataclass
class RestatePorts:
    ingress: int
    admin: int
    node: int


class RestateServer:
    def __init__(
        self, base_dir: Path, ports: RestatePorts, lambda_endpoint: str, log_file: Path, region: str = "us-east-1"
    ) -> None:
        self.base_dir = base_dir
        self.ports = ports
        self.lambda_endpoint = lambda_endpoint
        self.log_file = log_file
        self.region = region
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ingress}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    def admin(self) -> RestateAdmin:
        return RestateAdmin(self.admin_url)

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.region,
            "RESTATE_BIND_IP": "127.0.0.1",
            "RESTATE_BIND_PORT": str(self.ports.node),
            "RESTATE_INGRESS__BIND_PORT": str(self.ports.ingress),
            "RESTATE_ADMIN__BIND_PORT": str(self.ports.admin),
            "RESTATE_DISABLE_TELEMETRY": "true",
            # The invoker spills to TMPDIR; keep that inside the server's own state folder.
            "TMPDIR": str(self.base_dir / "tmp"),
            "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            # Restate hands a request's body to Lambda base64-encoded, with the invocation's journal around it:
            # past about 4.5 MB of body Lambda refuses every attempt (6 MB limit) and the invocation retries
            # forever. Refused at the ingress instead, at once, with a 413.
            "RESTATE_INGRESS__REQUEST_SIZE_LIMIT": INGRESS_REQUEST_SIZE_LIMIT,
            # Fewer partitions and a smaller cache: a laptop-sized single node starts faster.
            "RESTATE_DEFAULT_NUM_PARTITIONS": "4",
            "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "512MB",
        }

    def start(self, timeout: float = 60.0) -> RestateServer:
        if not RESTATE_SERVER.exists():
            raise FileNotFoundError(f"{RESTATE_SERVER} is missing: run `npm ci` (or `make dev`, which does)")
        for port in (self.ports.ingress, self.ports.admin, self.ports.node):
            if port_is_open(port):
                raise RuntimeError(f"port {port} is already in use; is another Restate server running?")
        (self.base_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = start_guarded(
                [
                    str(RESTATE_SERVER),
                    "--listen-mode",
                    "tcp",
                    "--no-logo",
                    "--base-dir",
                    str(self.base_dir),
                    "--node-name",
                    "local",
                ],
                env=self.environment(),
                log=log,
            )
        deadline = time.monotonic() + timeout
        try:
            self.admin().wait_until_healthy(timeout)
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

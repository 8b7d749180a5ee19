"""The local AWS endpoint: moto's server on 127.0.0.1, for what the functions call with boto3.

moto keeps its state in memory, but a harness kept in a folder of its own promises that state survives
a restart, as Restate's does: an upload Restate resumes after a restart must find its bucket. So the
server runs as a process of its own with moto's recorder on, appending every request it serves to
``<state dir>/requests.jsonl``, and a new start replays that file before anything else calls it.
Replaying requests rebuilds the same buckets, objects, identities and secrets (with new ids and
timestamps where AWS would assign them anyway).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from restate_lambda.local.processes import (
    loopback_url,
    port_is_open,
    start_guarded,
    stop_process,
    tail,
    wait_until_listening,
)

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
START_TIMEOUT_SECONDS = 30.0


class LocalAwsEndpoint:
    def __init__(self, port: int, state_dir: Path) -> None:
        self.port = port
        self.state_dir = state_dir
        self.recording = state_dir / "requests.jsonl"
        self.log_file = state_dir / "moto.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return loopback_url(self.port)

    def function_environment(self) -> dict[str, str]:
        """What a function needs so that boto3 talks to this endpoint instead of AWS."""
        return {"AWS_ENDPOINT_URL": self.url, **LOCAL_CREDENTIALS}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client of ``service`` at this endpoint, with the local credentials (tests, setup)."""
        import boto3  # beside moto in the local extra; imported here, as the functions import it lazily too

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def start(self) -> LocalAwsEndpoint:
        if port_is_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another local harness running?")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            **LOCAL_CREDENTIALS,
            "MOTO_ENABLE_RECORDING": "true",
            "MOTO_RECORDER_FILEPATH": str(self.recording),
        }
        with self.log_file.open("ab") as log:
            self.process = start_guarded(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)], log=log, env=environment
            )
        if not wait_until_listening(self.process, self.port, START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError(f"moto did not start:\n{tail(self.log_file)}")
        if self.recording.exists() and self.recording.stat().st_size:
            # moto stops recording while it replays, so the file is not doubled.
            httpx.post(f"{self.url}/moto-api/recorder/replay-recording", timeout=300).raise_for_status()
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

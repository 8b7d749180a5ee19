"""Helpers for the child processes and ports of a local harness: free ports, guarded servers, log tails."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from restate_lambda.local.guard import guarded

LOOPBACK = "127.0.0.1"
"""Where everything the harness starts listens: nothing is reachable from another machine."""


def loopback_url(port: int) -> str:
    """The URL of a server of the harness on ``port``: the one way the harness spells its addresses."""
    return f"http://{LOOPBACK}:{port}"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a later bind may still race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_until_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """True once something listens on ``port``; False if ``process`` exited or ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while not port_is_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        # Often: a server's start is waited for on every harness start, and a connect refused costs nothing.
        time.sleep(0.02)
    return True


def stop_all(parts: list[Any]) -> None:
    """Stop each started part (anything with ``stop()``), newest first, emptying the list; safe to call twice.

    Every part gets its stop even when an earlier one fails: nothing started may be left running.
    """
    while parts:
        part = parts.pop()
        with contextlib.suppress(Exception):
            part.stop()


def start_guarded(
    command: list[str], *, log: IO[bytes], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server of the harness under :mod:`restate_lambda.local.guard`, in a session of its own.

    Its own session keeps the terminal's signals (Ctrl-C, a closed terminal) away from it: the harness
    stops it in order. The guard ends it when the harness's process is gone, however that happened.
    """
    return subprocess.Popen(
        guarded(command),
        stdin=subprocess.PIPE,  # held, never written: its end closing is what tells the guard
        stdout=log,
        stderr=subprocess.STDOUT,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL: nothing it started may outlive it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stdin is not None:
        process.stdin.close()


def log_text(path: Path, start: int = 0, limit: int = 200_000) -> str:
    """What a log file holds from byte ``start`` on (a server's current run), at most its last ``limit`` bytes."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(start, log.tell() - limit))
            return log.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file, for error messages and failed tests."""
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(log_text(path).splitlines()[-lines:])

"""Run a command that must not outlive the harness, even when the harness's process is killed with ``kill -9``.

``python guard.py -- <command> ...`` runs the command as its child, in its own process group,
and reads its own stdin: a pipe whose other end only the harness's process holds and never writes to.
However that process ends (a clean stop, ``SIGHUP`` from a closed terminal, ``kill -9``), the kernel
closes that end; the read returns, and the guard stops its child and everything in its group.
restate-server, the Kafka JVM and moto run this way (:func:`restate_lambda.local.processes.start_guarded`), so no
orphan keeps their ports after a crash.

A parent-death signal (``PR_SET_PDEATHSIG``) would be lighter, but it fires when the *thread* that
started the child ends, and a harness may be started from any thread (a pytest fixture, a reloader).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

STOP_PATIENCE_SECONDS = 10.0


def guarded(command: list[str]) -> list[str]:
    """``command`` run under the guard: start it with ``stdin=subprocess.PIPE`` and keep that pipe open."""
    # By path, not as ``-m restate_lambda.local.guard``: importing the package would cost every server
    # start time, and the guard needs nothing but the standard library.
    return [sys.executable, str(Path(__file__).resolve()), "--", *command]


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: python guard.py -- <command> [arguments...]", file=sys.stderr)
        return 2
    # A clean stop signals the whole group, the child included: the guard itself just waits for the child,
    # so that the child gets the signal once (a second SIGTERM makes some servers skip their shutdown).
    for stop_signal in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(stop_signal, signal.SIG_IGN)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_default_stop_signals)

    def stop_when_the_harness_is_gone() -> None:
        sys.stdin.buffer.read()
        child.terminate()
        try:
            child.wait(timeout=STOP_PATIENCE_SECONDS)
        finally:
            # Whatever the child started in turn is in this group too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=stop_when_the_harness_is_gone, daemon=True).start()
    return child.wait()


def _default_stop_signals() -> None:
    # Ignored signals stay ignored across exec: the child must get them as usual.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(stop_signal, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The local stack's own behaviour, beyond what the pattern tests exercise."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from restate_lambda.local.record import StackRecord, process_start_time
from restate_lambda.registration.admin import RestateAdmin

from functions.catalog import pattern_named
from functions.data_upload.storage import bucket_name, uploaded_data
from local.demo import running_stack_problem
from local.processes import PROJECT_ROOT
from local.stack import LocalStack, StackPorts
from tests.polling import wait_until

# --- restarts: what `make dev` promises (state survives), on a stack of its own -----------------------------


@pytest.fixture
def restartable(tmp_path) -> Iterator[Callable[[], LocalStack]]:
    """Starts the data_upload pattern's stack; each call stops the running one and starts it again, same state."""
    ports = StackPorts.random()
    settings = {"UPLOAD_MIN_SECONDS": "4", "UPLOAD_MAX_SECONDS": "4"}
    running: list[LocalStack] = []

    def start() -> LocalStack:
        if running:
            running.pop().stop()
        stack = LocalStack(
            state_dir=tmp_path,
            ports=ports,
            patterns=[pattern_named("data_upload")],
            with_kafka=False,
            function_settings=settings,
            http_apis=(),
        ).start()
        running.append(stack)
        return stack

    yield start
    for stack in running:
        stack.stop()


def upload_step_attempts(stack: LocalStack, upload_id: str) -> int:
    """How often the upload step has started (it logs its start; the bucket step before it is over by then)."""
    assert stack.lambda_runtime is not None
    log = stack.lambda_runtime.log_path("data_upload").read_text(errors="replace")
    return sum(f"to bucket {bucket_name(upload_id)} " in line for line in log.splitlines())


@pytest.mark.fault
def test_an_upload_in_flight_when_the_stack_restarts_finishes_and_its_url_serves_the_data(restartable, unique):
    stack = restartable()
    upload_id = f"restart-{unique}"
    sent = httpx.post(f"{stack.ingress_url}/DataUploadService/{upload_id}/Run/send", timeout=30)
    assert sent.status_code == 202, sent.text
    # Not the bucket's existence: the bucket step ends its Lambda invocation, and under load the upload
    # step (4 s, in one invocation) may not have started yet when the workers are killed.
    wait_until(lambda: upload_step_attempts(stack, upload_id), "the upload step under way")

    # The stack's shutdown lets a running invocation finish; a crash does not. Both end in a restart here.
    for worker in stack.lambda_runtime.pools["data_upload"].live_workers():
        worker.kill()
    stack = restartable()

    attach = f"{stack.ingress_url}/restate/workflow/DataUploadService/{upload_id}/attach"
    url = httpx.get(attach, timeout=120).json()
    assert httpx.get(url, timeout=10).text == uploaded_data(upload_id)
    assert upload_step_attempts(stack, upload_id) >= 2, "the upload step was interrupted and ran again"

    stack = restartable()  # and what was uploaded before a restart is still there after it
    assert httpx.get(url, timeout=10).text == uploaded_data(upload_id)


# --- the stack process itself: `make dev` ended by a closed terminal or `kill -9` -------------------------


class StackProcess:
    """`python -m local.stack` on free ports, as `make dev` runs it, with its output collected."""

    def __init__(self, state_dir: Path) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--state-dir", str(state_dir), "--no-kafka", "--random-ports"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        admin_url = wait_until(self.admin_url, "the stack's banner", timeout=120)
        assert admin_url is not None
        RestateAdmin(admin_url).wait_until_healthy(timeout=30)
        self.servers = [group.pid for group in StackRecord(state_dir).server_groups()]
        assert len(self.servers) == 2, self.lines  # moto and restate-server (no Kafka here)

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def admin_url(self) -> str | None:
        found = [line.split()[-1] for line in self.lines if line.strip().startswith("Admin API + UI")]
        return found[0] if found else None

    def servers_alive(self) -> list[int]:
        return [pid for pid in self.servers if process_start_time(pid) is not None]


@pytest.mark.fault
def test_a_stack_killed_with_sigkill_leaves_no_server_behind_and_the_next_start_works(tmp_path):
    killed = StackProcess(tmp_path)
    killed.process.kill()
    killed.process.wait()
    wait_until(lambda: not killed.servers_alive(), "the servers of the killed stack to end", timeout=30)

    again = StackProcess(tmp_path)  # same state dir, so the record of the killed one is there
    again.process.terminate()
    assert again.process.wait(timeout=60) == 0, again.lines
    assert not again.servers_alive()


@pytest.mark.fault
def test_a_closed_terminal_sighup_stops_the_stack_in_order(tmp_path):
    stack = StackProcess(tmp_path)
    stack.process.send_signal(signal.SIGHUP)
    assert stack.process.wait(timeout=60) == 0, stack.lines
    assert not stack.servers_alive()
    assert not (tmp_path / "stack.json").exists(), "a clean stop leaves no record to clean up after"


def test_a_second_stack_on_the_same_state_dir_is_refused_while_the_first_runs(tmp_path):
    first = StackProcess(tmp_path)
    try:
        with pytest.raises(RuntimeError, match=rf"another local stack \(pid {first.process.pid}\)"):
            StackRecord(tmp_path).claim()
    finally:
        first.process.terminate()
        first.process.wait(timeout=60)


def test_make_demo_uses_a_running_stack_only_if_it_answers_as_one(stack):
    assert running_stack_problem(stack.ports) is None
    orphaned_server_only = dataclasses.replace(stack.ports, lambda_runtime=StackPorts.random().lambda_runtime)
    assert running_stack_problem(orphaned_server_only) is not None
    assert running_stack_problem(StackPorts.random()) is not None

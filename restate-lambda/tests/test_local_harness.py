"""restate_lambda.local used the way another project uses it: its public API only, handlers written here.

Real restate-server on free ports, the handlers in worker processes; no Docker, nothing beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from restate_lambda.local import (
    MINIMUM_VERSION,
    TESTED_VERSION,
    Function,
    LocalHarness,
    RestateServerNotFound,
    VersionExists,
    find_restate_server,
)
from restate_lambda.local.processes import port_is_open
from restate_lambda.local.record import process_start_time
from restate_lambda.local.restate_server import check_version

HANDLERS = """
import os

import restate

hello = restate.Service("Hello")


@hello.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    return f"{os.environ.get('GREETING', 'Hello')}, {name}!"


@hello.handler()
async def where(ctx: restate.Context) -> dict:
    return {name: os.environ.get(name, "") for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")}


@hello.handler()
async def fail(ctx: restate.Context) -> str:
    raise RuntimeError("fails every time")


app = restate.app(services=[hello])
"""


def project(folder: Path) -> Path:
    """A project of someone else's: one handler module, nothing of this repository."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.py").write_text(HANDLERS)
    return folder


@pytest.fixture(scope="module")
def restate_server() -> Path:
    return find_restate_server(start=Path(__file__).parent)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, restate_server: Path) -> Iterator[LocalHarness]:
    source = project(tmp_path_factory.mktemp("project"))
    functions = {"hello": Function("hello:app", memory_mb=256)}
    with LocalHarness(functions, source=source, restate_server=restate_server) as started:
        yield started


def test_a_handler_is_registered_by_a_local_arn_and_answers_through_the_ingress(harness: LocalHarness) -> None:
    assert harness.function_arn("hello").endswith(":function:hello:1")
    assert harness.deployments["hello"].services == ("Hello",)
    assert harness.ingress.post("/Hello/greet", json="World").json() == "Hello, World!"


def test_the_handler_runs_with_lambdas_environment_and_its_log_has_lambdas_report_lines(harness: LocalHarness) -> None:
    assert harness.ingress.post("/Hello/where").json() == {
        "AWS_LAMBDA_FUNCTION_NAME": "hello",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }
    log = harness.log("hello")
    assert "START RequestId:" in log and "END RequestId:" in log
    assert "Memory Size: 256 MB" in log and "Init Duration:" in log


def test_a_published_version_is_registered_and_a_version_of_unchanged_code_is_refused(harness: LocalHarness) -> None:
    before = harness.function_arn("hello")
    after = harness.publish("hello", environment={"GREETING": "Howdy"})
    assert after != before and harness.function_arn("hello") == after
    assert harness.ingress.post("/Hello/greet", json="World").json() == "Howdy, World!"
    with pytest.raises(VersionExists):
        harness.publish("hello")


def test_killed_workers_are_replaced_and_the_next_call_answers(harness: LocalHarness) -> None:
    harness.ingress.post("/Hello/greet", json="warm").raise_for_status()
    assert harness.kill_workers("hello") >= 1
    assert harness.ingress.post("/Hello/greet", json="again").status_code == 200


def test_an_invocation_that_keeps_failing_is_listed_as_retrying_until_killed(harness: LocalHarness) -> None:
    sent = harness.ingress.post("/Hello/fail/send").json()
    eventually(lambda: any(line.startswith(sent["invocationId"]) for line in harness.retrying_invocations()))
    assert "fails every time" in harness.log("hello")
    httpx.patch(f"{harness.admin_url}/invocations/{sent['invocationId']}/kill", timeout=30).raise_for_status()
    harness.wait_until_nothing_retries()
    harness.wait_until_idle()


def test_a_handler_that_cannot_be_imported_fails_the_start_with_its_log(tmp_path: Path, restate_server: Path) -> None:
    (tmp_path / "broken.py").write_text("import restate\nraise ImportError('no such thing')\n")
    with pytest.raises(RuntimeError, match="registering broken") as failed:
        LocalHarness({"broken": "broken:app"}, source=tmp_path, restate_server=restate_server).start()
    assert "no such thing" in str(failed.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.py"]


# --- where restate-server comes from ------------------------------------------------------------------------


def fake_server(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho restate-server {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_without_restate_server_the_error_gives_the_npm_install_line_and_the_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RestateServerNotFound) as missing:
        find_restate_server(start=tmp_path)
    message = str(missing.value)
    assert f"npm install @restatedev/restate-server@{TESTED_VERSION}" in message
    assert f"restate-server {MINIMUM_VERSION} or later" in message


def test_node_modules_above_the_folder_wins_over_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = fake_server(tmp_path / "node_modules" / ".bin" / "restate-server", TESTED_VERSION)
    on_path = fake_server(tmp_path / "bin" / "restate-server", TESTED_VERSION)
    monkeypatch.setenv("PATH", str(on_path.parent))
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    assert find_restate_server(start=nested) == local
    assert find_restate_server(start=tmp_path.parent / "elsewhere") == on_path
    assert find_restate_server(on_path) == on_path


def test_a_restate_server_older_than_the_minimum_is_refused_naming_the_fix(tmp_path: Path) -> None:
    old = fake_server(tmp_path / "restate-server", "1.5.3")
    with pytest.raises(RuntimeError, match=r"restate-server 1\.5\.3; the harness needs") as refused:
        check_version(old)
    assert f"npm install @restatedev/restate-server@{TESTED_VERSION}" in str(refused.value)


# --- clean exits --------------------------------------------------------------------------------------------

OWNER = """
import json, sys
from restate_lambda.local import LocalHarness

harness = LocalHarness({"hello": "hello:app"}, restate_server=sys.argv[1]).start()
harness.ingress.post("/Hello/greet", json="World").raise_for_status()
workers = [worker.process.pid for pool in harness.runtime.pools_of("hello") for worker in pool.live_workers()]
ports = [harness.ports.ingress, harness.ports.admin, harness.ports.lambda_runtime]
print(json.dumps({"pids": harness.server_pids() + workers, "ports": ports, "base": str(harness.base_dir)}), flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("ending", [signal.SIGKILL, signal.SIGHUP], ids=["kill -9", "SIGHUP"])
def test_a_harness_whose_process_dies_leaves_no_process_and_nothing_in_the_project(
    tmp_path: Path, restate_server: Path, ending: signal.Signals
) -> None:
    folder = project(tmp_path / "project")
    started: dict[str, Any] = {}
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OWNER), str(restate_server)],
        cwd=folder,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        alive = {pid: process_start_time(pid) for pid in started["pids"]}
        assert all(alive.values()), "the servers and the worker run while the harness does"
        os.kill(owner.pid, ending)
        owner.wait(timeout=30)
        eventually(lambda: not [pid for pid, since in alive.items() if process_start_time(pid) == since])
        eventually(lambda: not [port for port in started["ports"] if port_is_open(port)])
    finally:
        if owner.poll() is None:
            owner.kill()
        # The temporary folder is the system's, not the project's: a harness killed outright cannot remove it.
        shutil.rmtree(str(started.get("base", tmp_path / "none")), ignore_errors=True)
    assert sorted(path.name for path in folder.iterdir()) == ["hello.py"]


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)

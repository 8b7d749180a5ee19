"""What the package's local harness costs a user's suite, measured for `make bench`.

* **Start-up ÷ bare server**: ``LocalHarness({"greeter": ...})`` from nothing to restate-server up,
  the function registered and a first call answered, divided by a bare restate-server's own start
  to a healthy admin API (the same binary, started directly, ``/health`` polled every 20 ms). Runs
  alternate, in the same run, so that both see the same machine; medians are compared.
* **Per-test overhead**: a user's suite of tests that each take a fresh key and make one call on one
  shared harness (the pytest plugin's ``restate_lambda_ingress`` and ``restate_lambda_key``), run by
  a pytest of its own. pytest's own phase durations give, per test after the first, the fixtures'
  setup and teardown and the whole test. The first test's setup is the harness's start and the last
  one's teardown its stop: both are left out of the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from restate_lambda.local import Function, LocalHarness, find_restate_server
from restate_lambda.local.processes import free_port, stop_process, tail
from restate_lambda.local.restate_server import RestatePorts, RestateServer

from local.processes import PROJECT_ROOT

GREETER = PROJECT_ROOT / "restate-lambda" / "examples" / "greeter" / "greeter"
HEALTH_POLL_SECONDS = 0.02
PHASES_HOOK = """
import json, os

import pytest

from restate_lambda.local import Function

pytest_plugins = ["restate_lambda.local.pytest_plugin"]


@pytest.fixture(scope="session")
def restate_lambda_functions():
    return {"greeter": Function("service.app", source=os.environ["GREETER_SOURCE"])}


def pytest_runtest_logreport(report):
    with open(os.environ["PHASES_FILE"], "a") as phases:
        phases.write(json.dumps([report.nodeid, report.when, report.duration, report.passed]) + "\\n")
"""
SUITE = """
import pytest


@pytest.mark.parametrize("run", range({tests}))
def test_one_call_with_a_fresh_key(restate_lambda_ingress, restate_lambda_key, run):
    answer = restate_lambda_ingress.post("/Greeter/greet", json=restate_lambda_key)
    assert answer.json() == f"Hello, {{restate_lambda_key}}!"
"""


@dataclass(frozen=True)
class Startup:
    harness_seconds: list[float]
    bare_seconds: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.harness_seconds) / statistics.median(self.bare_seconds)


@dataclass(frozen=True)
class PerTest:
    tests: int
    fixture_ms: float
    """Median setup + teardown of a test after the first: what the plugin's fixtures add to it."""
    test_ms: float
    """Median of a whole test after the first: its fixtures and its one call through Restate."""
    harness_start_ms: float
    """The first test's setup: the session's harness starting."""


def bare_start_seconds(restate_server: Path, work: Path) -> float:
    """restate-server started directly, until its admin API answers ``/health`` with 200."""
    ports = RestatePorts(ingress=free_port(), admin=free_port(), node=free_port())
    server = RestateServer(work / "restate", ports, "http://127.0.0.1:1", work / "restate-server.log")
    command = server.command(restate_server)
    (server.base_dir / "tmp").mkdir(parents=True)
    with server.log_file.open("ab") as log, httpx.Client(timeout=1) as client:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=server.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while True:
                try:
                    if client.get(f"{server.admin_url}/health").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() - started > 60:
                    raise RuntimeError(f"restate-server did not become healthy:\n{tail(server.log_file)}")
                time.sleep(HEALTH_POLL_SECONDS)
        finally:
            stop_process(process)


def harness_start_seconds(work: Path) -> float:
    """A harness from nothing to its first answer: restate-server up, the greeter registered, one call."""
    started = time.monotonic()
    with LocalHarness({"greeter": Function("service.app", source=GREETER)}, base_dir=work) as harness:
        harness.ingress.post("/Greeter/greet", json="bench").raise_for_status()
        return time.monotonic() - started


def startup(runs: int) -> Startup:
    restate_server = find_restate_server(start=PROJECT_ROOT)
    harness, bare = [], []
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as folder:
        for run in range(runs):
            bare.append(bare_start_seconds(restate_server, Path(folder) / f"bare-{run}"))
            harness.append(harness_start_seconds(Path(folder) / f"harness-{run}"))
    return Startup(harness, bare)


def per_test(tests: int) -> PerTest:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as folder:
        project = Path(folder)
        (project / "conftest.py").write_text(PHASES_HOOK)
        (project / "test_suite.py").write_text(SUITE.format(tests=tests))
        restate_server = find_restate_server(start=PROJECT_ROOT)
        (project / "pytest.ini").write_text(f"[pytest]\nrestate_lambda_restate_server = {restate_server}\n")
        phases_file = project / "phases.jsonl"
        environment = {
            **os.environ,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "GREETER_SOURCE": str(GREETER),
            "PHASES_FILE": str(phases_file),
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        ran = subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, check=False)
        if ran.returncode != 0:
            raise RuntimeError(f"the suite failed:\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
        by_test: dict[str, dict[str, float]] = {}
        for line in phases_file.read_text().splitlines():
            nodeid, when, duration, _ = json.loads(line)
            by_test.setdefault(nodeid, {})[when] = duration
    first, *rest, _last = by_test.values()
    return PerTest(
        tests=tests,
        fixture_ms=statistics.median(test["setup"] + test["teardown"] for test in rest) * 1000,
        test_ms=statistics.median(sum(test.values()) for test in rest) * 1000,
        harness_start_ms=first["setup"] * 1000,
    )

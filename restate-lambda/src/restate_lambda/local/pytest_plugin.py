"""The local harness as pytest fixtures: one harness per session, a fresh key per test, log tails on failure.

Installed with ``restate-lambda[local]`` it loads itself (the ``pytest11`` entry point); with plugin
autoloading off, name it in your root ``conftest.py``: ``pytest_plugins = ["restate_lambda.local.pytest_plugin"]``.
Say what to serve by overriding a fixture in a ``conftest.py``::

    @pytest.fixture(scope="session")
    def restate_lambda_functions():
        return {"greeter": Function("service:app", source=Path(__file__).parent / "greeter")}

or in the ini file, one function a line (``source`` is relative to the rootdir)::

    [tool.pytest.ini_options]
    restate_lambda_functions = ["greeter=greeter.service:app"]

Fixtures: ``restate_lambda_harness`` (session; a started :class:`~restate_lambda.local.LocalHarness`),
``restate_lambda_ingress`` (its httpx client), ``restate_lambda_key`` (a fresh key per test), and the
two to override: ``restate_lambda_functions`` and ``restate_lambda_options`` (more harness options:
``aws=True``, ``kafka=True``, ``subscriptions=[...]``, ``environment={...}``). When a test that used
the harness fails, its report carries the tails of restate-server's log and of each function's.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import httpx
import pytest

from restate_lambda.local.harness import Function, LocalHarness

HARNESS_FIXTURE = "restate_lambda_harness"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("restate-lambda", "Restate handlers on the local Lambda path")
    group.addoption("--restate-server", default=None, help="the restate-server to run (else node_modules/.bin, PATH)")
    parser.addini("restate_lambda_functions", "functions to serve, one 'name=module:app' a line", type="linelist")
    parser.addini("restate_lambda_source", "folder the handlers are imported from, relative to the rootdir")
    parser.addini("restate_lambda_restate_server", "path of the restate-server to run")
    parser.addini("restate_lambda_aws", "start moto and point the functions' boto3 at it", type="bool", default=False)
    parser.addini("restate_lambda_kafka", "start a Kafka broker (needs java and mvn)", type="bool", default=False)


def parse_function(line: str) -> tuple[str, str]:
    """``"greeter=greeter.service:app"`` as ``("greeter", "greeter.service:app")``."""
    name, separator, handler = line.partition("=")
    if not separator or not name.strip() or not handler.strip():
        raise pytest.UsageError(f"restate_lambda_functions: expected 'name=module:app', got {line!r}")
    return name.strip(), handler.strip()


@pytest.fixture(scope="session")
def restate_lambda_functions(pytestconfig: pytest.Config) -> Mapping[str, str | Function]:
    """The functions to serve, by name: ``"module:app"`` or a :class:`Function`. Override it, or set the ini option."""
    lines: list[str] = pytestconfig.getini("restate_lambda_functions")
    if not lines:
        raise pytest.UsageError(
            "restate-lambda: no functions to serve. Override the restate_lambda_functions fixture in a "
            "conftest.py, or list them in the ini option restate_lambda_functions ('name=module:app')."
        )
    return dict(parse_function(line) for line in lines)


@pytest.fixture(scope="session")
def restate_lambda_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Keyword arguments for :class:`LocalHarness` beyond the functions; override it to add your own."""
    return {"aws": pytestconfig.getini("restate_lambda_aws"), "kafka": pytestconfig.getini("restate_lambda_kafka")}


@pytest.fixture(scope="session")
def restate_lambda_harness(
    pytestconfig: pytest.Config,
    restate_lambda_functions: Mapping[str, str | Function],
    restate_lambda_options: dict[str, Any],
) -> Iterator[LocalHarness]:
    """One started harness for the session: tests share it, each with keys of its own (``restate_lambda_key``)."""
    source = pytestconfig.getini("restate_lambda_source")
    defaults: dict[str, Any] = {
        "source": pytestconfig.rootpath / source if source else pytestconfig.rootpath,
        "restate_server": pytestconfig.getoption("--restate-server")
        or pytestconfig.getini("restate_lambda_restate_server")
        or None,
    }
    with LocalHarness(restate_lambda_functions, **{**defaults, **restate_lambda_options}) as harness:
        yield harness


@pytest.fixture
def restate_lambda_ingress(restate_lambda_harness: LocalHarness) -> httpx.Client:
    """An httpx client of the harness's ingress: ``restate_lambda_ingress.post("/Greeter/greet", json="World")``."""
    return restate_lambda_harness.ingress


@pytest.fixture
def restate_lambda_key() -> str:
    """A fresh key for this test (an object key, an idempotency key): tests share the harness, never state."""
    return uuid.uuid4().hex[:12]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and HARNESS_FIXTURE in getattr(item, "fixturenames", ()):
        harness = getattr(item, "funcargs", {}).get(HARNESS_FIXTURE)
        if isinstance(harness, LocalHarness):
            report.sections.append(("restate-lambda logs", harness.log_tails()))
    return report

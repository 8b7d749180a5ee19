"""Fixtures: one real local stack per test session, on random free ports.

The stack is the one `make dev` runs - restate-server, the local Lambda runtime serving the real
handler modules, moto - plus a few test-only functions (what they are set up with:
tests/stack_setup.py). Kafka starts only when a test asks for the ``kafka_stack`` fixture. Each
test gets its own keys (:func:`unique`), so tests share the stack without sharing state. When a
test fails, the tails of the server and function logs are printed with it. Every test is marked
by the folder it is in (:data:`KINDS`).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto import mock_aws
from restate_lambda.local.processes import tail
from restate_lambda.registration.admin import RestateAdmin

from local.lambda_runtime import FunctionSpec
from local.stack import LocalStack, StackPorts
from tests.cdk_support import TOKEN
from tests.stack_setup import FRONT_DOOR_WITHOUT_RESTATE, TEST_FUNCTIONS, TEST_SETTINGS, assert_nothing_left_retrying


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


KINDS = {
    "unit": (),
    "stack": (pytest.mark.stack,),
    "cdk": (pytest.mark.synth,),
    "chaos": (pytest.mark.stack, pytest.mark.fault),
}
"""What each folder of tests/ holds, by the markers `make unit` and `make chaos` select on."""
PACKAGE_TESTS = {"test_cdk_": (pytest.mark.synth,), "test_local_": (pytest.mark.stack,)}
"""restate-lambda's own tests, by file name: the constructs synthesize, the harness starts Restate."""


def kind_markers(path: Path) -> tuple[pytest.MarkDecorator, ...]:
    parts = path.parts
    if "examples" in parts:  # an example app's tests run it on the harness
        return (pytest.mark.stack,)
    if "restate-lambda" in parts:
        return next((marks for prefix, marks in PACKAGE_TESTS.items() if path.name.startswith(prefix)), ())
    kind = parts[parts.index("tests") + 1] if "tests" in parts else ""
    if kind not in KINDS:
        raise pytest.UsageError(f"{path}: a test belongs in one of tests/{{{','.join(KINDS)}}}/")
    return KINDS[kind]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test by the folder it is in: what `make unit` leaves out is ``stack`` and ``synth``."""
    for item in items:
        for marker in kind_markers(item.path):
            item.add_marker(marker)


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def _start_stack(tmp_path_factory: pytest.TempPathFactory, name: str, with_kafka: bool) -> LocalStack:
    state_dir = tmp_path_factory.mktemp(name)
    probe_dir = state_dir / "probe"
    probe_dir.mkdir()
    functions = tuple(
        FunctionSpec(
            spec.name,
            spec.handler,
            spec.timeout_seconds,
            spec.memory_mb,
            {"PROBE_DIR": str(probe_dir)},
            spec.max_concurrency,
        )
        for spec in TEST_FUNCTIONS
    )
    return LocalStack(
        state_dir=state_dir,
        ports=StackPorts.random(),
        with_kafka=with_kafka,
        function_settings=TEST_SETTINGS,
        extra_functions=(*functions, FRONT_DOOR_WITHOUT_RESTATE),
    ).start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """restate-server + local Lambda runtime + moto, every catalog function registered by ARN."""
    started = _start_stack(tmp_path_factory, "stack", with_kafka=False)
    yield started
    try:
        assert_nothing_left_retrying(started)
    finally:
        started.stop()


@pytest.fixture(scope="session")
def kafka_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The same stack with a real Kafka broker, cluster `my-cluster` and the catalog's subscriptions."""
    started = _start_stack(tmp_path_factory, "kafka-stack", with_kafka=True)
    yield started
    try:
        assert_nothing_left_retrying(started)
    finally:
        started.stop()


def _log_files(stack: LocalStack) -> list[Path]:
    return sorted(stack.log_dir.rglob("*.log"))


@pytest.fixture(autouse=True)
def show_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not _failed(request):
        return
    for name in ("stack", "kafka_stack"):
        if name in request.fixturenames:
            running: LocalStack = request.getfixturevalue(name)
            for path in _log_files(running):
                print(f"\n----- {path.name} (last lines) -----\n{tail(path, 40)}")


@pytest.fixture
def token_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a secret holding the admin token, in an in-process moto."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="restate/admin-token", SecretString=TOKEN)
        yield "restate/admin-token"


@pytest.fixture
def unique() -> str:
    """A fresh key for this test: product ids, task ids, ... never collide across tests or runs."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def ingress(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.ingress_url, timeout=60) as client:
        yield client


@pytest.fixture
def admin(stack: LocalStack) -> RestateAdmin:
    return stack.admin()

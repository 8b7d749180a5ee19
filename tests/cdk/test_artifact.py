"""The shipped artifact works: a pattern's Lambda bundle, built by the CDK app's own bundling code, runs.

The bundle is built for this machine (its architecture and Python version) instead of Lambda's
(arm64, 3.13), so that the local Lambda runtime can load its native wheels; everything else is
the code path ``cdk synth`` takes. The bundle is served as the function's code root, registered
through the registration handler with an invoker role that restate-server assumes through STS
(the session's moto), and the pattern is called through the ingress. The front door's bundle, with
its own requirements, answers Function URL events from its own packages alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from restate_lambda.registration.custom_resource import handler

from functions.catalog import HTTP_APIS, PATTERNS, HttpApi, Pattern, http_api_named, pattern_named
from local.function_url import function_url_event
from local.lambda_runtime import FunctionSpec
from local.stack import LocalStack
from stacks.bundling import bundle_http_api, bundle_pattern, host_target, requirement_files, requirements_file
from tests.cdk_support import PrivateRestate, cfn_event, lambda_context, private_restate

pytestmark = pytest.mark.artifact

PATTERN = pattern_named("durable_rpc")
HOST = host_target()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return bundle_pattern(PATTERN, tmp_path_factory.mktemp("bundle") / "durable_rpc", HOST)


@pytest.fixture(scope="module")
def restate(bundle, stack, tmp_path_factory) -> Iterator[PrivateRestate]:
    function = FunctionSpec(
        name=PATTERN.name,
        handler=PATTERN.handler,
        timeout_seconds=PATTERN.timeout_seconds,
        memory_mb=PATTERN.memory_mb,
        # Bytecode written next to the imported modules shows where they came from (empty = allowed).
        environment={**PATTERN.settings, "PYTHONDONTWRITEBYTECODE": ""},
        code_root=bundle,
    )
    with private_restate([function], tmp_path_factory.mktemp("artifact"), aws_endpoint=stack.aws.url) as started:
        yield started


@pytest.fixture
def local_aws(stack: LocalStack, monkeypatch) -> None:
    """boto3 in this process (the registration handler) talks to the session's moto."""
    for name, value in {**stack.aws.function_environment(), "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)


def test_the_bundle_holds_the_pattern_its_shared_code_and_target_wheels_only(bundle):
    machine = "aarch64" if HOST.architecture == "arm64" else "x86_64"
    tag = f"cpython-{HOST.python_version.replace('.', '')}-{machine}-linux-gnu"
    assert (bundle / "functions" / "durable_rpc" / "service.py").is_file()
    assert (bundle / "functions" / "common" / "validation.py").is_file()
    folders = sorted(path.name for path in (bundle / "functions").iterdir() if path.is_dir())
    assert folders == ["__pycache__", "common", "durable_rpc"]
    assert list((bundle / "pydantic_core").glob(f"_pydantic_core.{tag}.so"))
    assert list((bundle / "restate").glob(f"_internal.{tag}.so"))
    assert not list(bundle.rglob("README*")), "no README ships"
    # The front door's web framework comes with its own requirements file, not with every pattern.
    assert not [name for name in ("fastapi", "starlette", "mangum", "httpx") if (bundle / name).exists()]


def test_the_bundled_function_registers_through_the_handler_and_serves_the_ingress(bundle, restate, local_aws, unique):
    boto3.client("secretsmanager").create_secret(Name=f"restate/token-{unique}", SecretString="artifact-token")
    role = boto3.client("iam").create_role(RoleName=f"restate-invoker-{unique}", AssumeRolePolicyDocument="{}")
    arn = restate.runtime.function_arn(PATTERN.name, "1")
    properties = {
        "AdminUrl": restate.server.admin_url,
        "AuthTokenSecretId": f"restate/token-{unique}",
        "FunctionVersionArn": arn,
        "AssumeRoleArn": role["Role"]["Arn"],
        "Services": list(PATTERN.services),
        "PrivateServices": [],
        "RemovalPolicy": "retain",
        "PruneOldDeployments": "false",
    }

    registered = handler(cfn_event("Create", "Custom::RestateDeployment", properties), lambda_context(120))

    assert registered["PhysicalResourceId"] == arn and registered["Data"]["Services"] == "ProductService"
    ingress = restate.server.ingress_url
    reserve = f"{ingress}/ProductService/{unique}/Reserve"
    assert httpx.post(reserve, headers={"idempotency-key": "a"}, timeout=60).json() is True
    assert httpx.post(reserve, headers={"idempotency-key": "b"}, timeout=60).json() is False
    assert httpx.post(reserve, headers={"idempotency-key": "a"}, timeout=60).json() is True


def test_the_bundle_imports_from_its_own_bytecode_on_a_read_only_code_folder(bundle, tmp_path):
    # As on Lambda: /var/task is read-only, so Python can only use the bytecode the bundle ships.
    code = tmp_path / "task"
    shutil.copytree(bundle, code, symlinks=True)
    for path in code.rglob("*"):
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        imported = subprocess.run(
            [sys.executable, "-v", "-c", "import functions.durable_rpc.service"],
            cwd=code,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(code)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for path in code.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
    assert imported.returncode == 0, imported.stderr[-2000:]
    # `python -v` names the cached code object it loads, and each module it had to compile instead.
    loaded = [line for line in imported.stderr.splitlines() if line.startswith("# code object from")]
    for module in (
        "functions/durable_rpc/__pycache__/service",
        "restate/__pycache__/context",
        "pydantic/__pycache__/main",
    ):
        assert any(f"{code}/{module}." in line for line in loaded), f"{module} was not loaded from its bytecode"
    compiled_here = [line for line in imported.stderr.splitlines() if str(code) in line and "could not create" in line]
    assert not compiled_here, compiled_here[:5]


FRONT_DOOR_CHECK = """
import json, sys
import fastapi, functions.front_door.api as api
for event in json.load(sys.stdin):
    answer = api.handler(event, None)
    print(json.dumps({"status": answer["statusCode"], "body": json.loads(answer["body"])}))
print(json.dumps({"fastapi": fastapi.__file__, "api": api.__file__}))
"""


@pytest.fixture(scope="module")
def front_door_bundle(tmp_path_factory) -> Path:
    return bundle_http_api(
        http_api_named("front_door"),
        tmp_path_factory.mktemp("bundle") / "front_door",
        HOST,
    )


def test_the_front_door_bundle_answers_function_url_events_from_its_own_packages(front_door_bundle):
    def event(method: str, target: str, body: bytes = b"") -> dict[str, object]:
        headers = [("host", "abc.lambda-url.us-east-1.on.aws"), ("content-type", "application/json")]
        return function_url_event(method, target, headers, body, source_ip="192.0.2.1", account="1", port=443)

    events = [event("GET", "/openapi.json"), event("POST", "/tasks", b'{"id": "t1", "delay": "soon"}')]
    # -S: no site-packages, so every import below comes from the bundle (or the standard library).
    ran = subprocess.run(
        [sys.executable, "-S", "-c", FRONT_DOOR_CHECK],
        input=json.dumps(events),
        cwd=front_door_bundle,
        env={"PYTHONPATH": str(front_door_bundle), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    openapi, invalid, origin = (json.loads(line) for line in ran.stdout.strip().splitlines()[-3:])
    assert openapi["status"] == 200 and "/products/{productId}/reserve" in openapi["body"]["paths"]
    # Validation runs before anything is sent to Restate, so no ingress is needed for the 422.
    assert invalid["status"] == 422 and "description" in invalid["body"]["message"], invalid
    assert all(Path(path).is_relative_to(front_door_bundle) for path in origin.values()), origin


@pytest.mark.parametrize("built", ["bundle", "front_door_bundle"])
def test_a_bundle_carries_no_demo_no_client_and_nothing_of_the_local_stack(built, request):
    bundle: Path = request.getfixturevalue(built)
    code = [path.relative_to(bundle) for path in (bundle / "functions").rglob("*.py")]
    assert code and not [path.as_posix() for path in code if path.name in ("demo.py", "client.py")]
    assert not [folder for folder in ("local", "stacks") if (bundle / folder).exists()]


def test_only_a_pattern_built_on_aws_calls_ships_boto3_the_others_use_the_runtimes(bundle):
    # The bundle above is durable_rpc's, built from the shared requirements, which leave boto3 to Lambda's runtime.
    assert not [name for name in ("boto3", "botocore", "s3transfer") if (bundle / name).exists()]
    entries: list[Pattern | HttpApi] = [*PATTERNS, *HTTP_APIS]
    shipping_boto3 = {
        entry.name
        for entry in entries
        if any(
            line.startswith("boto3==")
            for path in requirement_files(requirements_file(entry))
            for line in path.read_text().splitlines()
        )
    }
    assert shipping_boto3 == {"data_upload"}

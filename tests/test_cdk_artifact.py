"""The shipped artifact works: a pattern's Lambda bundle, built by the CDK app's own bundling code, runs.

The bundle is built for this machine (its architecture and Python version) instead of Lambda's
(arm64, 3.13), so that the local Lambda runtime can load its native wheels; everything else is
the code path ``cdk synth`` takes. The bundle is served as the function's code root, registered
through the registration handler with an invoker role that restate-server assumes through STS
(the session's moto), and the pattern is called through the ingress.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from functions.catalog import pattern_named
from functions.registration.custom_resource import handler
from local.lambda_runtime import FunctionSpec
from local.stack import LocalStack
from stacks.bundling import Target, bundle_pattern
from tests.cdk_support import LambdaContext, PrivateRestate, cfn_event, private_restate

PATTERN = pattern_named("durable_rpc")
HOST_ARCHITECTURE = {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return bundle_pattern(
        PATTERN, tmp_path_factory.mktemp("bundle") / "durable_rpc", Target(HOST_ARCHITECTURE, HOST_PYTHON)
    )


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
    machine = "aarch64" if HOST_ARCHITECTURE == "arm64" else "x86_64"
    tag = f"cpython-{HOST_PYTHON.replace('.', '')}-{machine}-linux-gnu"
    assert (bundle / "functions" / "durable_rpc" / "service.py").is_file()
    assert (bundle / "functions" / "common" / "validation.py").is_file()
    assert sorted(path.name for path in (bundle / "functions").iterdir() if path.is_dir()) == ["common", "durable_rpc"]
    assert list((bundle / "pydantic_core").glob(f"_pydantic_core.{tag}.so"))
    assert list((bundle / "restate").glob(f"_internal.{tag}.so"))
    assert not list(bundle.rglob("__pycache__")), "nothing compiled for the host"


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

    registered = handler(cfn_event("Create", "Custom::RestateDeployment", properties), LambdaContext(120))

    assert registered["PhysicalResourceId"] == arn and registered["Data"]["Services"] == "ProductService"
    ingress = restate.server.ingress_url
    reserve = f"{ingress}/ProductService/{unique}/Reserve"
    assert httpx.post(reserve, headers={"idempotency-key": "a"}, timeout=60).json() is True
    assert httpx.post(reserve, headers={"idempotency-key": "b"}, timeout=60).json() is False
    assert httpx.post(reserve, headers={"idempotency-key": "a"}, timeout=60).json() is True
    # Python leaves compiled files beside what it imported: the pattern and the SDK came from the bundle.
    assert list((bundle / "functions" / "durable_rpc" / "__pycache__").glob("service.*.pyc"))
    assert list((bundle / "restate" / "__pycache__").glob("*.pyc"))

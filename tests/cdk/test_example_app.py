"""The constructs as another team would use them: the example app, built from the wheel in a fresh venv.

The wheel (``make package``) and the example's requirements go into a new virtual environment,
offline (``make install`` keeps their wheels in ``.state/wheelhouse``), the example's CDK app is
synthesized there, and its template checked. Then the greeter runs on the local Lambda path, and
the registration handler *as installed from the wheel* registers it with a local restate-server,
with the properties the synthesized template gives it: a call through the ingress answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.lambda_runtime import FunctionSpec
from local.processes import PROJECT_ROOT, STATE_DIR
from tests.cdk_support import PrivateRestate, cfn_event, private_restate

PACKAGE = PROJECT_ROOT / "restate-lambda"
EXAMPLE = PACKAGE / "examples" / "greeter"
WHEELHOUSE = STATE_DIR / "wheelhouse"
ENVIRONMENT_ID = "env_201example"
RUN_HANDLER = """
import json, sys, time
from restate_lambda.registration.custom_resource import handler

class Context:
    deadline = time.monotonic() + 120
    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)

print(json.dumps(handler(json.load(sys.stdin), Context())))
"""


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **options)
    assert ran.returncode == 0, f"{' '.join(command)} failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    return ran


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with nothing but the wheel and the example's requirements."""
    assert WHEELHOUSE.is_dir(), "make install downloads the example's requirements into .state/wheelhouse"
    work = tmp_path_factory.mktemp("example")
    # Built from a copy: setuptools leaves a build/ folder beside the sources it builds.
    source = work / "restate-lambda"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    run([*wheel, "-w", str(work / "dist"), str(source)])
    run([sys.executable, "-m", "venv", str(work / "venv")])
    python = work / "venv" / "bin" / "python"
    links = ["--find-links", str(WHEELHOUSE), "--find-links", str(work / "dist")]
    run([str(python), "-m", "pip", "install", "-q", "--no-index", *links, "-r", str(EXAMPLE / "requirements.txt")])
    return python


@pytest.fixture(scope="module")
def template(fresh_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cdk.out")
    # Synthesized as the CDK CLI runs it; bundling is left out (it would fetch the greeter's wheels).
    context = {"greeter:environmentId": ENVIRONMENT_ID, "aws:cdk:bundling-stacks": []}
    environment = {**os.environ, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps(context)}
    environment.pop("PYTHONPATH", None)
    run([str(fresh_venv), "app.py"], cwd=EXAMPLE, env=environment)
    document: dict[str, Any] = json.loads((out / "greeter.template.json").read_text())
    return document


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [resource for resource in template["Resources"].values() if resource["Type"] == kind]


def test_the_wheel_installs_without_the_project_and_the_example_synthesizes(template):
    (function,) = [
        resource["Properties"]
        for resource in resources_of(template, "AWS::Lambda::Function")
        if resource["Properties"].get("Handler") == "service.app"
    ]
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    (deployment,) = [resource["Properties"] for resource in resources_of(template, "Custom::RestateDeployment")]
    assert deployment["AdminUrl"] == "https://201example.env.us.restate.cloud:9070"
    assert deployment["Services"] == ["Greeter"] and deployment["AuthTokenSecretId"] == "restate/api-key"
    assert deployment["ServiceTimeout"]
    trust = json.dumps([resource["Properties"] for resource in resources_of(template, "AWS::IAM::Role")])
    assert f'"sts:ExternalId": "{ENVIRONMENT_ID}"' in trust


@pytest.fixture(scope="module")
def greeter_restate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRestate]:
    function = FunctionSpec(name="greeter", handler="service.app", code_root=EXAMPLE / "greeter")
    with private_restate([function], tmp_path_factory.mktemp("greeter")) as started:
        yield started


def test_the_example_registered_by_the_installed_handler_answers_through_the_ingress(
    fresh_venv, template, greeter_restate
):
    (deployment,) = [resource["Properties"] for resource in resources_of(template, "Custom::RestateDeployment")]
    local = {
        # What differs locally: this Restate, a local ARN, no API key, no role to assume.
        "AdminUrl": greeter_restate.server.admin_url,
        "AuthTokenSecretId": "",
        "FunctionVersionArn": greeter_restate.runtime.function_arn("greeter", "1"),
        "AssumeRoleArn": "",
    }
    properties = {key: value for key, value in deployment.items() if key != "ServiceToken"}
    event = cfn_event("Create", "Custom::RestateDeployment", {**properties, **local})
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    ran = run([str(fresh_venv), "-c", RUN_HANDLER], input=json.dumps(event), env=environment, cwd="/")

    answer = json.loads(ran.stdout.strip().splitlines()[-1])
    assert answer["Data"]["Services"] == "Greeter"
    greeting = httpx.post(f"{greeter_restate.server.ingress_url}/Greeter/greet", json="World", timeout=60)
    assert greeting.status_code == 200 and greeting.json() == "Hello, World!"

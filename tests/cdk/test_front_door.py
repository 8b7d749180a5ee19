"""The catalog's HTTP APIs (the front door) in the CDK app, and each function's own requirements.

Templates are synthesized as in test_cdk_template.py (bundling off, cdk-nag on: any
unacknowledged finding fails the synth, so each variant here is also checked by cdk-nag). The
bundle checks read the bundler's inputs instead of running pip, and import the front door from a
copy of exactly the sources its bundle gets; test_cdk_artifact.py runs a real front door bundle.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from functions.catalog import (
    HTTP_APIS,
    INGRESS_KEY_SECRET_VARIABLE,
    INGRESS_KEY_VARIABLE,
    INGRESS_URL_VARIABLE,
    PATTERNS,
)
from stacks.app import (
    STRIPE_WEBHOOK_ROUTES,
    STRIPE_WEBHOOK_WARNING,
    WEBHOOK_PATTERN,
    build_app,
    stripe_webhook_warning,
)
from stacks.bundling import (
    PROJECT_ROOT,
    REQUIREMENTS,
    asset_inputs,
    copy_sources,
    http_api_sources,
    pattern_sources,
    requirement_files,
    requirements_file,
)
from stacks.config import CONTEXT_KEYS, PUBLIC_URL_RESERVED_CONCURRENCY, ConfigError, deployment_config
from stacks.http_api_stack import (
    ADMIN_KEY_WARNING,
    PUBLIC_URL_WARNING,
    admin_key_warning,
    public_url_warning,
)
from tests.cdk.test_template import (
    EXAMPLES_ALLOWED,
    MAKE_SYNTH,
    NO_BUNDLING,
    SELF_HOSTED,
    function_role_id,
    only,
    policy_statements_of_role,
    resources,
    strings,
)

FRONT_DOOR = next(api for api in HTTP_APIS if api.name == "front_door")
WEB_PACKAGES = {"fastapi", "starlette", "mangum", "httpx"}
"""What only the front door needs; none of it may land in a pattern's bundle."""
INGRESS_KEY_SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:restate/ingress-key-XyZ123"
MADE_BY_MAKE_SYNTH = {**NO_BUNDLING, **EXAMPLES_ALLOWED}
PUBLIC = {
    **MADE_BY_MAKE_SYNTH,
    "frontDoor:functionUrlAuth": "NONE",
    "restate:ingressKeySecret": INGRESS_KEY_SECRET,
    "frontDoor:settings": {"FRONT_DOOR_UPLOAD_WAIT_SECONDS": "8"},
}


class Synthesized:
    def __init__(self, outdir: Path, context: dict[str, Any]) -> None:
        self.assembly = build_app(context, outdir=str(outdir)).synth()
        self.templates = {stack.hierarchical_id: dict(stack.template) for stack in self.assembly.stacks}

    def warnings(self, stack_id: str) -> list[str]:
        return [
            str(message.entry.data)
            for message in self.assembly.get_stack_artifact(stack_id).messages
            if message.entry.type == "aws:cdk:warning"
        ]


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk-front-door"), MADE_BY_MAKE_SYNTH)


@pytest.fixture(scope="module")
def public(tmp_path_factory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk-front-door-public"), PUBLIC)


@pytest.fixture(scope="module")
def self_hosted(tmp_path_factory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk-front-door-self-hosted"), SELF_HOSTED)


def front_door(synthesized: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    template = synthesized.templates[FRONT_DOOR.name]
    _, function = only(template, "AWS::Lambda::Function")
    return template, function["Properties"]


def secret_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every policy statement of the stack (inline and managed) that mentions Secrets Manager."""
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in json.dumps(statement)
    ]


def secret_arns(template: dict[str, Any]) -> set[str]:
    """Every secret the template names in an ARN, as the ARN's text from ``secret:`` on."""
    flat = json.dumps(template, sort_keys=True)
    return set(re.findall(r"secret:[A-Za-z0-9/_+=.@-]+(?:\?{6})?", flat))


def test_every_http_api_is_a_stack_named_after_it_with_an_arm64_python_313_function(default):
    for api in HTTP_APIS:
        assert api.name in default.templates, f"cdk deploy {api.name} (make deploy PATTERN={api.name}) needs it"
        _, function = only(default.templates[api.name], "AWS::Lambda::Function")
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["Handler"] == api.handler == f"functions.{api.name}.api.handler"
        assert properties["FunctionName"] == f"restate-patterns-{api.name}"
        assert properties["Timeout"] == api.timeout_seconds and properties["MemorySize"] == api.memory_mb


def test_the_function_url_needs_iam_auth_by_default_and_is_an_output(default):
    template, _ = front_door(default)
    function_id, _ = only(template, "AWS::Lambda::Function")
    url_id, url = only(template, "AWS::Lambda::Url")
    assert url["Properties"] == {"AuthType": "AWS_IAM", "TargetFunctionArn": {"Fn::GetAtt": [function_id, "Arn"]}}
    # Nothing public: no resource-based permission lets anyone in.
    assert not resources(template, "AWS::Lambda::Permission")
    assert template["Outputs"]["FunctionUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert not [warning for warning in default.warnings(FRONT_DOOR.name) if PUBLIC_URL_WARNING in warning]


@pytest.mark.parametrize("variant", ["default", "self-hosted"])
def test_calling_the_ingress_with_the_admin_key_is_warned_about_at_synth(variant, default, self_hosted):
    synthesized = {"default": default, "self-hosted": self_hosted}[variant]
    (warning,) = synthesized.warnings(FRONT_DOOR.name)
    assert warning.startswith(admin_key_warning(FRONT_DOOR)) and ADMIN_KEY_WARNING in warning
    assert "restate:ingressKeySecret" in warning and "exposes the admin key" in warning


def test_a_key_of_its_own_is_not_warned_about(public):
    assert not [warning for warning in public.warnings(FRONT_DOOR.name) if ADMIN_KEY_WARNING in warning]


def test_the_caller_policy_allows_calling_this_url_and_nothing_else(default):
    template, _ = front_door(default)
    function_id, _ = only(template, "AWS::Lambda::Function")
    policy_id, policy = only(template, "AWS::IAM::ManagedPolicy")
    assert template["Outputs"]["CallerPolicyArn"]["Value"] == {"Ref": policy_id}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {(s["Action"], json.dumps(s["Condition"], sort_keys=True)) for s in statements} == {
        ("lambda:InvokeFunctionUrl", '{"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}'),
        ("lambda:InvokeFunction", '{"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}'),
    }
    assert all(s["Resource"] == {"Fn::GetAtt": [function_id, "Arn"]} for s in statements)


def test_the_switch_makes_the_url_public_with_a_warning_at_synth(public):
    template, _ = front_door(public)
    _, url = only(template, "AWS::Lambda::Url")
    assert url["Properties"]["AuthType"] == "NONE"
    permissions = sorted(
        (p["Properties"]["Action"], p["Properties"]["Principal"])
        for p in resources(template, "AWS::Lambda::Permission").values()
    )
    # Lambda asks for both since October 2025; without the second every request is a 403.
    assert permissions == [("lambda:InvokeFunction", "*"), ("lambda:InvokeFunctionUrl", "*")]
    assert not resources(template, "AWS::IAM::ManagedPolicy") and "CallerPolicyArn" not in template["Outputs"]
    (warning,) = public.warnings(FRONT_DOOR.name)
    # CDK appends the id users could acknowledge it by.
    expected = public_url_warning(FRONT_DOOR, PUBLIC_URL_RESERVED_CONCURRENCY)
    assert warning.startswith(expected) and PUBLIC_URL_WARNING in warning
    assert "frontDoor:functionUrlAuth" in expected and "frontDoor:reservedConcurrency=10" in expected


# --- reserved concurrency -------------------------------------------------------------------------------------


def reserved_concurrency_of(synthesized: Synthesized) -> Any:
    template = Template.from_json(synthesized.templates[FRONT_DOOR.name])
    template.resource_count_is("AWS::Lambda::Function", 1)
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    return function["Properties"].get("ReservedConcurrentExecutions")


def test_a_public_url_gets_a_bounded_reserved_concurrency_by_default(public):
    # Anonymous callers can then neither take the account's concurrency from the patterns Restate
    # invokes nor scale the function (and the bill) without bound: Lambda throttles the excess.
    assert PUBLIC_URL_RESERVED_CONCURRENCY == 10
    Template.from_json(public.templates[FRONT_DOOR.name]).has_resource_properties(
        "AWS::Lambda::Function", {"ReservedConcurrentExecutions": PUBLIC_URL_RESERVED_CONCURRENCY}
    )
    assert "default 10 with functionUrlAuth `NONE`" in CONTEXT_KEYS["frontDoor:reservedConcurrency"]


@pytest.mark.parametrize("variant", ["default", "self-hosted"])
def test_an_iam_url_reserves_nothing_unless_the_key_says_so(variant, default, self_hosted):
    synthesized = {"default": default, "self-hosted": self_hosted}[variant]
    Template.from_json(synthesized.templates[FRONT_DOOR.name]).has_resource_properties(
        "AWS::Lambda::Function", {"ReservedConcurrentExecutions": Match.absent()}
    )
    assert reserved_concurrency_of(synthesized) is None


def test_the_key_sets_the_reservation_whatever_the_auth(tmp_path):
    synthesized = Synthesized(tmp_path, {**MADE_BY_MAKE_SYNTH, "frontDoor:reservedConcurrency": "25"})
    assert reserved_concurrency_of(synthesized) == 25
    Template.from_json(synthesized.templates[FRONT_DOOR.name]).has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "AWS_IAM"}
    )

    def reservation(**keys: Any) -> int | None:
        return deployment_config({**MAKE_SYNTH, **keys}).http_apis[FRONT_DOOR.name].reserved_concurrency

    assert reservation(**{"frontDoor:functionUrlAuth": "NONE", "frontDoor:reservedConcurrency": 3}) == 3
    assert reservation(**{"frontDoor:functionUrlAuth": "NONE"}) == PUBLIC_URL_RESERVED_CONCURRENCY
    assert reservation(**{"frontDoor:functionUrlAuth": "AWS_IAM"}) is None


@pytest.mark.parametrize(
    ("value", "message"), [("0", "must be positive"), ("-5", "must be positive"), ("ten", "must be a whole number")]
)
def test_the_reservation_must_be_a_positive_whole_number(value, message):
    with pytest.raises(ConfigError, match=f"^context frontDoor:reservedConcurrency {message}"):
        deployment_config({**MAKE_SYNTH, "frontDoor:functionUrlAuth": "NONE", "frontDoor:reservedConcurrency": value})
    # Blank is the default, as for every number key.
    deployment_config({**MAKE_SYNTH, "frontDoor:reservedConcurrency": ""})


# --- Stripe webhooks and Restate Cloud's ingress ---------------------------------------------------------------


def test_webhooks_aimed_at_the_cloud_ingress_are_warned_about_at_synth(default, public):
    # The front door has no webhook route, so nothing deployed is an address Stripe could use instead,
    # with the front door's URL public (public) or not (default).
    for synthesized in (default, public):
        (warning,) = [w for w in synthesized.warnings(WEBHOOK_PATTERN) if STRIPE_WEBHOOK_WARNING in w]
        assert "Restate Cloud's ingress accepts only requests that carry an API key" in warning
        assert "None of the deployed HTTP APIs (front_door) has a webhook route" in warning
        assert "authenticating proxy" in warning and "Point Stripe" not in warning


def test_a_self_hosted_ingress_is_not_warned_about(self_hosted):
    assert not [w for w in self_hosted.warnings(WEBHOOK_PATTERN) if STRIPE_WEBHOOK_WARNING in w]


def test_an_api_with_a_webhook_route_is_where_the_warning_points_stripe():
    routes = {FRONT_DOOR.name: "/webhooks/stripe"}
    behind_iam = stripe_webhook_warning(deployment_config(MAKE_SYNTH), [FRONT_DOOR], routes)
    assert behind_iam is not None
    assert "Function URL (its FunctionUrl output) plus /webhooks/stripe" in behind_iam
    assert "frontDoor:functionUrlAuth=NONE" in behind_iam and "authenticating proxy" not in behind_iam
    public = deployment_config({**MAKE_SYNTH, "frontDoor:functionUrlAuth": "NONE"})
    assert stripe_webhook_warning(public, [FRONT_DOOR], routes) is None, "Stripe can deliver there"
    alone = stripe_webhook_warning(public, [], routes)
    assert alone is not None and "No HTTP API is deployed." in alone


def front_door_routes() -> set[str]:
    """The paths of the front door's routes, read from its source (importing it would fix its configuration)."""
    source = PROJECT_ROOT / "functions" / "front_door" / "api.py"
    return {
        str(decorator.args[0].value)
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and isinstance(decorator.func.value, ast.Name)
        and decorator.func.value.id == "api"
        and decorator.args
        and isinstance(decorator.args[0], ast.Constant)
    }


def test_the_declared_webhook_routes_are_the_front_door_s_own():
    routes = front_door_routes()
    assert {"/products/{productId}/reserve", "/tasks", "/tasks/{taskId}", "/uploads"} <= routes
    webhook_routes = {route for route in routes if re.search("webhook|stripe", route, re.IGNORECASE)}
    declared = {STRIPE_WEBHOOK_ROUTES[FRONT_DOOR.name]} if FRONT_DOOR.name in STRIPE_WEBHOOK_ROUTES else set()
    assert webhook_routes == declared, "declare a webhook route in STRIPE_WEBHOOK_ROUTES (stacks/app.py)"


def test_the_switch_and_the_settings_are_checked():
    with pytest.raises(ConfigError, match="frontDoor:functionUrlAuth must be AWS_IAM or NONE"):
        deployment_config({**MAKE_SYNTH, "frontDoor:functionUrlAuth": "PUBLIC"})
    with pytest.raises(ConfigError, match="frontDoor:settings sets \\['FRONT_DOOR_WAIT'\\]"):
        deployment_config({**MAKE_SYNTH, "frontDoor:settings": {"FRONT_DOOR_WAIT": "1"}})
    with pytest.raises(ConfigError, match="use frontDoor:settings"):
        deployment_config({**MAKE_SYNTH, "patterns:settings": {"front_door": {"FRONT_DOOR_UPLOAD_WAIT_SECONDS": "1"}}})
    with pytest.raises(ConfigError, match="restate:ingressKeySecret looks like the secret itself"):
        deployment_config({**MAKE_SYNTH, "restate:ingressKeySecret": "key_10abcdefghijklmnopqrstuvwxyz0123"})
    lower_case = deployment_config({**MAKE_SYNTH, "frontDoor:functionUrlAuth": "none"})
    assert lower_case.http_apis["front_door"].function_url_auth == "NONE"


def test_the_environment_names_the_ingress_the_key_secret_and_the_settings(default, public):
    _, properties = front_door(default)
    assert properties["Environment"]["Variables"] == {
        **FRONT_DOOR.settings,
        INGRESS_URL_VARIABLE: "https://201example0000000000000000.env.us.restate.cloud",
        # No dedicated ingress key configured: the admin key's secret.
        INGRESS_KEY_SECRET_VARIABLE: MAKE_SYNTH["restate:cloud:apiKeySecret"],
    }
    _, properties = front_door(public)
    variables = properties["Environment"]["Variables"]
    assert variables[INGRESS_KEY_SECRET_VARIABLE] == INGRESS_KEY_SECRET
    assert variables["FRONT_DOOR_UPLOAD_WAIT_SECONDS"] == "8"
    assert variables["FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS"] == FRONT_DOOR.settings["FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS"]


@pytest.mark.parametrize("variant", ["default", "public", "self-hosted"])
def test_the_function_may_read_exactly_the_one_key_secret(variant, default, public, self_hosted):
    synthesized, expected = {
        "default": (default, ":secret:restate/admin-api-key-??????"),
        "public": (public, INGRESS_KEY_SECRET),
        "self-hosted": (self_hosted, SELF_HOSTED["restate:selfHosted:authTokenSecret"]),
    }[variant]
    template, _ = front_door(synthesized)
    granted = [
        statement
        for statement in policy_statements_of_role(template, function_role_id(template))
        if not all(action.startswith("logs:") for action in _actions(statement))
    ]
    assert len(granted) == 1, granted
    (statement,) = granted
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    assert sorted(_actions(statement)) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert expected in json.dumps(statement["Resource"]), statement["Resource"]
    assert secret_statements(template) == [statement], "no other Secrets Manager access anywhere in the stack"
    assert secret_arns(template) == {f"secret:{expected.split(':secret:')[1]}"}, "no other secret named"


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_no_secret_value_reaches_the_template(default, public, self_hosted):
    for synthesized in (default, public, self_hosted):
        template, properties = front_door(synthesized)
        assert INGRESS_KEY_VARIABLE not in properties["Environment"]["Variables"], "the key itself, never"
        assert not resources(template, "AWS::SecretsManager::Secret")
        assert not [text for text in strings(template) if "{{resolve:" in text]


def test_self_hosted_the_api_runs_where_the_registration_runs_and_calls_its_ingress(self_hosted):
    _, properties = front_door(self_hosted)
    assert properties["Architectures"] == ["x86_64"]
    assert properties["VpcConfig"] == {
        "SubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
        "SecurityGroupIds": ["sg-0cccccccccccccccc"],
    }
    assert properties["Environment"]["Variables"][INGRESS_URL_VARIABLE] == SELF_HOSTED["restate:selfHosted:ingressUrl"]


def test_self_hosted_without_an_ingress_url_the_apis_are_left_out_with_a_warning(tmp_path, capsys):
    context = {**SELF_HOSTED, "restate:selfHosted:ingressUrl": ""}
    synthesized = Synthesized(tmp_path, context)
    assert FRONT_DOOR.name not in synthesized.templates
    assert set(synthesized.templates) >= {pattern.name for pattern in PATTERNS}
    assert "not deploying front_door" in capsys.readouterr().err


# --- per-function requirements ---------------------------------------------------------------------------------


def requirement_names(requirements: Path) -> dict[str, str]:
    """Package name -> the whole line, across ``requirements`` and what it includes."""
    names: dict[str, str] = {}
    for path in requirement_files(requirements):
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names[re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower()] = line
    return names


def test_patterns_install_the_shared_requirements_without_the_web_framework():
    for pattern in PATTERNS:
        own = requirements_file(pattern)
        # data_upload adds the boto3 its S3 and SES calls were tested with; the others take the runtime's.
        expected = [own, REQUIREMENTS] if pattern.name == "data_upload" else [REQUIREMENTS]
        assert requirement_files(own) == expected, pattern.name
    shared = requirement_names(REQUIREMENTS)
    assert {"restate-sdk", "pydantic"} <= set(shared) and "boto3" not in shared
    assert not WEB_PACKAGES & set(shared)


def test_the_front_door_installs_the_shared_requirements_plus_its_own_pinned_ones():
    own = requirements_file(FRONT_DOOR)
    assert own == PROJECT_ROOT / "functions" / "front_door" / "requirements.txt"
    assert requirement_files(own) == [own, REQUIREMENTS]
    names = requirement_names(own)
    assert requirement_names(REQUIREMENTS).items() <= names.items(), "the shared pins, unchanged"
    assert set(names) >= WEB_PACKAGES
    assert all("==" in names[package] for package in WEB_PACKAGES), "pinned exactly, as the shared ones"
    # requirements-dev.txt installs it too, so that the tests and make dev import the same versions.
    dev = (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r functions/front_door/requirements.txt" in dev


def test_a_function_s_own_requirements_change_only_its_own_asset():
    front_door_file = requirements_file(FRONT_DOOR)
    for pattern in PATTERNS:
        inputs = asset_inputs(pattern_sources(pattern.name), requirements_file(pattern))
        assert front_door_file not in inputs and REQUIREMENTS in inputs, pattern.name
    inputs = asset_inputs(http_api_sources(FRONT_DOOR), front_door_file)
    assert front_door_file in inputs and REQUIREMENTS in inputs


def test_included_requirement_files_are_followed_relative_to_the_includer(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "base.txt").write_text("pydantic==2.14.4\n-c constraints.txt  # pins\n")
    (tmp_path / "constraints.txt").write_text("--requirement=base.txt\n")
    (tmp_path / "a" / "requirements.txt").write_text("-r ../base.txt\nfastapi==0.163.2\n")
    assert requirement_files(tmp_path / "a" / "requirements.txt") == [
        tmp_path / "a" / "requirements.txt",
        tmp_path / "base.txt",
        tmp_path / "constraints.txt",
    ]


def test_an_api_bundle_holds_the_modules_its_handler_imports_and_imports_from_them_alone(tmp_path):
    sources = http_api_sources(FRONT_DOOR)
    relative = {source.relative_to(PROJECT_ROOT).as_posix() for source in sources}
    # The pattern's own email check the API reuses, found through its imports; not the pattern's service.
    assert "functions/data_upload/email_address.py" in relative
    assert "functions/data_upload/service.py" not in relative
    copy_sources(sources, tmp_path)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "RESTATE_", "AWS_"))
    }
    imported = subprocess.run(
        [sys.executable, "-c", "import functions, functions.front_door.api as api; print(functions.__file__)"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(tmp_path), "imported from the copy, not the project"

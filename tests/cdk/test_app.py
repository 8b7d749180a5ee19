"""Invariants of the whole CDK app that no single template shows: what its stacks share in one account.

Each variant synthesizes every stack together, as ``cdk deploy --all`` would deploy them: Restate
Cloud (cdk.json with the example switch of ``make synth``) with an MSK cluster, and a self-hosted
Restate. Bundling is off as in test_cdk_template.py. The checks are about names that must not
collide in an account and region (inline policies on the one shared invoker role, functions, log
groups, exports), references between stacks, secrets and what the invoker role may invoke.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from functions.catalog import HTTP_APIS, PATTERNS
from stacks.app import SHARED_STACK_ID, build_app
from stacks.bundling import PROJECT_ROOT
from stacks.config import CONTEXT_KEYS, ConfigError, deployment_config
from tests.cdk.test_template import CDK_JSON, CLOUD, MAKE_SYNTH, SELF_HOSTED, resources, strings

INGRESS_KEY_SECRET = "arn:aws:secretsmanager:us-east-1:111111111111:secret:restate/ingress-api-key-AbCdEf"
VARIANTS: dict[str, dict[str, Any]] = {
    "cloud": {
        **CLOUD,
        "restate:ingressKeySecret": INGRESS_KEY_SECRET,
        "patterns:settingSecrets": {"webhook_callbacks": {"STRIPE_WEBHOOK_SECRET": "restate-patterns/stripe-webhook"}},
    },
    "self-hosted": SELF_HOSTED,
}

PHYSICAL_NAMES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
}
"""Names that are unique per account and region, where a template sets one."""

SECRET_VALUE = re.compile(r"key_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]+|Bearer |-----BEGIN|\"password\"")
"""What a Restate API key, a Stripe signing secret, a bearer token, a PEM key or SASL credentials look like."""


@dataclass(frozen=True)
class Stack:
    id: str
    name: str
    template: dict[str, Any]
    dependencies: frozenset[str]
    """Ids of the stacks deployed before it."""


@dataclass(frozen=True)
class Resource:
    """A resource of the app, told apart from same-named ones in other stacks."""

    stack: str
    logical_id: str


def synthesize(outdir: Path, context: dict[str, Any]) -> dict[str, Stack]:
    assembly = build_app(context, outdir=str(outdir)).synth()
    return {
        stack.hierarchical_id: Stack(
            id=stack.hierarchical_id,
            name=stack.stack_name,
            template=dict(stack.template),
            dependencies=frozenset(dependency.id for dependency in stack.dependencies),
        )
        for stack in assembly.stacks
    }


@pytest.fixture(scope="module", params=list(VARIANTS))
def app(request, tmp_path_factory) -> dict[str, Stack]:
    return synthesize(tmp_path_factory.mktemp(f"cdk-app-{request.param}"), VARIANTS[request.param])


def exports(app: dict[str, Stack]) -> dict[str, tuple[str, Any]]:
    """Export name -> (exporting stack id, exported value)."""
    found: dict[str, tuple[str, Any]] = {}
    for stack in app.values():
        for output in stack.template.get("Outputs", {}).values():
            if "Export" in output:
                name = output["Export"]["Name"]
                assert isinstance(name, str), f"{stack.id}: an export name must be resolved at synth, got {name!r}"
                assert name not in found, f"export {name} of {stack.id} and {found[name][0]}"
                found[name] = (stack.id, output["Value"])
    return found


def imports(value: Any) -> Iterator[Any]:
    """Every ``Fn::ImportValue`` argument anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Fn::ImportValue":
                yield item
            else:
                yield from imports(item)
    elif isinstance(value, list):
        for item in value:
            yield from imports(item)


def referenced_resource(app: dict[str, Stack], stack_id: str, reference: Any) -> Resource:
    """The resource a ``Ref`` names, in this stack or, through an import, in the stack that exports it."""
    if isinstance(reference, dict) and set(reference) == {"Ref"}:
        return Resource(stack_id, reference["Ref"])
    if isinstance(reference, dict) and set(reference) == {"Fn::ImportValue"}:
        exporter, value = exports(app)[reference["Fn::ImportValue"]]
        return referenced_resource(app, exporter, value)
    raise AssertionError(f"{stack_id}: cannot tell which resource {reference!r} is")


def inline_policies(app: dict[str, Stack]) -> Iterator[tuple[Resource, str, dict[str, Any], str]]:
    """(role, policy name, policy document, where) of every inline policy of the app, on every role it names."""
    for stack in app.values():
        for logical_id, resource in stack.template["Resources"].items():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Policy":
                for role in properties.get("Roles", []):
                    yield (
                        referenced_resource(app, stack.id, role),
                        properties["PolicyName"],
                        properties["PolicyDocument"],
                        f"{stack.id}/{logical_id}",
                    )
            elif resource["Type"] == "AWS::IAM::Role":
                for policy in properties.get("Policies", []):
                    role = Resource(stack.id, logical_id)
                    yield role, policy["PolicyName"], policy["PolicyDocument"], f"{stack.id}/{logical_id}"


def invoker_role(app: dict[str, Stack]) -> Resource:
    (logical_id,) = [
        name for name in resources(app[SHARED_STACK_ID].template, "AWS::IAM::Role") if name.startswith("InvokerRole")
    ]
    return Resource(SHARED_STACK_ID, logical_id)


def duplicates(names: list[Any]) -> list[Any]:
    return [name for name, count in Counter(names).items() if count > 1]


def test_inline_policy_names_are_unique_per_role_across_all_stacks(app):
    named = [(role, name) for role, name, _, _ in inline_policies(app)]
    assert all(isinstance(name, str) for _, name in named), "every policy name resolved at synth"
    assert not duplicates(named), "CloudFormation would overwrite one stack's inline policy with another's"
    on_invoker = [name for role, name in named if role == invoker_role(app)]
    assert len(on_invoker) == len(PATTERNS), "one policy of its own from each pattern stack"


def physical_names(app: dict[str, Stack]) -> dict[str, list[Any]]:
    """Every name the app gives something that is unique per account and region, by kind."""
    names: dict[str, list[Any]] = {kind: [] for kind in (*PHYSICAL_NAMES.values(), "StackName", "ExportName")}
    for stack in app.values():
        names["StackName"].append(stack.name)
        for resource in stack.template["Resources"].values():
            name_property = PHYSICAL_NAMES.get(resource["Type"])
            if name_property and name_property in resource.get("Properties", {}):
                names[name_property].append(resource["Properties"][name_property])
    names["ExportName"].extend(exports(app))
    names["PolicyName"] = [(role, name) for role, name, _, _ in inline_policies(app)]
    return names


def test_physical_names_are_unique_across_the_app(app):
    names = physical_names(app)
    for kind, found in names.items():
        assert not duplicates([json.dumps(name, sort_keys=True, default=str) for name in found]), kind
    functions = len(PATTERNS) + len(HTTP_APIS) + 1  # and the registration function
    assert len(names["FunctionName"]) == functions and len(names["LogGroupName"]) == functions
    assert len(names["StackName"]) == len(app) == len(PATTERNS) + len(HTTP_APIS) + 1


def test_two_app_instances_share_no_physical_name(tmp_path):
    """One Restate environment per app instance: a second prefix gives a second set of everything."""
    first = synthesize(tmp_path / "first", VARIANTS["cloud"])
    second = synthesize(tmp_path / "second", {**VARIANTS["cloud"], "app:namePrefix": "restate-patterns-b"})
    first_names, second_names = physical_names(first), physical_names(second)
    for kind in first_names:
        if kind == "PolicyName":
            continue  # per role, and the roles differ
        shared = {json.dumps(n, default=str) for n in first_names[kind]} & {
            json.dumps(n, default=str) for n in second_names[kind]
        }
        assert not shared, kind
    invoke_policies = {name for role, name, _, _ in inline_policies(second) if role == invoker_role(second)}
    assert all(name.startswith("restate-patterns-b-") for name in invoke_policies)


def test_every_import_has_an_export_of_another_stack_deployed_before_it(app):
    exported = exports(app)
    imported = 0
    for stack in app.values():
        for name in imports(stack.template):
            assert isinstance(name, str) and name in exported, f"{stack.id} imports {name!r}, which nothing exports"
            exporter, _ = exported[name]
            assert exporter != stack.id
            assert exporter in stack.dependencies, f"{stack.id} must deploy after {exporter}"
            imported += 1
    assert imported, "the pattern stacks use the shared stack's role and provider"


def test_no_template_holds_a_secret_value(app):
    for stack in app.values():
        found = [text for text in strings(stack.template) if SECRET_VALUE.search(text)]
        assert not found, f"{stack.id}: {found}"
        assert not resources(stack.template, "AWS::SecretsManager::Secret"), stack.id
        assert not [text for text in strings(stack.template) if "{{resolve:" in text], stack.id


SECRET_KEYS = (
    "restate:cloud:apiKeySecret",
    "restate:ingressKeySecret",
    "restate:selfHosted:authTokenSecret",
    "kafka:saslSecret",
)
PLANTED_VALUES = (
    "key_10PlantedAdminKey0000000000000000",
    "Bearer planted-admin-token",
    '{"username": "restate", "password": "planted-sasl-password"}',
)


def test_the_secret_keys_are_all_the_context_s_secret_keys():
    assert set(SECRET_KEYS) == {key for key in CONTEXT_KEYS if key.endswith("Secret")}


@pytest.mark.parametrize("key", SECRET_KEYS)
@pytest.mark.parametrize("value", PLANTED_VALUES)
def test_the_context_takes_secrets_by_reference_only(key, value):
    base = {**MAKE_SYNTH, **CLOUD} if not key.startswith("restate:selfHosted") else {**CDK_JSON, **SELF_HOSTED}
    with pytest.raises(ConfigError, match=f"context {key} ") as refused:
        deployment_config({**base, key: value})
    assert value not in str(refused.value), "the refusal does not repeat the secret"


def invoked_resources(document: dict[str, Any], effect: str) -> list[Any]:
    """The resources of ``document``'s statements with ``effect`` that cover lambda:InvokeFunction."""
    found = []
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == effect and {"lambda:InvokeFunction", "lambda:*", "*"} & set(actions):
            found.extend(statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    return found


def function_and_qualifier(resource: Any) -> tuple[Any, str | None]:
    """(the function, its qualifier or None for an unqualified ARN) of a function ARN as CDK writes it."""
    if isinstance(resource, dict) and "Fn::Join" in resource:
        separator, (function, *rest) = resource["Fn::Join"]
        if separator == "" and len(rest) == 1 and isinstance(rest[0], str) and rest[0].startswith(":"):
            return function, rest[0][1:]
        return resource, None
    if isinstance(resource, str) and resource.startswith("arn:"):
        parts = resource.split(":")
        return ":".join(parts[:7]), (parts[7] if len(parts) > 7 else None)
    return resource, None


def test_the_invoker_role_may_invoke_published_versions_only_never_latest(app):
    role = invoker_role(app)
    allowed, denied = [], []
    for policy_role, _, document, where in inline_policies(app):
        if policy_role != role:
            continue
        for resource in invoked_resources(document, "Allow"):
            function, qualifier = function_and_qualifier(resource)
            assert qualifier is not None, f"{where}: unqualified ARN, i.e. $LATEST: {resource!r}"
            assert qualifier != "$LATEST", f"{where}: {resource!r}"
            allowed.append((where.split("/")[0], json.dumps(function, sort_keys=True)))
        for resource in invoked_resources(document, "Deny"):
            function, qualifier = function_and_qualifier(resource)
            if qualifier == "$LATEST":
                denied.append((where.split("/")[0], json.dumps(function, sort_keys=True)))
    assert allowed and sorted(set(allowed)) == sorted(set(denied)), "$LATEST explicitly denied wherever allowed"
    assert {stack for stack, _ in allowed} == {pattern.name for pattern in PATTERNS}
    # Nor through a resource policy: the role's only way in is its identity policies.
    for stack in app.values():
        for permission in resources(stack.template, "AWS::Lambda::Permission").values():
            assert "InvokerRole" not in json.dumps(permission["Properties"]), stack.id


CONTEXT_KEY_MENTION = re.compile(r"(?<![\w.-])(?:restate|kafka|lambda|app|patterns|frontDoor)(?::[a-z][A-Za-z]*)+")
"""A context key as the README writes one (IAM actions such as lambda:InvokeFunction are capitalized)."""


def test_the_readme_names_only_context_keys_and_make_targets_that_exist():
    readme = "\n".join(page.read_text() for page in [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")])
    mentioned = set(CONTEXT_KEY_MENTION.findall(readme))
    assert mentioned and not mentioned - set(CONTEXT_KEYS), sorted(mentioned - set(CONTEXT_KEYS))
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"(?:^|`)make ([a-z][a-z-]*)", readme, re.MULTILINE))
    assert {"synth", "deploy"} <= targets
    assert not [target for target in targets if not re.search(rf"^{target}:", makefile, re.MULTILINE)]

"""Template assertions on the synthesized CDK app, with the context `cdk synth` uses (cdk.json).

Asset bundling is switched off here with CDK's ``aws:cdk:bundling-stacks`` context (an empty list:
bundle no stack), the documented way to synthesize templates without building assets; the
templates are otherwise what ``make synth`` writes. test_cdk_artifact.py builds a real bundle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from restate_lambda import LAMBDA_PYTHON_VERSION

from functions.catalog import HTTP_APIS, PATTERNS, AwsAccess, all_subscriptions, pattern_named, subscription_options
from stacks.app import SHARED_STACK_ID, build_app
from stacks.bundling import PROJECT_ROOT, Target, pattern_asset_hash
from stacks.config import (
    ALLOW_EXAMPLE_VALUES,
    EXAMPLE_BOOTSTRAP_SERVER,
    EXAMPLE_ENVIRONMENT_ID,
    MAX_REGISTRATION_TIMEOUT_SECONDS,
    ConfigError,
    deployment_config,
    project_context,
)
from stacks.nag import MIN_REASON_LENGTH
from stacks.pattern_permissions import own_account_condition
from stacks.pattern_stack import function_environment
from stacks.shared_stack import EXAMPLE_VALUES_WARNING, SASL_SECRET_KMS_KEY_WARNING

NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
CDK_JSON = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
EXAMPLES_ALLOWED: dict[str, Any] = {ALLOW_EXAMPLE_VALUES: True}
"""What ``make synth`` adds: cdk.json's example environment id synthesizes, with a warning."""
MAKE_SYNTH = {**CDK_JSON, **EXAMPLES_ALLOWED}
YOUR_ENVIRONMENT = {"restate:cloud:environmentId": "env_201abcdef"}
"""What a deploy gives instead of cdk.json's example."""

KMS_KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MSK: dict[str, Any] = {
    "kafka:bootstrapServers": "b-1.mycluster.abc123.c2.kafka.us-east-1.amazonaws.com:9096,"
    "b-2.mycluster.abc123.c2.kafka.us-east-1.amazonaws.com:9096",
    "kafka:properties": {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
    "kafka:saslSecret": "AmazonMSK_restate-patterns",
    "kafka:saslSecretKmsKey": KMS_KEY_ARN,
}
"""An MSK cluster with SASL/SCRAM, configured as the README shows."""
CLOUD = {**NO_BUNDLING, **EXAMPLES_ALLOWED, **MSK}

SELF_HOSTED = {
    **NO_BUNDLING,
    "restate:mode": "self-hosted",
    "restate:selfHosted:adminUrl": "https://restate.internal.example:9070",
    "restate:selfHosted:ingressUrl": "https://restate.internal.example:8080",
    "restate:selfHosted:authTokenSecret": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:restate-token-AbCdEf",
    "restate:selfHosted:invokerPrincipalArn": "arn:aws:iam::111111111111:role/restate-server",
    "restate:selfHosted:externalId": "restate-patterns-external-id",
    "restate:selfHosted:vpcId": "vpc-0123456789abcdef0",
    "restate:selfHosted:subnetIds": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
    "restate:selfHosted:securityGroupIds": ["sg-0cccccccccccccccc"],
    "restate:removalPolicy": "destroy",
    "restate:pruneOldDeployments": "true",
    "kafka:bootstrapServers": "",
    "lambda:architecture": "x86_64",
    "patterns:settingSecrets": {"webhook_callbacks": {"STRIPE_WEBHOOK_SECRET": "restate-patterns/stripe-webhook"}},
}


def synthesize(outdir: Path, context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Synthesize (running cdk-nag, which raises on any unacknowledged finding); templates by stack id."""
    assembly = build_app(context, outdir=str(outdir)).synth()
    return {stack.hierarchical_id: dict(stack.template) for stack in assembly.stacks}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[tuple[Path, dict[str, dict[str, Any]]]]:
    outdir = tmp_path_factory.mktemp("cdk-cloud")
    yield outdir, synthesize(outdir, CLOUD)


@pytest.fixture(scope="module")
def templates(cloud: tuple[Path, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return cloud[1]


@pytest.fixture(scope="module")
def self_hosted(tmp_path_factory) -> dict[str, dict[str, Any]]:
    return synthesize(tmp_path_factory.mktemp("cdk-self-hosted"), SELF_HOSTED)


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_the_context_is_cdk_json_as_the_cli_reads_it():
    assert {key: project_context()[key] for key in CDK_JSON} == CDK_JSON
    config = deployment_config({**project_context(), **EXAMPLES_ALLOWED})
    assert config.restate.mode == "cloud" and config.architecture == "arm64"
    assert config.restate.admin_url == "https://201example0000000000000000.env.us.restate.cloud:9070"
    assert config.kafka is None, "Kafka is off until a cluster is configured"
    assert config.example_values == ("restate:cloud:environmentId",)


def test_cdk_json_holds_the_example_environment_id_that_a_deploy_refuses():
    assert CDK_JSON["restate:cloud:environmentId"] == EXAMPLE_ENVIRONMENT_ID
    assert ALLOW_EXAMPLE_VALUES not in CDK_JSON, "only make synth passes the switch"
    with pytest.raises(ConfigError) as refused:
        deployment_config(CDK_JSON)
    message = str(refused.value)
    assert message.startswith("context restate:cloud:environmentId ")
    assert "-c restate:cloud:environmentId=env_..." in message and "cdk.json" in message
    assert deployment_config({**CDK_JSON, **YOUR_ENVIRONMENT}).example_values == ()


def test_the_example_kafka_broker_is_refused_without_the_switch():
    context = {**CDK_JSON, **YOUR_ENVIRONMENT}
    with pytest.raises(ConfigError, match=r"^context kafka:bootstrapServers names the example broker") as refused:
        deployment_config({**context, "kafka:bootstrapServers": EXAMPLE_BOOTSTRAP_SERVER})
    assert "-c kafka:bootstrapServers=" in str(refused.value)
    among_others = f"{MSK['kafka:bootstrapServers']},{EXAMPLE_BOOTSTRAP_SERVER}"
    with pytest.raises(ConfigError, match="kafka:bootstrapServers names the example broker"):
        deployment_config({**context, "kafka:bootstrapServers": among_others})
    assert deployment_config({**context, **MSK}).example_values == ()
    allowed = deployment_config({**MAKE_SYNTH, "kafka:bootstrapServers": EXAMPLE_BOOTSTRAP_SERVER})
    assert allowed.example_values == ("restate:cloud:environmentId", "kafka:bootstrapServers")


def test_a_synth_without_the_switch_is_refused_and_with_it_warns(tmp_path):
    with pytest.raises(ConfigError, match="restate:cloud:environmentId"):
        build_app(NO_BUNDLING, outdir=str(tmp_path / "refused"))
    assembly = build_app({**NO_BUNDLING, **EXAMPLES_ALLOWED}, outdir=str(tmp_path / "allowed")).synth()
    warnings = [
        str(message.entry.data)
        for message in assembly.get_stack_artifact(SHARED_STACK_ID).messages
        if message.entry.type == "aws:cdk:warning"
    ]
    assert [w for w in warnings if EXAMPLE_VALUES_WARNING in w and "restate:cloud:environmentId" in w], warnings


def make_recipe(target: str) -> str:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, target
    return match.group(1)


def test_make_synth_passes_the_example_switch_and_make_deploy_does_not():
    assert f"-c {ALLOW_EXAMPLE_VALUES}=true" in make_recipe("synth")
    assert ALLOW_EXAMPLE_VALUES not in make_recipe("deploy")


def test_the_example_switch_is_not_needed_where_no_example_value_is_used():
    config = deployment_config({**CDK_JSON, **SELF_HOSTED})
    assert config.example_values == ()


def test_every_pattern_gets_an_arm64_python_313_function_configured_from_the_catalog(templates):
    for pattern in PATTERNS:
        _, function = only(templates[pattern.name], "AWS::Lambda::Function")
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13", pattern.name
        assert properties["Architectures"] == ["arm64"], pattern.name
        assert properties["Handler"] == pattern.handler == f"functions.{pattern.name}.service.app"
        assert properties["FunctionName"] == f"restate-patterns-{pattern.name}"
        assert properties["Timeout"] == pattern.timeout_seconds
        assert properties["MemorySize"] == pattern.memory_mb
        assert properties.get("Environment", {}).get("Variables", {}) == dict(pattern.settings), pattern.name
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"


def test_each_function_publishes_a_version_that_deploys_never_delete(templates):
    for pattern in PATTERNS:
        template = templates[pattern.name]
        function_id, _ = only(template, "AWS::Lambda::Function")
        _, version = only(template, "AWS::Lambda::Version")
        assert version["Properties"]["FunctionName"] == {"Ref": function_id}
        assert version["DeletionPolicy"] == version["UpdateReplacePolicy"] == "Retain", pattern.name


def test_the_invoker_role_trusts_restate_cloud_for_this_environment_only(templates):
    _, role = invoker_role(templates)
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assume = next(s for s in statements if s["Action"] == "sts:AssumeRole")
    principal = assume["Principal"]["AWS"]["Fn::Join"][1]
    assert principal[-1] == ":iam::654654156625:root"
    assert assume["Condition"] == {
        "StringEquals": {
            "sts:ExternalId": CDK_JSON["restate:cloud:environmentId"],
            "aws:PrincipalArn": "arn:aws:iam::654654156625:role/RestateCloud",
        }
    }
    tag_session = next(s for s in statements if s["Action"] == "sts:TagSession")
    assert tag_session["Condition"] == {
        "StringEquals": {"aws:PrincipalArn": "arn:aws:iam::654654156625:role/RestateCloud"}
    }
    assert len(statements) == 2


def invoker_role(templates: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    roles = resources(templates[SHARED_STACK_ID], "AWS::IAM::Role")
    found = [(name, role) for name, role in roles.items() if name.startswith("InvokerRole")]
    assert len(found) == 1
    return found[0]


def test_the_invoker_role_may_invoke_only_published_versions_of_the_app_functions(templates):
    role_id, role = invoker_role(templates)
    assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]
    granted = []
    for name, template in templates.items():
        for policy in resources(template, "AWS::IAM::Policy").values():
            roles = json.dumps(policy["Properties"]["Roles"])
            if role_id not in roles:
                continue
            assert name != SHARED_STACK_ID, "each pattern stack grants its own function"
            function_id, _ = only(template, "AWS::Lambda::Function")
            allow, deny = policy["Properties"]["PolicyDocument"]["Statement"]
            assert allow["Effect"] == "Allow" and allow["Action"] == "lambda:InvokeFunction"
            # arn:...:function:<name>:*, a qualified ARN: never the unqualified one
            assert allow["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":*"]]}
            # ... and the wildcard's match with $LATEST is taken back
            assert deny["Effect"] == "Deny" and deny["Action"] == "lambda:InvokeFunction"
            assert deny["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":$LATEST"]]}
            # Inline policy names are unique per role: each stack's name of its own.
            assert policy["Properties"]["PolicyName"] == f"restate-patterns-{name}-restate-invoke"
            granted.append(name)
    assert sorted(granted) == sorted(pattern.name for pattern in PATTERNS)


def test_one_registration_per_function_version_and_one_per_subscription_plus_the_cluster(templates):
    for pattern in PATTERNS:
        template = templates[pattern.name]
        version_id, _ = only(template, "AWS::Lambda::Version")
        _, registration = only(template, "Custom::RestateDeployment")
        properties = registration["Properties"]
        assert properties["FunctionVersionArn"] == {"Ref": version_id}
        assert properties["Services"] == list(pattern.services)
        assert properties["PrivateServices"] == list(pattern.private_services)
        assert properties["AdminUrl"] == "https://201example0000000000000000.env.us.restate.cloud:9070"
        assert "InvokerRole" in json.dumps(properties["AssumeRoleArn"])
        assert properties["RemovalPolicy"] == "retain" and properties["PruneOldDeployments"] == "false"
        assert properties["AllowBreakingChanges"] == "false"
        assert properties["CodeHash"] == pattern_asset_hash(pattern, Target("arm64", LAMBDA_PYTHON_VERSION))
        # Registration waits for the invoke permission: Restate calls the function while registering it.
        assert any(dependency.startswith("RestateMayInvoke") for dependency in registration["DependsOn"])

    subscriptions = [
        resource["Properties"]
        for template in templates.values()
        for resource in resources(template, "Custom::RestateSubscription").values()
    ]
    assert sorted((s["Topic"], s["Service"], s["Handler"]) for s in subscriptions) == sorted(
        (s.topic, s.service, s.handler) for s in all_subscriptions()
    )
    assert all(s["ClusterName"] == "my-cluster" for s in subscriptions)
    for pattern in PATTERNS:
        for subscription in pattern.subscriptions:
            (properties,) = [
                resource["Properties"]
                for resource in resources(templates[pattern.name], "Custom::RestateSubscription").values()
                if resource["Properties"]["Topic"] == subscription.topic
            ]
            options = subscription_options("restate-patterns", pattern.name, subscription)
            assert properties["Options"] == options
            # A stable consumer group: a re-created subscription resumes where the old one stopped.
            assert options["group.id"] == (
                f"restate-patterns.{pattern.name}.{subscription.topic}.{subscription.service}.{subscription.handler}"
            )

    clusters = [r for t in templates.values() for r in resources(t, "Custom::RestateKafkaCluster").values()]
    assert len(clusters) == 1
    cluster = clusters[0]["Properties"]
    assert cluster["ClusterName"] == "my-cluster"
    assert cluster["BootstrapServers"] == MSK["kafka:bootstrapServers"]
    assert cluster["Properties"] == MSK["kafka:properties"]
    assert cluster["SaslSecretId"] == MSK["kafka:saslSecret"]


def restate_resources(templates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        resource
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource["Type"].startswith("Custom::Restate")
    ]


def test_every_restate_resource_names_the_minimum_restate_version_kafka_raising_it(templates, self_hosted):
    with_kafka, without_kafka = restate_resources(templates), restate_resources(self_hosted)
    assert {r["Type"] for r in with_kafka} == {
        "Custom::RestateDeployment",
        "Custom::RestateKafkaCluster",
        "Custom::RestateSubscription",
    }
    assert {r["Properties"]["MinimumRestateVersion"] for r in with_kafka} == {"1.7"}
    assert {r["Properties"]["MinimumRestateVersion"] for r in without_kafka} == {"1.6"}


def test_breaking_changes_are_refused_unless_the_context_allows_them(tmp_path):
    assert deployment_config(MAKE_SYNTH).restate.allow_breaking_changes is False
    allowed = synthesize(tmp_path, {**NO_BUNDLING, **EXAMPLES_ALLOWED, "restate:allowBreakingChanges": "true"})
    for pattern in PATTERNS:
        _, registration = only(allowed[pattern.name], "Custom::RestateDeployment")
        assert registration["Properties"]["AllowBreakingChanges"] == "true"


def test_the_registration_may_decrypt_the_sasl_secret_with_its_kms_key_through_secrets_manager_only(templates):
    shared = templates[SHARED_STACK_ID]
    (registration_id,) = [
        name
        for name, function in resources(shared, "AWS::Lambda::Function").items()
        if function["Properties"].get("FunctionName") == "restate-patterns-registration"
    ]
    role_id = shared["Resources"][registration_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    kms = [s for s in policy_statements_of_role(shared, role_id) if "kms:" in json.dumps(s["Action"])]
    assert kms == [
        {
            "Action": "kms:Decrypt",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": {"Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
                }
            },
            "Effect": "Allow",
            "Resource": KMS_KEY_ARN,
        }
    ]
    assert "kms:" not in json.dumps([t for name, t in templates.items() if name != SHARED_STACK_ID])


def test_a_sasl_secret_without_its_kms_key_is_warned_about_at_synth(tmp_path):
    context = {**NO_BUNDLING, **EXAMPLES_ALLOWED, **MSK, "kafka:saslSecretKmsKey": ""}
    assembly = build_app(context, outdir=str(tmp_path)).synth()
    shared = assembly.get_stack_artifact(SHARED_STACK_ID)
    warnings = [str(m.entry.data) for m in shared.messages if m.entry.type == "aws:cdk:warning"]
    (warning,) = [w for w in warnings if SASL_SECRET_KMS_KEY_WARNING in w]
    assert "customer-managed KMS key" in warning and "kafka:saslSecretKmsKey" in warning
    assert "kms:" not in json.dumps(shared.template)


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({**MSK, "kafka:saslSecret": ""}, "kafka:saslSecretKmsKey is set, but kafka:saslSecret"),
        ({**MSK, "kafka:saslSecretKmsKey": "alias/msk"}, "kafka:saslSecretKmsKey must be a KMS key ARN"),
        (
            {**MSK, "kafka:saslSecretKmsKey": "arn:aws:kms:us-east-1:111111111111:alias/msk"},
            "kafka:saslSecretKmsKey must be a KMS key ARN",
        ),
    ],
)
def test_the_kms_key_is_a_key_arn_and_comes_with_its_secret(kafka, message):
    with pytest.raises(ConfigError, match=message):
        deployment_config({**MAKE_SYNTH, **kafka})


def test_the_registration_timeout_stays_below_the_provider_framework_s_limit():
    key = "restate:registrationTimeoutSeconds"
    limit = MAX_REGISTRATION_TIMEOUT_SECONDS
    assert limit == 840
    assert deployment_config({**MAKE_SYNTH, key: str(limit)}).restate.registration_timeout_seconds == limit
    with pytest.raises(ConfigError, match=f"^context {key} must be at most 840, got 841"):
        deployment_config({**MAKE_SYNTH, key: "841"})


SECRET_LOOKING = re.compile(r"token|password|apikey|api_key|secret", re.IGNORECASE)


@pytest.mark.parametrize("variant", ["cloud", "self-hosted"])
def test_no_secret_value_in_any_template(variant, templates, self_hosted):
    synthesized, context = (
        (templates, {**CDK_JSON, **CLOUD}) if variant == "cloud" else (self_hosted, {**CDK_JSON, **SELF_HOSTED})
    )
    secret_references = {"", *(str(value) for key, value in context.items() if SECRET_LOOKING.search(key))}
    for name, template in synthesized.items():
        assert not resources(template, "AWS::SecretsManager::Secret"), name
        for resource in template["Resources"].values():
            if not resource["Type"].startswith("Custom::Restate"):
                continue
            for key, value in resource["Properties"].items():
                if SECRET_LOOKING.search(key) and key != "ServiceToken":  # the provider function's ARN
                    # Only a reference: the registration function reads the value at run time.
                    assert key.endswith("SecretId") and value in secret_references, f"{name}: {key}={value!r}"
        # No dynamic reference either: CloudFormation would put the resolved value in the function's configuration.
        assert not [text for text in strings(template) if "{{resolve:" in text], name
        for function in resources(template, "AWS::Lambda::Function").values():
            assert "{{resolve:" not in json.dumps(function["Properties"].get("Environment", {})), name


STRIPE_SECRET = SELF_HOSTED["patterns:settingSecrets"]["webhook_callbacks"]["STRIPE_WEBHOOK_SECRET"]


def test_a_secret_setting_reaches_the_function_as_a_reference_it_alone_may_read(self_hosted):
    template = self_hosted["webhook_callbacks"]
    _, function = only(template, "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["STRIPE_WEBHOOK_SECRET_ARN"] == STRIPE_SECRET
    assert "STRIPE_WEBHOOK_SECRET" not in variables, "the value itself, never"
    granted = [
        statement
        for statement in policy_statements_of_role(template, function_role_id(template))
        if "secretsmanager" in json.dumps(statement)
    ]
    assert len(granted) == 1, granted
    (statement,) = granted
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    assert sorted(statement["Action"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    # from_secret_name_v2: the name plus the 6 characters Secrets Manager appends, nothing wider.
    resource = json.dumps(statement["Resource"])
    assert f":secret:{STRIPE_SECRET}-??????" in resource and "*" not in resource, resource


def test_without_a_configured_secret_a_secret_setting_is_neither_set_nor_granted(templates):
    template = templates["webhook_callbacks"]
    _, function = only(template, "AWS::Lambda::Function")
    assert not any("STRIPE_WEBHOOK_SECRET" in name for name in function["Properties"]["Environment"]["Variables"])
    assert "secretsmanager" not in json.dumps(policy_statements_of_role(template, function_role_id(template)))


def test_a_secret_setting_may_be_given_by_full_arn():
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:stripe/whsec-AbCdEf"
    config = deployment_config(
        {**MAKE_SYNTH, "patterns:settingSecrets": {"webhook_callbacks": {"STRIPE_WEBHOOK_SECRET": arn}}}
    )
    webhook_callbacks = next(pattern for pattern in PATTERNS if pattern.name == "webhook_callbacks")
    assert function_environment(webhook_callbacks, config) == {
        **webhook_callbacks.settings,
        "STRIPE_WEBHOOK_SECRET_ARN": arn,
    }


@pytest.mark.parametrize(
    ("key", "settings", "message"),
    [
        # Only names the catalog declares secret: a typo would silently leave the setting unset.
        ("patterns:settingSecrets", {"STRIPE_WEBHOOK_SECRETS": "stripe/whsec"}, "does not read as a secret"),
        ("patterns:settingSecrets", {"STRIPE_WEBHOOK_TOLERANCE_SECONDS": "x"}, "goes in patterns:settings"),
        ("patterns:settings", {"STRIPE_WEBHOOK_SECRET": "whsec_abc"}, "goes in patterns:settingSecrets"),
        ("patterns:settingSecrets", {"STRIPE_WEBHOOK_SECRET": "whsec_abc123"}, "looks like the secret itself"),
        ("patterns:settingSecrets", {"STRIPE_WEBHOOK_SECRET": " "}, "must name a Secrets Manager secret"),
    ],
)
def test_secret_settings_are_configured_by_reference_only(key, settings, message):
    with pytest.raises(ConfigError, match=message):
        deployment_config({**MAKE_SYNTH, key: {"webhook_callbacks": settings}})


def test_a_plain_api_key_where_a_secret_is_expected_is_refused():
    with pytest.raises(ConfigError, match="restate:cloud:apiKeySecret"):
        deployment_config({**MAKE_SYNTH, "restate:cloud:apiKeySecret": "key_10abcdefghijklmnopqrstuvwxyz0123"})


def test_every_log_group_has_a_retention_and_every_function_logs_to_its_own(templates, self_hosted):
    for name, template in {**templates, **{f"self-hosted {k}": v for k, v in self_hosted.items()}}.items():
        log_groups = resources(template, "AWS::Logs::LogGroup")
        for log_group in log_groups.values():
            assert log_group["Properties"]["RetentionInDays"] == 30, name
        for function in resources(template, "AWS::Lambda::Function").values():
            assert function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in log_groups, name


def test_everything_is_tagged(templates):
    for name, template in templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] in ("AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Logs::LogGroup"):
                tags = {tag["Key"]: tag["Value"] for tag in resource["Properties"]["Tags"]}
                assert tags["app"] == "restate-patterns" and tags["project"] == "restate-lambda-patterns", name
                if name in {api.name for api in HTTP_APIS}:
                    assert tags["api"] == name and "pattern" not in tags
                elif name != SHARED_STACK_ID:
                    assert tags["pattern"] == name


def test_outputs_are_the_ingress_url_and_each_function_version(templates):
    assert templates[SHARED_STACK_ID]["Outputs"]["IngressUrl"]["Value"] == (
        "https://201example0000000000000000.env.us.restate.cloud"
    )
    for pattern in PATTERNS:
        version_id, _ = only(templates[pattern.name], "AWS::Lambda::Version")
        assert templates[pattern.name]["Outputs"]["FunctionVersionArn"]["Value"] == {"Ref": version_id}


def test_cdk_nag_found_nothing_unacknowledged_and_every_acknowledgement_has_a_reason_and_a_use(cloud):
    outdir, _ = cloud
    reports = json.loads((outdir / "validation-report.json").read_text())["pluginReports"]
    # Beside cdk-nag's, CDK reports the construct annotations (the synth warnings) as a plugin of its own.
    (report,) = [report for report in reports if report["pluginName"] == "AwsSolutions"]
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    suppressed = report["suppressedViolations"]
    assert all(len(violation["reason"]) >= MIN_REASON_LENGTH for violation in suppressed)
    used = {(f"/{violation['acknowledgedAt']}", violation["acknowledgedId"]) for violation in suppressed}
    made = {
        (path, rule)
        for metadata in outdir.glob("*.metadata.json")
        for path, entries in json.loads(metadata.read_text()).items()
        for entry in entries
        if entry["type"] == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule in entry["data"]
    }
    assert made == used, "an acknowledgement that matches no finding has a wrong id or is no longer needed"


def test_cdk_nag_runs_at_synth_and_fails_it_on_an_unacknowledged_finding(tmp_path):
    app = build_app({**NO_BUNDLING, **EXAMPLES_ALLOWED}, outdir=str(tmp_path))
    stack = app.node.find_child("durable_rpc")
    assert isinstance(stack, cdk.Stack)
    careless = iam.Role(stack, "Careless", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    careless.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        violation["ruleName"]
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for violation in plugin["violations"]
    }
    assert rules == {"AwsSolutions-IAM5[Action::s3:*]", "AwsSolutions-IAM5[Resource::*]"}


def test_self_hosted_restate_is_trusted_as_configured_and_registration_runs_in_the_vpc(self_hosted):
    _, role = invoker_role(self_hosted)
    (assume,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Principal"] == {"AWS": SELF_HOSTED["restate:selfHosted:invokerPrincipalArn"]}
    assert assume["Condition"] == {"StringEquals": {"sts:ExternalId": "restate-patterns-external-id"}}

    shared = self_hosted[SHARED_STACK_ID]
    registration = next(
        f
        for f in resources(shared, "AWS::Lambda::Function").values()
        if "registration" in f["Properties"].get("FunctionName", "")
    )
    assert registration["Properties"]["VpcConfig"] == {
        "SubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
        "SecurityGroupIds": ["sg-0cccccccccccccccc"],
    }
    assert "Custom::RestateKafkaCluster" not in json.dumps(self_hosted)
    assert "Custom::RestateSubscription" not in json.dumps(self_hosted)
    for pattern in PATTERNS:
        _, function = only(self_hosted[pattern.name], "AWS::Lambda::Function")
        assert function["Properties"]["Architectures"] == ["x86_64"]
        _, registration_resource = only(self_hosted[pattern.name], "Custom::RestateDeployment")
        properties = registration_resource["Properties"]
        assert properties["AdminUrl"] == SELF_HOSTED["restate:selfHosted:adminUrl"]
        assert properties["AuthTokenSecretId"] == SELF_HOSTED["restate:selfHosted:authTokenSecret"]
        assert properties["RemovalPolicy"] == "destroy" and properties["PruneOldDeployments"] == "true"


def test_each_architecture_gets_its_own_asset(templates, self_hosted):
    for pattern in PATTERNS:
        _, arm = only(templates[pattern.name], "AWS::Lambda::Function")
        _, x86 = only(self_hosted[pattern.name], "AWS::Lambda::Function")
        assert arm["Properties"]["Code"]["S3Key"] != x86["Properties"]["Code"]["S3Key"], pattern.name


def test_each_pattern_has_its_own_asset(templates):
    keys = {only(templates[p.name], "AWS::Lambda::Function")[1]["Properties"]["Code"]["S3Key"] for p in PATTERNS}
    assert len(keys) == len(PATTERNS)


def policy_statements_of_role(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def function_role_id(template: dict[str, Any]) -> str:
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    role_id: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id


def test_each_function_may_call_only_the_aws_apis_its_catalog_entry_names(templates):
    for pattern in PATTERNS:
        template = templates[pattern.name]
        granted = sorted(
            action
            for statement in policy_statements_of_role(template, function_role_id(template))
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
            if not action.startswith("logs:")
        )
        assert granted == sorted(action for access in pattern.aws_access for action in access.actions), pattern.name
    upload = templates["data_upload"]
    resources = json.dumps(policy_statements_of_role(upload, function_role_id(upload)))
    assert ":s3:::restate-data-upload-*/*" in resources
    assert ":identity/uploads@example.com" in resources and ":identity/example.com" in resources


OWN_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}}
"""The deploying account, as the template names it (``cdk.Aws.ACCOUNT_ID``)."""


def statement_in_a_policy(template: Template, statement: dict[str, Any]) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([Match.object_like(statement)])}}
    )


def test_data_upload_s_s3_grants_reach_buckets_of_the_deploying_account_only(templates):
    # Bucket ARNs name no account: without the condition the grant would cover a bucket of a matching
    # name in any account.
    upload = Template.from_json(templates["data_upload"])
    statement_in_a_policy(upload, {"Action": ["s3:CreateBucket", "s3:ListBucket"], "Condition": OWN_ACCOUNT})
    statement_in_a_policy(upload, {"Action": ["s3:GetObject", "s3:PutObject"], "Condition": OWN_ACCOUNT})
    # SES identity ARNs carry the account themselves.
    statement_in_a_policy(upload, {"Action": "ses:SendEmail", "Condition": Match.absent()})


def test_every_s3_statement_of_every_pattern_carries_the_account_condition(templates):
    found = 0
    for pattern in PATTERNS:
        template = templates[pattern.name]
        for statement in policy_statements_of_role(template, function_role_id(template)):
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            if any(action.startswith("s3:") for action in actions):
                assert all(action.startswith("s3:") for action in actions), (pattern.name, actions)
                assert statement["Condition"] == OWN_ACCOUNT, (pattern.name, statement)
                found += 1
    assert found == 2, "data_upload's two S3 statements"


def test_an_s3_action_sharing_a_statement_with_another_service_is_refused():
    upload = pattern_named("data_upload")
    mixed = AwsAccess(actions=("s3:GetObject", "sqs:SendMessage"), resources=("arn:aws:s3:::bucket/*",))
    with pytest.raises(ValueError, match="give S3 actions an AwsAccess of their own"):
        own_account_condition(upload, mixed)
    assert own_account_condition(upload, AwsAccess(actions=("ses:SendEmail",), resources=("*",))) is None


def test_a_synth_for_a_known_account_and_region_passes_cdk_nag_too(monkeypatch, tmp_path):
    # The CLI tells the app its default account and region; CDK then writes literal ARNs where it can,
    # and every acknowledgement must name the finding as it reads then.
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    templates = synthesize(tmp_path, CLOUD)
    assert "arn:aws:s3:::restate-data-upload-*" in json.dumps(templates["data_upload"])
    # Still the pseudo parameter: the account CloudFormation deploys to, whatever the synth assumed.
    statement_in_a_policy(Template.from_json(templates["data_upload"]), {"Condition": OWN_ACCOUNT})


def test_a_version_nonce_publishes_the_same_code_as_a_new_version(templates, tmp_path):
    # The retry after a failed registration: its rollback kept the version that deploy published, and
    # Lambda publishes no version of code and configuration its latest version already has.
    retried = synthesize(tmp_path, {**CLOUD, "lambda:versionNonce": "1765000000"})
    for pattern in PATTERNS:
        before, after = templates[pattern.name], retried[pattern.name]
        (_, function), (_, function_retried) = (
            only(before, "AWS::Lambda::Function"),
            only(after, "AWS::Lambda::Function"),
        )
        assert "1765000000" not in function["Properties"]["Description"]
        assert function_retried["Properties"]["Description"].endswith("(deploy 1765000000)")
        assert function_retried["Properties"]["Code"] == function["Properties"]["Code"], "the same code"
        (version, _), (version_retried, _) = only(before, "AWS::Lambda::Version"), only(after, "AWS::Lambda::Version")
        assert version != version_retried, "a new version resource, so CloudFormation publishes again"


def test_a_self_hosted_ingress_url_is_one_url():
    with pytest.raises(ConfigError, match="must be one URL"):
        deployment_config({**CDK_JSON, **SELF_HOSTED, "restate:selfHosted:ingressUrl": "https://a:8080,https://b:8080"})

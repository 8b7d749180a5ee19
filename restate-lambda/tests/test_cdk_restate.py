"""The Restate constructs on small stacks of their own: templates only, no catalog and no app."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_lambda as lambda_
from restate_lambda.cdk import (
    RESTATE_CLOUD_ACCOUNT,
    KafkaCluster,
    KafkaSubscription,
    RegistrationProvider,
    RestateDeployment,
    RestateEnvironment,
    secret_reference,
)

ENVIRONMENT_ID = "env_201example"
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate/api-key-AbCdEf"


def synthesized(build: Callable[[cdk.Stack], object]) -> assertions.Template:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Example", env=cdk.Environment(account="123456789012", region="us-east-1"))
    build(stack)
    return assertions.Template.from_stack(stack)


def a_function(stack: cdk.Stack) -> lambda_.Function:
    return lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="app.app",
        code=lambda_.Code.from_inline("app = None"),
        function_name="greeter",
    )


def cloud(stack: cdk.Stack) -> RestateEnvironment:
    api_key = secret_reference(stack, "Key", KEY_ARN)
    return RestateEnvironment.cloud(stack, "Restate", environment_id=ENVIRONMENT_ID, api_key=api_key, region="eu")


def only(template: assertions.Template, kind: str) -> dict[str, Any]:
    (resource,) = template.find_resources(kind).values()
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_a_cloud_environment_trusts_only_its_restate_role_for_this_environment() -> None:
    template = synthesized(cloud)

    trust = json.dumps(only(template, "AWS::IAM::Role")["AssumeRolePolicyDocument"])
    assert RESTATE_CLOUD_ACCOUNT in trust and f'"sts:ExternalId": "{ENVIRONMENT_ID}"' in trust
    assert "sts:TagSession" in trust and "aws:PrincipalArn" in trust


def test_a_deployment_registers_the_version_with_the_environment_and_grants_its_versions_only() -> None:
    def build(stack: cdk.Stack) -> None:
        function = a_function(stack)
        RestateDeployment(
            stack,
            "Greeter",
            environment=cloud(stack),
            provider=RegistrationProvider(stack, "Registration"),
            version=function.current_version,
            services=["Greeter", "Internal"],
            private=["Internal"],
            removal_policy=cdk.RemovalPolicy.DESTROY,
            prune_drained_deployments=True,
            revision_history_limit=3,
        )

    template = synthesized(build)

    registration = only(template, "Custom::RestateDeployment")
    assert registration["AdminUrl"] == "https://201example.env.eu.restate.cloud:9070"
    assert registration["AuthTokenSecretId"] == KEY_ARN
    assert registration["Services"] == ["Greeter", "Internal"] and registration["PrivateServices"] == ["Internal"]
    assert registration["RemovalPolicy"] == "destroy" and registration["RevisionHistoryLimit"] == "3"
    assert registration["ServiceTimeout"] == "360", "the handler's 300 s and a margin"
    grant = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert ":$LATEST" in grant and '"Effect": "Deny"' in grant
    # The registration function may read the API key, and nothing else of Secrets Manager.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": assertions.Match.array_with(
                    [
                        assertions.Match.object_like(
                            {
                                "Action": assertions.Match.array_with(["secretsmanager:GetSecretValue"]),
                                "Resource": KEY_ARN,
                            }
                        )
                    ]
                )
            }
        },
    )


def test_one_environment_grant_covers_every_function_of_a_name_prefix() -> None:
    def build(stack: cdk.Stack) -> None:
        environment, provider = cloud(stack), RegistrationProvider(stack, "Registration")
        for name in ("One", "Two"):
            function = lambda_.Function(
                stack,
                name,
                runtime=lambda_.Runtime.PYTHON_3_13,
                handler="app.app",
                code=lambda_.Code.from_inline("app = None"),
                function_name=f"team-{name}",
            )
            RestateDeployment(
                stack,
                f"{name}Deployment",
                environment=environment,
                provider=provider,
                version=function.current_version,
                invoke_grant="environment",
                function_name_prefix="team-",
            )

    template = synthesized(build)

    grants = [
        policy
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if "InvokerRole" in json.dumps(policy["Properties"].get("Roles"))
    ]
    assert len(grants) == 1 and "function:team-*:*" in json.dumps(grants[0])


def test_a_self_hosted_environment_without_a_principal_has_no_invoker_role() -> None:
    def build(stack: cdk.Stack) -> None:
        environment = RestateEnvironment.self_hosted(
            stack, "Restate", admin_url="https://restate.internal:9070", ca_bundle="-----BEGIN CERTIFICATE-----"
        )
        assert environment.invoker_role is None
        function = a_function(stack)
        with pytest.raises(ValueError, match="invoke_grant='none'"):
            RestateDeployment(
                stack,
                "Refused",
                environment=environment,
                provider=RegistrationProvider(stack, "R1"),
                version=function.current_version,
            )
        RestateDeployment(
            stack,
            "Greeter",
            environment=environment,
            provider=RegistrationProvider(stack, "Registration"),
            version=function.current_version,
            invoke_grant="none",
        )

    template = synthesized(build)

    registration = only(template, "Custom::RestateDeployment")
    assert registration["CaBundle"].startswith("-----BEGIN") and registration["AssumeRoleArn"] == ""
    assert not template.find_resources(
        "AWS::IAM::Role", {"Properties": {"Description": assertions.Match.string_like_regexp("Assumed by")}}
    )


def test_kafka_subscriptions_get_a_stable_group_and_wait_for_their_cluster() -> None:
    def build(stack: cdk.Stack) -> None:
        environment = RestateEnvironment.self_hosted(stack, "Restate", admin_url="http://restate:9070")
        sasl = secret_reference(stack, "Sasl", "msk/restate")
        cluster = KafkaCluster(
            stack,
            "Kafka",
            environment=environment,
            provider=RegistrationProvider(stack, "Registration"),
            cluster_name="orders",
            bootstrap_servers=["b-1:9096", "b-2:9096"],
            sasl_secret=sasl,
            sasl_secret_kms_key="arn:aws:kms:us-east-1:123456789012:key/abc",
        )
        KafkaSubscription(stack, "Orders", cluster=cluster, topic="orders", service="Orders", handler="Process")

    template = synthesized(build)

    cluster = only(template, "Custom::RestateKafkaCluster")
    assert cluster["BootstrapServers"] == "b-1:9096,b-2:9096" and cluster["SaslSecretId"] == "msk/restate"
    (subscription,) = template.find_resources("Custom::RestateSubscription").values()
    assert subscription["Properties"]["Options"] == {"group.id": "restate-orders-orders-Orders-Process"}
    assert any("Kafka" in dependency for dependency in subscription["DependsOn"])
    decrypt = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "kms:Decrypt" in decrypt and "secretsmanager.us-east-1.amazonaws.com" in decrypt


@pytest.mark.parametrize(
    ("reference", "accepted"),
    [
        (KEY_ARN, True),
        ("restate/api-key", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:restate/api-key", False),
    ],
)
def test_a_secret_arn_without_its_suffix_is_refused(reference: str, accepted: bool) -> None:
    stack = cdk.Stack(cdk.App())
    if accepted:
        secret_reference(stack, "Secret", reference)
    else:
        with pytest.raises(ValueError, match="suffix"):
            secret_reference(stack, "Secret", reference)


def test_the_cloud_region_is_us_or_eu() -> None:
    def build(stack: cdk.Stack) -> None:
        api_key = secret_reference(stack, "Key", KEY_ARN)
        RestateEnvironment.cloud(stack, "R", environment_id=ENVIRONMENT_ID, api_key=api_key, region="ap")  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="'us' or 'eu'"):
        synthesized(build)

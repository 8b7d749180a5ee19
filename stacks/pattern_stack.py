"""One pattern from the catalog, deployed: its function, a published version, and its registration.

Every deploy whose code or configuration changed publishes a new version (``currentVersion``) and
registers that version's ARN with Restate as a new deployment. Old versions are retained: Restate
pins each invocation to the deployment it started on, and a durable invocation may still be
running on an old version long after the deploy.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from functions.catalog import Pattern, subscription_options
from functions.common.settings import secret_arn_variable
from functions.registration.custom_resource import DEPLOYMENT_RESOURCE, SUBSCRIPTION_RESOURCE
from stacks.bundling import Target, pattern_bundle
from stacks.config import DeploymentConfig
from stacks.nag import acknowledge
from stacks.pattern_permissions import grant_pattern_permissions
from stacks.python_function import PythonFunction
from stacks.shared_stack import SharedStack, secret_reference

INLINE_POLICY_NAME_LIMIT = 128


def invoke_policy_name(config: DeploymentConfig, pattern_name: str) -> str:
    """The name of the inline policy a pattern stack puts on the shared invoker role.

    Inline policy names are unique per role, and all pattern stacks attach theirs to the same role:
    a name derived from the construct id alone would be the same in every stack, and each deploy
    would overwrite another stack's policy.
    """
    name = f"{config.name_prefix}-{pattern_name}-restate-invoke"
    if len(name) > INLINE_POLICY_NAME_LIMIT:
        raise ValueError(f"the invoker policy name {name!r} exceeds IAM's {INLINE_POLICY_NAME_LIMIT} characters")
    return name


def function_environment(pattern: Pattern, config: DeploymentConfig) -> dict[str, str]:
    """The pattern's settings: catalog defaults, overridden by context; secret ones by reference only."""
    environment = {**pattern.settings, **config.pattern_settings.get(pattern.name, {})}
    for name, secret in config.pattern_setting_secrets.get(pattern.name, {}).items():
        # Only the reference (as configured, name or full ARN): the function reads the value at cold start
        # (functions.common.settings.secret_setting), so it never shows in the function's configuration
        # the way a value resolved at deploy time would. Within its own account and region, as granted below.
        environment[secret_arn_variable(name)] = secret
    return environment


class PatternStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pattern: Pattern,
        config: DeploymentConfig,
        target: Target,
        shared: SharedStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Restate pattern: {pattern.title}", **kwargs)
        self.pattern = pattern
        settings = {**pattern.settings, **config.pattern_settings.get(pattern.name, {})}
        self.lambda_function = PythonFunction(
            self,
            "Service",
            function_name=config.function_name(pattern.name),
            description=f"{pattern.title}: {', '.join(pattern.services)}",
            handler=pattern.handler,
            bundle=pattern_bundle(pattern, target),
            timeout_seconds=pattern.timeout_seconds,
            memory_mb=pattern.memory_mb,
            log_retention_days=config.log_retention_days,
            environment=function_environment(pattern, config),
            version_removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        grant_pattern_permissions(pattern, self.lambda_function.role, settings)
        function = self.lambda_function.function
        for name, secret in config.pattern_setting_secrets.get(pattern.name, {}).items():
            # Read access to exactly the secrets the environment names, nothing else.
            secret_reference(self, f"SettingSecret-{name}", secret).grant_read(function)
        self.version = function.current_version

        # Qualified ARNs only: Restate invokes the version it registered, never $LATEST. The qualifier
        # wildcard would match :$LATEST too, hence the deny; the unqualified ARN matches neither.
        self.invoke_policy = iam.Policy(
            self,
            "RestateMayInvoke",
            policy_name=invoke_policy_name(config, pattern.name),
            roles=[shared.invoker_role],
            statements=[
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[f"{function.function_arn}:*"]),
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    actions=["lambda:InvokeFunction"],
                    resources=[f"{function.function_arn}:$LATEST"],
                ),
            ],
        )
        acknowledge(
            self.invoke_policy,
            "AwsSolutions-IAM5[Resource::<{function}.Arn>:*]",
            "Restate invokes each published version it registered (numbers assigned at deploy time, old ones "
            "kept for in-flight invocations); the qualifier wildcard excludes the unqualified $LATEST ARN.",
            function=function,
        )

        self.registration = cdk.CustomResource(
            self,
            "Registration",
            service_token=shared.provider.service_token,
            resource_type=DEPLOYMENT_RESOURCE,
            properties={
                **shared.admin_properties(),
                "FunctionVersionArn": self.version.function_arn,
                "AssumeRoleArn": shared.invoker_role.role_arn,
                "Services": list(pattern.services),
                "PrivateServices": list(pattern.private_services),
                "RemovalPolicy": config.restate.removal_policy,
                "PruneOldDeployments": str(config.restate.prune_old_deployments).lower(),
                # Recorded in the deployment's metadata: a function deleted and re-created reuses its version
                # numbers, so only stack, logical id and code tell this registration from an earlier one.
                "CodeHash": self.lambda_function.asset_hash,
                "AllowBreakingChanges": str(config.restate.allow_breaking_changes).lower(),
            },
        )
        # Restate invokes the function while registering it, as the invoker role.
        self.registration.node.add_dependency(self.invoke_policy)

        self.subscriptions: list[cdk.CustomResource] = []
        if config.kafka is not None:
            for subscription in pattern.subscriptions:
                resource = cdk.CustomResource(
                    self,
                    f"Subscription-{subscription.topic}",
                    service_token=shared.provider.service_token,
                    resource_type=SUBSCRIPTION_RESOURCE,
                    properties={
                        **shared.admin_properties(),
                        "ClusterName": config.kafka.cluster_name,
                        "Topic": subscription.topic,
                        "Service": subscription.service,
                        "Handler": subscription.handler,
                        "Options": subscription_options(config.name_prefix, pattern.name, subscription),
                    },
                )
                # Restate accepts a subscription only for a service it knows.
                resource.node.add_dependency(self.registration)
                self.subscriptions.append(resource)

        cdk.CfnOutput(self, "FunctionVersionArn", value=self.version.function_arn)
        cdk.CfnOutput(self, "DeploymentId", value=self.registration.get_att_string("DeploymentId"))

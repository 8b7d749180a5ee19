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
from restate_lambda.cdk import KafkaSubscription, RestateDeployment, invoke_statements, secret_reference

from functions.catalog import Pattern, subscription_options
from functions.common.settings import secret_arn_variable
from stacks.bundling import Target, pattern_bundle
from stacks.config import DeploymentConfig
from stacks.nag import acknowledge
from stacks.pattern_permissions import grant_pattern_permissions
from stacks.python_function import PythonFunction
from stacks.shared_stack import SharedStack

INLINE_POLICY_NAME_LIMIT = 128
REMOVAL_POLICIES = {"retain": cdk.RemovalPolicy.RETAIN, "destroy": cdk.RemovalPolicy.DESTROY}


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


def function_description(pattern: Pattern, config: DeploymentConfig) -> str:
    """The function's description, and with it its configuration: a version nonce changes both.

    Lambda publishes no version of a function whose code and configuration equal its latest
    version's. After a failed registration, the rollback keeps the version that deploy published,
    so deploying the same code again would fail with "A version for this Lambda function exists":
    a new ``lambda:versionNonce`` makes it a new version.
    """
    description = f"{pattern.title}: {', '.join(pattern.services)}"
    return f"{description} (deploy {config.version_nonce})" if config.version_nonce else description


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
            description=function_description(pattern, config),
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

        # Qualified ARNs only (invoke_statements); the unqualified ARN matches neither statement.
        self.invoke_policy = iam.Policy(
            self,
            "RestateMayInvoke",
            policy_name=invoke_policy_name(config, pattern.name),
            roles=[shared.invoker_role],
            statements=invoke_statements(f"{function.function_arn}:*", f"{function.function_arn}:$LATEST"),
        )
        acknowledge(
            self.invoke_policy,
            "AwsSolutions-IAM5[Resource::<{function}.Arn>:*]",
            "Restate invokes each published version it registered (numbers assigned at deploy time, old ones "
            "kept for in-flight invocations); the qualifier wildcard excludes the unqualified $LATEST ARN.",
            function=function,
        )

        self.deployment = RestateDeployment(
            self,
            "Registration",
            environment=shared.restate_environment,
            provider=shared.registration_provider,
            version=self.version,
            services=pattern.services,
            private=list(pattern.private_services),
            removal_policy=REMOVAL_POLICIES[config.restate.removal_policy],
            prune_drained_deployments=config.restate.prune_old_deployments,
            allow_breaking=config.restate.allow_breaking_changes,
            code_hash=self.lambda_function.asset_hash,
            # The grant above, by the name and logical id it had before the package existed: a policy of
            # the same name under a new logical id would be deleted by the removal of the old one.
            invoke_grant="none",
            minimum_restate_version=shared.minimum_restate_version,
        )
        self.registration = self.deployment.resource
        # Restate invokes the function while registering it, as the invoker role.
        self.registration.node.add_dependency(self.invoke_policy)

        self.subscriptions: list[KafkaSubscription] = []
        if shared.kafka_cluster is not None:
            for subscription in pattern.subscriptions:
                self.subscriptions.append(
                    KafkaSubscription(
                        self,
                        f"Subscription-{subscription.topic}",
                        cluster=shared.kafka_cluster,
                        topic=subscription.topic,
                        service=subscription.service,
                        handler=subscription.handler,
                        options=subscription_options(config.name_prefix, pattern.name, subscription),
                        after=[self.deployment],
                        minimum_restate_version=shared.minimum_restate_version,
                    )
                )

        cdk.CfnOutput(self, "FunctionVersionArn", value=self.version.function_arn)
        cdk.CfnOutput(self, "DeploymentId", value=self.registration.get_att_string("DeploymentId"))

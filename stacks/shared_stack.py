"""What all pattern stacks share: the Restate environment's side of AWS.

* the invoker role Restate assumes to invoke the functions (each pattern stack allows it to invoke
  its own function's published versions);
* the registration provider: a Python function running ``functions/registration/custom_resource.py``
  behind the CDK Provider framework, which every ``Custom::Restate*`` resource calls;
* the Kafka cluster in Restate, when Kafka is configured.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from functions.registration.custom_resource import (
    DEPLOYMENT_RESOURCE,
    KAFKA_CLUSTER_RESOURCE,
    MINIMUM_RESTATE_VERSIONS,
)
from stacks.bundling import REGISTRATION_HANDLER_MODULE, Target, registration_bundle
from stacks.config import DeploymentConfig, RestateConfig, example_values_warning
from stacks.nag import acknowledge
from stacks.python_function import PythonFunction, imported_network

# One Restate serves the whole app, so with Kafka configured every resource asks for the version Kafka needs:
# an older Restate then fails the first resource deployed, not one deep into the deploy.
MINIMUM_RESTATE_VERSION = MINIMUM_RESTATE_VERSIONS[DEPLOYMENT_RESOURCE]
MINIMUM_RESTATE_VERSION_WITH_KAFKA = MINIMUM_RESTATE_VERSIONS[KAFKA_CLUSTER_RESOURCE]

EXAMPLE_VALUES_WARNING = "restate-patterns:exampleValues"
SASL_SECRET_KMS_KEY_WARNING = "restate-patterns:saslSecretKmsKey"
"""Ids of the shared stack's synth warnings (``cdk synth`` prints them)."""


def sasl_secret_kms_key_warning() -> str:
    return (
        "kafka:saslSecret is set but kafka:saslSecretKmsKey is not. Amazon MSK takes SASL/SCRAM credentials only "
        "from secrets encrypted with a customer-managed KMS key, and the registration function can read such a "
        "secret only with kms:Decrypt on that key: set kafka:saslSecretKmsKey to the key's ARN. (A cluster other "
        "than MSK whose secret uses the default aws/secretsmanager key needs nothing.)"
    )


def secret_reference(scope: Construct, construct_id: str, secret: str) -> secretsmanager.ISecret:
    """A secret given by full ARN or by name; only the reference ever reaches the template."""
    if secret.startswith("arn:"):
        return secretsmanager.Secret.from_secret_complete_arn(scope, construct_id, secret)
    return secretsmanager.Secret.from_secret_name_v2(scope, construct_id, secret)


def invoker_role(scope: Construct, restate: RestateConfig) -> iam.Role:
    """The role Restate assumes to invoke the functions; it can do nothing else."""
    if restate.invoker_principal_account is not None:
        # Restate Cloud: trust its account, but only its Restate role and only for this environment
        # (the external id), as Restate documents; the principal ARN is a condition rather than the
        # principal so that the trust survives Restate re-creating that role.
        principal_condition = {"aws:PrincipalArn": restate.invoker_principal_arn}
        role = iam.Role(
            scope,
            "InvokerRole",
            description=f"Assumed by Restate ({restate.admin_url}) to invoke the pattern functions",
            assumed_by=iam.AccountPrincipal(restate.invoker_principal_account).with_conditions(
                {"StringEquals": {"sts:ExternalId": restate.external_id, **principal_condition}}
            ),
        )
    else:
        role = iam.Role(
            scope,
            "InvokerRole",
            description=f"Assumed by Restate ({restate.admin_url}) to invoke the pattern functions",
            assumed_by=iam.ArnPrincipal(restate.invoker_principal_arn),
            external_ids=[restate.external_id] if restate.external_id else None,
        )
    if restate.tag_session:
        assert role.assume_role_policy is not None
        # Restate Cloud attaches session tags when it assumes the role.
        role.assume_role_policy.add_statements(
            iam.PolicyStatement(
                actions=["sts:TagSession"],
                principals=[iam.AccountPrincipal(restate.invoker_principal_account)],
                conditions={"StringEquals": principal_condition},
            )
        )
    return role


class SharedStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, target: Target, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        restate = config.restate
        self.invoker_role = invoker_role(self, restate)

        readable_secrets = []
        if restate.token_secret:
            readable_secrets.append(secret_reference(self, "AdminTokenSecret", restate.token_secret))
        if config.kafka is not None and config.kafka.sasl_secret:
            readable_secrets.append(secret_reference(self, "KafkaSaslSecret", config.kafka.sasl_secret))

        network = imported_network(self, "Registration", restate.vpc)

        self.registration = PythonFunction(
            self,
            "Registration",
            function_name=f"{config.name_prefix}-registration",
            description="Registers function versions, the Kafka cluster and subscriptions with Restate",
            handler=f"{REGISTRATION_HANDLER_MODULE}.handler",
            bundle=registration_bundle(target),
            timeout_seconds=restate.registration_timeout_seconds,
            memory_mb=256,
            log_retention_days=config.log_retention_days,
            network=network,
        )
        for secret in readable_secrets:
            secret.grant_read(self.registration.function)
        if config.kafka is not None and config.kafka.sasl_secret_kms_key:
            self.registration.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[config.kafka.sasl_secret_kms_key],
                    # Only while Secrets Manager decrypts the secret for it, never the key on its own.
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}},
                )
            )
        elif config.kafka is not None and config.kafka.sasl_secret:
            cdk.Annotations.of(self.registration).add_warning_v2(
                SASL_SECRET_KMS_KEY_WARNING, sasl_secret_kms_key_warning()
            )
        if config.example_values:
            warning = example_values_warning(config.example_values)
            cdk.Annotations.of(self).add_warning_v2(EXAMPLE_VALUES_WARNING, warning)

        provider_logs = logs.LogGroup(self, "ProviderLogs", removal_policy=cdk.RemovalPolicy.DESTROY)
        cfn_provider_logs = provider_logs.node.default_child
        assert isinstance(cfn_provider_logs, logs.CfnLogGroup)
        cfn_provider_logs.retention_in_days = config.log_retention_days
        self.provider = cr.Provider(
            self, "RegistrationProvider", on_event_handler=self.registration.function, log_group=provider_logs
        )
        self._acknowledge_provider_framework()

        self.kafka_cluster: cdk.CustomResource | None = None
        if config.kafka is not None:
            self.kafka_cluster = cdk.CustomResource(
                self,
                "KafkaCluster",
                service_token=self.provider.service_token,
                resource_type=KAFKA_CLUSTER_RESOURCE,
                properties={
                    **self.admin_properties(),
                    "ClusterName": config.kafka.cluster_name,
                    "BootstrapServers": config.kafka.bootstrap_servers,
                    "Properties": dict(config.kafka.properties),
                    "SaslSecretId": config.kafka.sasl_secret or "",
                },
            )

        if restate.ingress_url:
            cdk.CfnOutput(self, "IngressUrl", value=restate.ingress_url, description="Call the patterns here")
        cdk.CfnOutput(self, "AdminUrl", value=restate.admin_url, description="Restate admin API")
        cdk.CfnOutput(self, "InvokerRoleArn", value=self.invoker_role.role_arn)

    def admin_properties(self) -> dict[str, str]:
        """The properties every Restate custom resource needs to reach the admin API."""
        return {
            "AdminUrl": self.config.restate.admin_url,
            # The secret's ARN or name: the registration function reads the token at run time.
            "AuthTokenSecretId": self.config.restate.token_secret or "",
            # Checked before anything else, so that an older Restate fails the deploy with a clear message.
            "MinimumRestateVersion": self.minimum_restate_version,
        }

    @property
    def minimum_restate_version(self) -> str:
        return MINIMUM_RESTATE_VERSION if self.config.kafka is None else MINIMUM_RESTATE_VERSION_WITH_KAFKA

    def _acknowledge_provider_framework(self) -> None:
        framework = self.provider.node.find_child("framework-onEvent")
        acknowledge(
            framework,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The CDK Provider framework's own function: CDK creates its role with this AWS-maintained "
            "policy; it only writes its logs.",
        )
        acknowledge(
            framework,
            "AwsSolutions-IAM5[Resource::<{handler}.Arn>:*]",
            "The Provider framework may invoke any version of the registration function, which is "
            "the only function it calls.",
            handler=self.registration.function,
        )

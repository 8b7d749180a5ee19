"""What all pattern stacks share: the Restate environment's side of AWS, from the restate-lambda package.

* the invoker role Restate assumes to invoke the functions (each pattern stack allows it to invoke
  its own function's published versions);
* the registration provider: the package's registration function behind the CDK Provider
  framework, which every ``Custom::Restate*`` resource calls;
* the Kafka cluster in Restate, when Kafka is configured.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct
from restate_lambda.cdk import (
    KafkaCluster,
    RegistrationProvider,
    RestateEnvironment,
    cloud_invoker_role,
    secret_reference,
    self_hosted_invoker_role,
)
from restate_lambda.registration.custom_resource import (
    DEPLOYMENT_RESOURCE,
    KAFKA_CLUSTER_RESOURCE,
    MINIMUM_RESTATE_VERSIONS,
)

from stacks.bundling import DEPENDENCY_CACHE, Target
from stacks.config import DeploymentConfig, RestateContext, example_values_warning
from stacks.nag import acknowledge
from stacks.python_function import imported_network

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


def invoker_role(scope: Construct, restate: RestateContext) -> iam.Role:
    """The role Restate assumes to invoke the functions; it can do nothing else."""
    if restate.invoker_principal_account is not None:
        return cloud_invoker_role(
            scope,
            "InvokerRole",
            environment_id=restate.external_id or "",
            account=restate.invoker_principal_account,
            principal_arn=restate.invoker_principal_arn,
        )
    return self_hosted_invoker_role(
        scope,
        "InvokerRole",
        principal_arn=restate.invoker_principal_arn,
        external_id=restate.external_id,
        admin_url=restate.admin_url,
    )


class SharedStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, target: Target, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        restate = config.restate
        self.invoker_role = invoker_role(self, restate)
        token = secret_reference(self, "AdminTokenSecret", restate.token_secret) if restate.token_secret else None
        self.restate_environment = RestateEnvironment(
            self,
            "Restate",
            admin_url=restate.admin_url,
            ingress_url=restate.ingress_url or None,
            auth_token=token,
            invoker_role=self.invoker_role,
        )
        network = imported_network(self, "Registration", restate.vpc)
        # "Default" keeps the logical ids the registration function and the Provider framework had before
        # they were the package's: every custom resource names the framework's function as its
        # ServiceToken, which CloudFormation does not let an update change.
        self.registration_provider = RegistrationProvider(
            self,
            "Default",
            target=target,
            timeout=cdk.Duration.seconds(restate.registration_timeout_seconds),
            function_name=f"{config.name_prefix}-registration",
            log_retention_days=config.log_retention_days,
            vpc=network.vpc if network is not None else None,
            vpc_subnets=network.subnets if network is not None else (),
            security_groups=network.security_groups if network is not None else (),
            cache_dir=DEPENDENCY_CACHE,
        )
        self.registration_provider.grant_environment(self.restate_environment)
        self.registration = self.registration_provider.handler
        self.provider = self.registration_provider.provider
        self._acknowledge_registration_function(network is not None)
        if config.kafka is not None and config.kafka.sasl_secret and not config.kafka.sasl_secret_kms_key:
            cdk.Annotations.of(self.registration).add_warning_v2(
                SASL_SECRET_KMS_KEY_WARNING, sasl_secret_kms_key_warning()
            )
        if config.example_values:
            warning = example_values_warning(config.example_values)
            cdk.Annotations.of(self).add_warning_v2(EXAMPLE_VALUES_WARNING, warning)
        self._acknowledge_provider_framework()

        self.kafka_cluster: KafkaCluster | None = None
        if config.kafka is not None:
            sasl_secret = (
                secret_reference(self, "KafkaSaslSecret", config.kafka.sasl_secret)
                if config.kafka.sasl_secret
                else None
            )
            self.kafka_cluster = KafkaCluster(
                self,
                "KafkaCluster",
                environment=self.restate_environment,
                provider=self.registration_provider,
                cluster_name=config.kafka.cluster_name,
                bootstrap_servers=config.kafka.bootstrap_servers,
                properties=config.kafka.properties,
                sasl_secret=sasl_secret,
                sasl_secret_kms_key=config.kafka.sasl_secret_kms_key or None,
                minimum_restate_version=self.minimum_restate_version,
            )

        if restate.ingress_url:
            cdk.CfnOutput(self, "IngressUrl", value=restate.ingress_url, description="Call the patterns here")
        cdk.CfnOutput(self, "AdminUrl", value=restate.admin_url, description="Restate admin API")
        cdk.CfnOutput(self, "InvokerRoleArn", value=self.invoker_role.role_arn)

    @property
    def minimum_restate_version(self) -> str:
        return MINIMUM_RESTATE_VERSION if self.config.kafka is None else MINIMUM_RESTATE_VERSION_WITH_KAFKA

    def _acknowledge_registration_function(self, in_vpc: bool) -> None:
        acknowledge(
            self.registration.function,
            "AwsSolutions-L1",
            "The registration function runs on the Python the bundles are built for, with its bytecode.",
        )
        if in_vpc:
            acknowledge(
                self.registration.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaVPCAccessExecutionRole]",
                "The AWS-maintained policy is the documented minimum for Lambda to manage the function's "
                "network interfaces; its ec2 actions cannot be limited to resources that do not exist yet.",
            )

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

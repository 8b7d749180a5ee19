"""A Restate environment, the registration of function versions with it, and its Kafka subscriptions.

Every resource here is a CloudFormation custom resource handled by the package's own registration
function (:mod:`restate_lambda.registration.custom_resource`, standard library and boto3 only),
behind CDK's Provider framework. Each is idempotent against Restate's admin API, so CloudFormation
retries, updates and rollbacks never duplicate a deployment or a subscription::

    env = RestateEnvironment.cloud(self, "Restate", environment_id="env_...", api_key=secret)
    provider = RegistrationProvider(self, "Registration")
    RestateDeployment(self, "Greeter", environment=env, provider=provider,
                      version=greeter.function.current_version, services=["Greeter"])
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

import restate_lambda
from restate_lambda.cdk.bundling import PythonSources, Target
from restate_lambda.cdk.function import PythonFunction
from restate_lambda.registration.custom_resource import (
    DEPLOYMENT_RESOURCE,
    KAFKA_CLUSTER_RESOURCE,
    MINIMUM_RESTATE_VERSIONS,
    SUBSCRIPTION_RESOURCE,
)

RESTATE_CLOUD_ACCOUNT = "654654156625"
"""The AWS account Restate Cloud invokes Lambda functions from."""
RESTATE_CLOUD_PRINCIPAL_ARN = f"arn:aws:iam::{RESTATE_CLOUD_ACCOUNT}:role/RestateCloud"
"""The role in it that assumes the invoker role."""
CloudRegion = Literal["us", "eu"]
MAX_PROVIDER_TIMEOUT = cdk.Duration.seconds(840)
"""The Provider framework stops waiting for its handler at 900 s; a handler answering before that
reports its own failure instead of leaving CloudFormation to its hour-long custom resource timeout."""
CUSTOM_RESOURCE_MARGIN = cdk.Duration.seconds(60)
SECRET_ARN_SUFFIX = re.compile(r"^arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:.+-[0-9A-Za-z]{6}$")
REGISTRATION_HANDLER = "restate_lambda.registration.custom_resource.handler"


def registration_sources() -> PythonSources:
    """The registration function's code: this package's registration modules, as installed."""
    package_root = Path(restate_lambda.__file__).resolve().parent.parent
    return PythonSources(package_root, ("restate_lambda/__init__.py", "restate_lambda/registration"))


def secret_reference(scope: Construct, construct_id: str, secret: str) -> secretsmanager.ISecret:
    """A secret named by its complete ARN or by its name; only the reference reaches the template.

    An ARN without the 6-character suffix Secrets Manager appends is refused: a grant on it would
    match no secret, and the deploy would fail only when the function first reads it.
    """
    if secret.startswith("arn:"):
        if not SECRET_ARN_SUFFIX.match(secret):
            raise ValueError(
                f"{secret} is not a complete secret ARN (it lacks the -XXXXXX suffix Secrets Manager appends): "
                "give the full ARN, or the secret's name"
            )
        return secretsmanager.Secret.from_secret_complete_arn(scope, construct_id, secret)
    return secretsmanager.Secret.from_secret_name_v2(scope, construct_id, secret)


def secret_id(secret: secretsmanager.ISecret) -> str:
    """How a function names ``secret`` to Secrets Manager: its ARN, or for a secret imported by name
    (whose ARN is only partly known), that name."""
    return secret.secret_name if cdk.Token.is_unresolved(secret.secret_arn) else secret.secret_arn


def restate_cloud_urls(environment_id: str, region: CloudRegion) -> tuple[str, str]:
    """(admin URL, ingress URL) of a Restate Cloud environment; the host uses the id without ``env_``."""
    if not re.fullmatch(r"env_[0-9a-z]+", environment_id):
        raise ValueError(f"a Restate Cloud environment id looks like env_..., not {environment_id!r}")
    if region not in ("us", "eu"):
        raise ValueError(f"the Restate Cloud region is 'us' or 'eu', not {region!r}")
    host = f"{environment_id.removeprefix('env_')}.env.{region}.restate.cloud"
    return f"https://{host}:9070", f"https://{host}"


def cloud_invoker_role(
    scope: Construct,
    construct_id: str,
    *,
    environment_id: str,
    account: str = RESTATE_CLOUD_ACCOUNT,
    principal_arn: str = RESTATE_CLOUD_PRINCIPAL_ARN,
) -> iam.Role:
    """The role Restate Cloud assumes to invoke functions: only its Restate role, only for this environment.

    The principal ARN is a condition rather than the principal, so that the trust survives Restate
    re-creating that role; the environment id is the external id, and Restate Cloud tags its sessions.
    """
    principal_condition = {"aws:PrincipalArn": principal_arn}
    role = iam.Role(
        scope,
        construct_id,
        description=f"Assumed by Restate Cloud ({environment_id}) to invoke functions",
        assumed_by=iam.AccountPrincipal(account).with_conditions(
            {"StringEquals": {"sts:ExternalId": environment_id, **principal_condition}}
        ),
    )
    assert role.assume_role_policy is not None
    role.assume_role_policy.add_statements(
        iam.PolicyStatement(
            actions=["sts:TagSession"],
            principals=[iam.AccountPrincipal(account)],
            conditions={"StringEquals": principal_condition},
        )
    )
    return role


def self_hosted_invoker_role(
    scope: Construct, construct_id: str, *, principal_arn: str, external_id: str | None = None, admin_url: str = ""
) -> iam.Role:
    """The role a self-hosted Restate (running as ``principal_arn``) assumes to invoke functions.

    A Restate in another account also needs ``sts:AssumeRole`` on this role in its own identity policy.
    """
    return iam.Role(
        scope,
        construct_id,
        description=f"Assumed by Restate {admin_url} to invoke functions".replace("  ", " "),
        assumed_by=iam.ArnPrincipal(principal_arn),
        external_ids=[external_id] if external_id else None,
    )


class RestateEnvironment(Construct):
    """Where functions are registered: a Restate admin API, its credentials, and the role it invokes with.

    Build one with :meth:`cloud` or :meth:`self_hosted`; the constructor takes everything as given.
    ``invoker_role`` is the role Restate assumes to invoke the functions (None: Restate invokes them
    with credentials of its own, e.g. its task role).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        admin_url: str,
        ingress_url: str | None = None,
        auth_token: secretsmanager.ISecret | None = None,
        invoker_role: iam.IRole | None = None,
        ca_bundle: str | None = None,
        insecure: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if insecure and ca_bundle:
            raise ValueError("give a CA bundle or insecure=True, not both")
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/") if ingress_url else None
        self.auth_token = auth_token
        self.invoker_role = invoker_role
        self.ca_bundle = ca_bundle
        self.insecure = insecure
        self._environment_grant: iam.Policy | None = None

    @classmethod
    def cloud(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        environment_id: str,
        api_key: secretsmanager.ISecret,
        region: CloudRegion = "us",
        invoker_role: iam.IRole | None = None,
    ) -> RestateEnvironment:
        """A Restate Cloud environment, given its id (``env_...``), region and an admin API key's secret.

        Without ``invoker_role``, one is created that only this environment of Restate Cloud may assume.
        """
        admin_url, ingress_url = restate_cloud_urls(environment_id, region)
        environment = cls(scope, construct_id, admin_url=admin_url, ingress_url=ingress_url, auth_token=api_key)
        environment.invoker_role = invoker_role or cloud_invoker_role(
            environment, "InvokerRole", environment_id=environment_id
        )
        return environment

    @classmethod
    def self_hosted(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        admin_url: str,
        ingress_url: str | None = None,
        auth_token: secretsmanager.ISecret | None = None,
        invoker_principal_arn: str | None = None,
        external_id: str | None = None,
        invoker_role: iam.IRole | None = None,
        ca_bundle: str | None = None,
        insecure: bool = False,
    ) -> RestateEnvironment:
        """A Restate of your own. With ``invoker_principal_arn`` (the role it runs as), an invoker role
        trusting that principal (with ``external_id``, if given) is created; without it and without
        ``invoker_role``, Restate invokes with its own credentials."""
        environment = cls(
            scope,
            construct_id,
            admin_url=admin_url,
            ingress_url=ingress_url,
            auth_token=auth_token,
            ca_bundle=ca_bundle,
            insecure=insecure,
        )
        if invoker_role is None and invoker_principal_arn:
            invoker_role = self_hosted_invoker_role(
                environment,
                "InvokerRole",
                principal_arn=invoker_principal_arn,
                external_id=external_id,
                admin_url=admin_url,
            )
        environment.invoker_role = invoker_role
        return environment

    def admin_properties(self, minimum_version: str) -> dict[str, str]:
        """What every custom resource of this environment tells the registration function."""
        return {
            "AdminUrl": self.admin_url,
            # The secret's id: the registration function reads the token at run time, never the template.
            "AuthTokenSecretId": secret_id(self.auth_token) if self.auth_token is not None else "",
            # Checked first, so that an older Restate fails the deploy with a clear message.
            "MinimumRestateVersion": minimum_version,
            "CaBundle": self.ca_bundle or "",
            "Insecure": str(self.insecure).lower(),
        }

    def grant_invoke_by_name_prefix(self, function_name_prefix: str) -> iam.Policy:
        """One policy letting Restate invoke the published versions of every function named ``<prefix>*``.

        An alternative to one policy per registration: IAM caps a role's inline policies at 10,240
        characters in all, about 29 single-function grants. Idempotent: one policy per environment.
        """
        if self.invoker_role is None:
            raise ValueError("this environment has no invoker role to grant to")
        if self._environment_grant is None:
            stack = cdk.Stack.of(self)
            functions = f"arn:{stack.partition}:lambda:{stack.region}:{stack.account}:function:{function_name_prefix}*"
            self._environment_grant = iam.Policy(
                self, "InvokeGrant", statements=invoke_statements(f"{functions}:*", f"{functions}:$LATEST")
            )
            self._environment_grant.attach_to_role(self.invoker_role)
        return self._environment_grant


def invoke_statements(qualified_arns: str, latest_arns: str) -> list[iam.PolicyStatement]:
    """Published versions only: Restate invokes the version it registered, never ``$LATEST``. The
    qualifier wildcard would match ``:$LATEST`` too, hence the deny."""
    return [
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[qualified_arns]),
        iam.PolicyStatement(effect=iam.Effect.DENY, actions=["lambda:InvokeFunction"], resources=[latest_arns]),
    ]


class RegistrationProvider(Construct):
    """The registration function and the Provider framework in front of it, for every Restate custom resource.

    One per stack, or one shared by many stacks (pass it to each resource). Its function reads the
    environments' secrets at run time: :meth:`grant_environment` lets it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: Target | None = None,
        timeout: cdk.Duration | None = None,
        function_name: str | None = None,
        log_retention_days: int = 30,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: Sequence[ec2.ISubnet] = (),
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.timeout = timeout or cdk.Duration.minutes(5)
        if self.timeout.to_seconds() > MAX_PROVIDER_TIMEOUT.to_seconds():
            raise ValueError(f"the registration timeout is at most {MAX_PROVIDER_TIMEOUT.to_seconds()} s")
        # Construct ids kept short and stable: the Provider framework's function ARN is every custom
        # resource's ServiceToken, which CloudFormation does not let an update change.
        self.handler = PythonFunction(
            self,
            "Registration",
            sources=registration_sources(),
            handler=REGISTRATION_HANDLER,
            target=target,
            cache_dir=cache_dir,
            function_name=function_name,
            description="Registers function versions, Kafka clusters and subscriptions with Restate",
            timeout=self.timeout,
            memory_size=256,
            log_retention_days=log_retention_days,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )
        provider_logs = logs.LogGroup(self, "ProviderLogs", removal_policy=cdk.RemovalPolicy.DESTROY)
        cfn_provider_logs = provider_logs.node.default_child
        assert isinstance(cfn_provider_logs, logs.CfnLogGroup)
        cfn_provider_logs.retention_in_days = log_retention_days
        self.provider = cr.Provider(
            self, "RegistrationProvider", on_event_handler=self.handler.function, log_group=provider_logs
        )

    @property
    def service_token(self) -> str:
        return self.provider.service_token

    @property
    def service_timeout(self) -> cdk.Duration:
        """How long CloudFormation waits for one of its resources: the handler's time and a margin."""
        return cdk.Duration.seconds(self.timeout.to_seconds() + CUSTOM_RESOURCE_MARGIN.to_seconds())

    def grant_environment(self, environment: RestateEnvironment) -> None:
        if environment.auth_token is not None:
            environment.auth_token.grant_read(self.handler.function)


def _removal_policy(policy: cdk.RemovalPolicy) -> str:
    if policy == cdk.RemovalPolicy.RETAIN:
        return "retain"
    if policy == cdk.RemovalPolicy.DESTROY:
        return "destroy"
    raise ValueError(f"a Restate deployment's removal policy is RETAIN or DESTROY, not {policy}")


class RestateDeployment(Construct):
    """A published function version, registered with a Restate environment as a deployment.

    Every new version (``function.current_version`` changes with the code) is a new deployment;
    with ``removal_policy=RETAIN`` (the default) the old one stays, because invocations started on
    it finish there. ``prune_drained_deployments`` deletes superseded deployments that nothing runs
    on any more, but the newest ``revision_history_limit`` of them. ``private`` makes every service
    (True) or the named ones private: callable by other services only, not through the ingress.

    ``invoke_grant``: ``"stack"`` puts one inline policy for this function on the invoker role
    (IAM allows about 29 of them on one role, 10,240 characters in all); ``"environment"`` uses the
    environment's single grant for functions named ``function_name_prefix*``; ``"none"`` grants
    nothing (your own grant, or a Restate with credentials of its own).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: RestateEnvironment,
        provider: RegistrationProvider,
        version: lambda_.IVersion,
        services: Sequence[str] = (),
        private: bool | Sequence[str] = False,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        prune_drained_deployments: bool = False,
        revision_history_limit: int = 0,
        allow_breaking: bool = False,
        code_hash: str = "",
        invoke_grant: Literal["stack", "environment", "none"] = "stack",
        function_name_prefix: str = "",
        minimum_restate_version: str = MINIMUM_RESTATE_VERSIONS[DEPLOYMENT_RESOURCE],
    ) -> None:
        super().__init__(scope, construct_id)
        if revision_history_limit < 0:
            raise ValueError("revision_history_limit must not be negative")
        if private is True and not services:
            raise ValueError("private=True needs the services listed, to know which to make private")
        private_services = list(services) if private is True else [] if private is False else list(private)
        if not set(private_services) <= set(services):
            raise ValueError(f"private services {sorted(set(private_services) - set(services))} are not in services")
        provider.grant_environment(environment)

        self.invoke_policy: iam.Policy | None = None
        function = version.lambda_
        if invoke_grant == "stack":
            if environment.invoker_role is None:
                raise ValueError("the environment has no invoker role: use invoke_grant='none'")
            self.invoke_policy = iam.Policy(
                self,
                "InvokeGrant",
                # Unique per stack and construct: all stacks put theirs on the one shared role.
                policy_name=f"restate-invoke-{cdk.Names.unique_id(self)}"[-128:],
                statements=invoke_statements(f"{function.function_arn}:*", f"{function.function_arn}:$LATEST"),
            )
            self.invoke_policy.attach_to_role(environment.invoker_role)
        elif invoke_grant == "environment":
            if not function_name_prefix:
                raise ValueError("invoke_grant='environment' needs the function_name_prefix it covers")
            self.invoke_policy = environment.grant_invoke_by_name_prefix(function_name_prefix)

        self.resource = cdk.CustomResource(
            # "Default": the resource's logical id is this construct's own.
            self,
            "Default",
            service_token=provider.service_token,
            service_timeout=provider.service_timeout,
            resource_type=DEPLOYMENT_RESOURCE,
            properties={
                **environment.admin_properties(minimum_restate_version),
                "FunctionVersionArn": version.function_arn,
                "AssumeRoleArn": environment.invoker_role.role_arn if environment.invoker_role is not None else "",
                "Services": list(services),
                "PrivateServices": private_services,
                "RemovalPolicy": _removal_policy(removal_policy),
                "PruneOldDeployments": str(prune_drained_deployments).lower(),
                "RevisionHistoryLimit": str(revision_history_limit),
                # Recorded in the deployment's metadata: a function deleted and re-created reuses its version
                # numbers, so only stack, logical id and code tell this registration from an earlier one.
                "CodeHash": code_hash,
                "AllowBreakingChanges": str(allow_breaking).lower(),
            },
        )
        if self.invoke_policy is not None:
            # Restate invokes the function while registering it, as the invoker role.
            self.resource.node.add_dependency(self.invoke_policy)

    @property
    def deployment_id(self) -> str:
        return self.resource.get_att_string("DeploymentId")


class KafkaCluster(Construct):
    """A Kafka cluster known to Restate by ``cluster_name``: bootstrap servers and librdkafka properties.

    SASL credentials come from ``sasl_secret`` (``{"username": ..., "password": ...}``) at deploy time,
    read by the registration function; Amazon MSK requires such a secret to be encrypted with a
    customer-managed key, ``sasl_secret_kms_key``, which the function may then decrypt with, through
    Secrets Manager only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: RestateEnvironment,
        provider: RegistrationProvider,
        cluster_name: str,
        bootstrap_servers: str | Sequence[str],
        properties: Mapping[str, str] | None = None,
        sasl_secret: secretsmanager.ISecret | None = None,
        sasl_secret_kms_key: str | None = None,
        minimum_restate_version: str = MINIMUM_RESTATE_VERSIONS[KAFKA_CLUSTER_RESOURCE],
    ) -> None:
        super().__init__(scope, construct_id)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", cluster_name):
            raise ValueError(f"a Kafka cluster name is letters, digits, '-' and '_', not {cluster_name!r}")
        self.cluster_name = cluster_name
        self.environment = environment
        self.provider = provider
        provider.grant_environment(environment)
        servers = bootstrap_servers if isinstance(bootstrap_servers, str) else ",".join(bootstrap_servers)
        if sasl_secret is not None:
            sasl_secret.grant_read(provider.handler.function)
            if sasl_secret_kms_key:
                provider.handler.function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["kms:Decrypt"],
                        resources=[sasl_secret_kms_key],
                        conditions={
                            "StringEquals": {
                                "kms:ViaService": f"secretsmanager.{cdk.Stack.of(self).region}.amazonaws.com"
                            }
                        },
                    )
                )
        self.resource = cdk.CustomResource(
            self,
            "Default",
            service_token=provider.service_token,
            service_timeout=provider.service_timeout,
            resource_type=KAFKA_CLUSTER_RESOURCE,
            properties={
                **environment.admin_properties(minimum_restate_version),
                "ClusterName": cluster_name,
                "BootstrapServers": servers,
                "Properties": dict(properties or {}),
                "SaslSecretId": secret_id(sasl_secret) if sasl_secret is not None else "",
            },
        )


def default_group_id(cluster_name: str, topic: str, service: str, handler: str) -> str:
    """A consumer group that stays the same across deploys, so a re-created subscription resumes where it was."""
    return f"restate-{cluster_name}-{topic}-{service}-{handler}"


class KafkaSubscription(Construct):
    """Records of ``topic`` delivered to ``service/handler``, in order per key.

    ``options`` are the subscription's librdkafka options; ``group.id`` defaults to a stable name
    (:func:`default_group_id`), so that a subscription re-created with new options resumes from its
    group's offsets instead of reading the topic again.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: KafkaCluster,
        topic: str,
        service: str,
        handler: str,
        options: Mapping[str, str] | None = None,
        after: Sequence[Construct] = (),
        minimum_restate_version: str = MINIMUM_RESTATE_VERSIONS[SUBSCRIPTION_RESOURCE],
    ) -> None:
        super().__init__(scope, construct_id)
        merged = {"group.id": default_group_id(cluster.cluster_name, topic, service, handler), **(options or {})}
        self.resource = cdk.CustomResource(
            self,
            "Default",
            service_token=cluster.provider.service_token,
            service_timeout=cluster.provider.service_timeout,
            resource_type=SUBSCRIPTION_RESOURCE,
            properties={
                **cluster.environment.admin_properties(minimum_restate_version),
                "ClusterName": cluster.cluster_name,
                "Topic": topic,
                "Service": service,
                "Handler": handler,
                "Options": merged,
            },
        )
        # Restate accepts a subscription only to a cluster and a service it knows.
        self.resource.node.add_dependency(cluster, *after)

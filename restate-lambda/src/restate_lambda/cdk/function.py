"""Python Lambda functions (and their shared dependencies layer) bundled on the host, without Docker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from restate_lambda.cdk.bundling import Bundle, LayerBundle, PythonSources, Target, find_interpreter

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)
"""The retention periods CloudWatch Logs accepts."""
NO_BYTECODE_WARNING = "restate-lambda:noTargetInterpreter"


@jsii.implements(cdk.ILocalBundling)
class _BuildOnHost:
    """CDK's hook for building an asset on the host: returning True means Docker is never used."""

    def __init__(self, build: Bundle | LayerBundle) -> None:
        self._build = build

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        self._build.build(Path(output_dir))
        return True


def _asset_code(build: Bundle | LayerBundle, source_dir: Path, asset_hash: str) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source_dir),
        asset_hash=asset_hash,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Required by the API but never pulled: bundling on the host either succeeds or raises.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=_BuildOnHost(build),
            platform=build.target.docker_platform,
        ),
    )


def lambda_runtime(target: Target) -> lambda_.Runtime:
    return lambda_.Runtime(f"python{target.python_version}", lambda_.RuntimeFamily.PYTHON)


def lambda_architecture(target: Target) -> lambda_.Architecture:
    return lambda_.Architecture.ARM_64 if target.architecture == "arm64" else lambda_.Architecture.X86_64


def _warn_without_interpreter(scope: Construct, target: Target, bytecode: bool) -> None:
    if bytecode and find_interpreter(target.python_version) is None:
        cdk.Annotations.of(scope).add_warning_v2(
            NO_BYTECODE_WARNING,
            f"No Python {target.python_version} found (python{target.python_version} on PATH or under pyenv): "
            "the bundle ships sources only, and every cold start compiles them. "
            "Install that Python to bundle bytecode.",
        )


class DependenciesLayer(Construct):
    """A Lambda layer holding a requirements file's wheels for one target, for many functions to share.

    Functions given this layer bundle only their own code, so ten functions upload their
    dependencies once (an asset is uploaded once per content, whichever stacks use it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        requirements: Path,
        constraints: Path | None = None,
        target: Target | None = None,
        cache_dir: Path | None = None,
        bytecode: bool = True,
        description: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = target or Target()
        self.bundle = LayerBundle(requirements, self.target, cache_dir, bytecode, constraints)
        _warn_without_interpreter(self, self.target, bytecode)
        self.layer_version = lambda_.LayerVersion(
            self,
            "Layer",
            code=_asset_code(self.bundle, requirements.parent, self.bundle.asset_hash()),
            compatible_runtimes=[lambda_runtime(self.target)],
            compatible_architectures=[lambda_architecture(self.target)],
            description=description or f"Dependencies of {requirements.name}",
            # Versions still used by a function's older versions must outlive a stack update.
            removal_policy=removal_policy,
        )


class PythonFunction(Construct):
    """A Python Lambda function bundled on the host for ``target``, with its own role and log group.

    ``sources`` is the function's own code: a folder (all of it, less READMEs, tests and hidden
    files) or :class:`PythonSources` naming what to take. Its dependencies come from ``requirements``
    (installed into the bundle, pinned by ``constraints`` if given) or from ``layer``. The role may
    write to the function's log group only, instead of the managed AWSLambdaBasicExecutionRole
    policy that may write any log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        sources: Path | PythonSources | Sequence[PythonSources],
        handler: str,
        requirements: Path | None = None,
        constraints: Path | None = None,
        layer: DependenciesLayer | None = None,
        target: Target | None = None,
        cache_dir: Path | None = None,
        bytecode: bool = True,
        function_name: str | None = None,
        description: str | None = None,
        timeout: cdk.Duration | None = None,
        memory_size: int = 512,
        environment: Mapping[str, str] | None = None,
        log_retention_days: int = 30,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: Sequence[ec2.ISubnet] = (),
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        version_removal_policy: cdk.RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log retention must be one of {LOG_RETENTION_DAYS} days, got {log_retention_days}")
        if requirements is not None and layer is not None:
            raise ValueError("give the dependencies either as requirements or as a layer, not both")
        self.target = target or (layer.target if layer is not None else Target())
        if layer is not None and layer.target != self.target:
            raise ValueError(f"the layer is built for {layer.target}, the function for {self.target}")
        if isinstance(sources, Path):
            sources = [PythonSources(sources)]
        elif isinstance(sources, PythonSources):
            sources = [sources]
        self.bundle = Bundle(tuple(sources), requirements, self.target, cache_dir, bytecode, constraints)
        self.asset_hash = self.bundle.asset_hash()
        """Changes exactly when the bundle does: a registration can record it to see new code."""
        _warn_without_interpreter(self, self.target, bytecode)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}" if function_name else None,
            # A log group left behind with a fixed name would block deploying the stack again.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = log_retention_days

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name or cdk.Names.unique_id(self)}",
        )
        self.log_group.grant_write(self.role)
        if vpc is not None:
            # Network interfaces in the VPC are created by Lambda on the function's behalf.
            self.role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=lambda_runtime(self.target),
            architecture=lambda_architecture(self.target),
            handler=handler,
            code=_asset_code(self.bundle, self.bundle.sources[0].root, self.asset_hash),
            layers=[layer.layer_version] if layer is not None else None,
            timeout=timeout or cdk.Duration.seconds(30),
            memory_size=memory_size,
            environment=dict(environment or {}),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=list(vpc_subnets)) if vpc is not None else None,
            security_groups=list(security_groups) or None,
            current_version_options=lambda_.VersionOptions(removal_policy=version_removal_policy)
            if version_removal_policy is not None
            else None,
        )

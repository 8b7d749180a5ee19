"""A Python Lambda function the way every function of this app is built.

The ``restate-lambda`` package's :class:`~restate_lambda.cdk.PythonFunction`: its own execution role,
its own log group (named like Lambda's default, with a retention), JSON logs, and a bundle built
on the host with bytecode for the target Python. This app adds its VPC placement from the context
and the cdk-nag reasons for what the checks flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct
from restate_lambda import cdk as restate_lambda_cdk
from restate_lambda.cdk.bundling import Bundle

from stacks.config import VpcPlacement
from stacks.nag import acknowledge


@dataclass(frozen=True)
class Network:
    """Where in an existing VPC a function runs."""

    vpc: ec2.IVpc
    subnets: tuple[ec2.ISubnet, ...]
    security_groups: tuple[ec2.ISecurityGroup, ...]
    """Empty: CDK creates one for the function (no inbound rules, all outbound)."""


def imported_network(scope: Construct, id_prefix: str, placement: VpcPlacement | None) -> Network | None:
    """The configured VPC, subnets and security groups as references: nothing is created or looked up."""
    if placement is None:
        return None
    # Attributes instead of a lookup: synth stays offline. The subnets are named explicitly
    # below, so the VPC's own zones and subnets are never consulted.
    vpc = ec2.Vpc.from_vpc_attributes(
        scope, f"{id_prefix}Vpc", vpc_id=placement.vpc_id, availability_zones=cdk.Fn.get_azs()
    )
    cdk.Validations.of(vpc).acknowledge(
        cdk.Acknowledgment(
            id="Annotation::@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones",
            reason="The zones are never read: the function's subnets are given by id.",
        )
    )
    subnets = tuple(
        ec2.Subnet.from_subnet_id(scope, f"{id_prefix}Subnet{index}", subnet_id)
        for index, subnet_id in enumerate(placement.subnet_ids)
    )
    for subnet in subnets:
        cdk.Validations.of(subnet).acknowledge(
            cdk.Acknowledgment(
                id="Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId",
                reason="Only the subnet ids are needed to place the function; nothing here routes.",
            )
        )
    security_groups = tuple(
        ec2.SecurityGroup.from_security_group_id(scope, f"{id_prefix}SecurityGroup{index}", group_id)
        for index, group_id in enumerate(placement.security_group_ids)
    )
    return Network(vpc, subnets, security_groups)


class PythonFunction(restate_lambda_cdk.PythonFunction):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        description: str,
        handler: str,
        bundle: Bundle,
        timeout_seconds: int,
        memory_mb: int,
        log_retention_days: int,
        environment: Mapping[str, str] | None = None,
        network: Network | None = None,
        version_removal_policy: cdk.RemovalPolicy | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            sources=bundle.sources,
            requirements=bundle.requirements,
            constraints=bundle.constraints,
            target=bundle.target,
            cache_dir=bundle.cache_dir,
            function_name=function_name,
            description=description,
            handler=handler,
            timeout=cdk.Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            log_retention_days=log_retention_days,
            environment=environment,
            vpc=network.vpc if network is not None else None,
            vpc_subnets=network.subnets if network is not None else (),
            security_groups=network.security_groups if network is not None else (),
            version_removal_policy=version_removal_policy,
        )
        if network is not None:
            acknowledge(
                self.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaVPCAccessExecutionRole]",
                "The AWS-maintained policy is the documented minimum for Lambda to manage the function's "
                "network interfaces; its ec2 actions cannot be limited to resources that do not exist yet.",
            )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"Python {bundle.target.python_version} is the runtime the bundles are built for (its wheels of "
            "pydantic-core and restate-sdk, and its bytecode).",
        )

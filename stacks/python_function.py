"""A Python Lambda function the way every function of this app is built.

Each gets its own execution role, its own log group (named like Lambda's default, with a
retention) and JSON logs. The role may write to that log group only, instead of the managed
AWSLambdaBasicExecutionRole policy that may create and write any log group in the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.bundling import Target
from stacks.config import VpcPlacement
from stacks.nag import acknowledge

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)
"""The retention periods CloudWatch Logs accepts."""


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


class PythonFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        description: str,
        handler: str,
        code: lambda_.Code,
        target: Target,
        timeout_seconds: int,
        memory_mb: int,
        log_retention_days: int,
        environment: Mapping[str, str] | None = None,
        network: Network | None = None,
        version_removal_policy: cdk.RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log retention must be one of {LOG_RETENTION_DAYS} days, got {log_retention_days}")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            # The name is fixed, so a log group left behind would block deploying the stack again.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = log_retention_days

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name}",
        )
        self.log_group.grant_write(self.role)
        if network is not None:
            # Network interfaces in the VPC are created by Lambda on the function's behalf.
            self.role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )
            acknowledge(
                self.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaVPCAccessExecutionRole]",
                "The AWS-maintained policy is the documented minimum for Lambda to manage the function's "
                "network interfaces; its ec2 actions cannot be limited to resources that do not exist yet.",
            )

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=target.lambda_architecture,
            handler=handler,
            code=code,
            timeout=cdk.Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            environment=dict(environment or {}),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            vpc=network.vpc if network is not None else None,
            vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network is not None else None,
            security_groups=(list(network.security_groups) or None) if network is not None else None,
            current_version_options=lambda_.VersionOptions(removal_policy=version_removal_policy)
            if version_removal_policy is not None
            else None,
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Python 3.13 is the runtime the bundles are built for (cp313 wheels of pydantic-core and "
            "restate-sdk) and the one the patterns are tested with.",
        )

"""AWS permissions a pattern's own code needs beyond logging.

The catalog does not (yet) say which AWS APIs a pattern calls, so the one pattern that calls any
is looked up by name here. A catalog field (e.g. ``aws_permissions``) would make this table
unnecessary; until then a pattern that starts calling AWS needs an entry.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from functions.catalog import Pattern
from stacks.nag import acknowledge


def grant_data_upload(role: iam.Role, settings: Mapping[str, str]) -> None:
    """Buckets named ``<UPLOAD_BUCKET_PREFIX>-...``: create, put the data, sign a GET; email the link."""
    stack = cdk.Stack.of(role)
    prefix = settings["UPLOAD_BUCKET_PREFIX"]
    sender = settings["UPLOAD_EMAIL_SENDER"]
    sender_domain = sender.rpartition("@")[2]
    policy = iam.Policy(
        role,
        "DataUploadAccess",
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=["s3:CreateBucket"], resources=[f"arn:{stack.partition}:s3:::{prefix}-*"]),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject"], resources=[f"arn:{stack.partition}:s3:::{prefix}-*/*"]
            ),
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    stack.format_arn(service="ses", resource="identity", resource_name=sender),
                    stack.format_arn(service="ses", resource="identity", resource_name=sender_domain),
                ],
            ),
        ],
    )
    reason = (
        "Each upload gets its own bucket, named from the configured prefix and the upload id at run time, "
        "so the bucket and object ARNs can only be given by that prefix."
    )
    acknowledge(policy, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{prefix}-*]", reason)
    acknowledge(policy, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{prefix}-*/*]", reason)


def grant_pattern_permissions(pattern: Pattern, role: iam.Role, settings: Mapping[str, str]) -> None:
    if pattern.name == "data_upload":
        grant_data_upload(role, settings)

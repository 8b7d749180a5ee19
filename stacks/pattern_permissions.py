"""AWS permissions a pattern's own code needs beyond logging, from its catalog entry (``aws_access``).

S3 ARNs name no account: ``arn:aws:s3:::<prefix>-*`` matches a bucket of that name in *any* account,
so a grant on it would let the function write to (or read from) another account's bucket that happens
to match the pattern, if that bucket's policy allowed it. Every S3 statement therefore carries
``s3:ResourceAccount`` = the deploying account, which S3 checks against the bucket owner.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from functions.catalog import AwsAccess, Pattern
from stacks.nag import acknowledge

S3_ACTION_PREFIX = "s3:"


def own_account_condition(pattern: Pattern, access: AwsAccess) -> dict[str, dict[str, str]] | None:
    """``s3:ResourceAccount`` = this stack's account for an S3 statement; no condition for any other.

    An S3 action shares no statement with other services' actions: the condition key exists for S3
    requests only, so on another service's action it would deny every call.
    """
    s3_actions = [action for action in access.actions if action.startswith(S3_ACTION_PREFIX)]
    if not s3_actions:
        return None
    if len(s3_actions) != len(access.actions):
        raise ValueError(f"{pattern.name}: give S3 actions an AwsAccess of their own, not {list(access.actions)}")
    # ${AWS::AccountId}: the account the stack is deployed to, whether or not the synth knew it.
    return {"StringEquals": {"s3:ResourceAccount": cdk.Aws.ACCOUNT_ID}}


def template_values(settings: Mapping[str, str], partition: str, region: str, account: str) -> dict[str, str]:
    """What an ``AwsAccess`` resource template may name (see its docstring)."""
    domains = {f"{name}_DOMAIN": value.rpartition("@")[2] for name, value in settings.items() if "@" in value}
    return {**settings, **domains, "partition": partition, "region": region, "account": account}


def grant_pattern_permissions(pattern: Pattern, role: iam.Role, settings: Mapping[str, str]) -> None:
    if not pattern.aws_access:
        return
    stack = cdk.Stack.of(role)
    values = template_values(settings, stack.partition, stack.region, stack.account)
    # cdk-nag names a finding by the resource as it appears in the template: a pseudo parameter where the
    # value is a token, the literal where CDK knows it (the partition of a known region, with partition literals).
    finding_values = template_values(
        settings,
        *(
            f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value
            for value, pseudo in (
                (stack.partition, "Partition"),
                (stack.region, "Region"),
                (stack.account, "AccountId"),
            )
        ),
    )
    policy = iam.Policy(
        role,
        "PatternAwsAccess",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=list(access.actions),
                resources=[resource.format(**values) for resource in access.resources],
                conditions=own_account_condition(pattern, access),
            )
            for access in pattern.aws_access
        ],
    )
    for access in pattern.aws_access:
        for resource in access.resources:
            if "*" not in resource:
                continue
            if not access.why_wildcards:
                raise ValueError(f"{pattern.name}: {resource} has a wildcard; say why in why_wildcards")
            acknowledge(
                policy, f"AwsSolutions-IAM5[Resource::{resource.format(**finding_values)}]", access.why_wildcards
            )

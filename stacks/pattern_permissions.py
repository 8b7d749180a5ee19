"""AWS permissions a pattern's own code needs beyond logging, from its catalog entry (``aws_access``)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from functions.catalog import Pattern
from stacks.nag import acknowledge


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
                actions=list(access.actions), resources=[resource.format(**values) for resource in access.resources]
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

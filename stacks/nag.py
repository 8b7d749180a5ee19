"""cdk-nag's AwsSolutions checks, run at every synth; findings are acknowledged one by one, with a reason.

cdk-nag 3 plugs into CDK's own validation: an unacknowledged finding fails ``cdk synth`` (and
``app.synth()`` in the tests). Findings about one resource of a kind name it by logical id (e.g.
``AwsSolutions-IAM5[Resource::<LogsA1B2.Arn>:*]``), so :func:`acknowledge` fills those in from the
constructs instead of hard-coding generated ids.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct

PLUGIN = "AwsSolutions"
MIN_REASON_LENGTH = 40
"""Long enough that a reason has to say why, not just restate the rule."""


def logical_id(construct: IConstruct) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    if not isinstance(element, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to name")
    stack = cdk.Stack.of(element)
    resolved = stack.resolve(element.logical_id)
    assert isinstance(resolved, str)
    return resolved


def acknowledge(scope: IConstruct, rule: str, reason: str, **resources: Construct) -> None:
    """Acknowledge finding ``rule`` on ``scope`` and its children; ``{name}`` in it becomes a logical id."""
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"the reason for acknowledging {rule} must explain it: {reason!r}")
    finding = rule.format(**{name: logical_id(resource) for name, resource in resources.items()})
    # The plugin's name qualifies the id, as cdk-nag's report asks ("Acknowledge with 'AwsSolutions::...'").
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PLUGIN}::{finding}", reason=reason))


def add_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

"""The CDK app: one shared stack, one stack per catalog pattern and one per HTTP API, all from the catalog.

``app.py`` (what ``cdk synth`` / ``cdk deploy`` run) and the tests call :func:`build_app`. Stacks
are selected by catalog name (``cdk deploy durable_rpc``, ``cdk deploy front_door``; a pattern's
shared stack comes along as a dependency, an HTTP API needs none); their CloudFormation names carry
the configured prefix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

from functions.catalog import HTTP_APIS, PATTERNS
from stacks.bundling import Target
from stacks.config import CONTEXT_KEYS, DeploymentConfig, deployment_config, project_context
from stacks.http_api_stack import HttpApiStack
from stacks.nag import add_checks
from stacks.pattern_stack import PatternStack
from stacks.shared_stack import SharedStack

SHARED_STACK_ID = "shared"
LAMBDA_PYTHON_VERSION = "3.13"


def effective_context(app: cdk.App) -> dict[str, Any]:
    """The app's context for our keys, after CDK merged the CLI's values over the defaults."""
    return {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app as ``cdk synth`` builds it: cdk.json's context, overridden by ``context`` (like ``-c``)."""
    app = cdk.App(context={**project_context(), **(context or {})}, outdir=outdir)
    config = deployment_config(effective_context(app))
    add_stacks(app, config)
    add_checks(app)
    return app


def add_stacks(app: cdk.App, config: DeploymentConfig) -> tuple[SharedStack, list[PatternStack], list[HttpApiStack]]:
    target = Target(architecture=config.architecture, python_version=LAMBDA_PYTHON_VERSION)
    # Unset without AWS credentials (offline synth): the stacks are then environment-agnostic.
    environment = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    shared = SharedStack(
        app,
        SHARED_STACK_ID,
        stack_name=config.stack_name(SHARED_STACK_ID),
        description="Restate on AWS Lambda: invoker role, registration provider, Kafka cluster",
        config=config,
        target=target,
        env=environment,
    )
    patterns = [
        PatternStack(
            app,
            pattern.name,
            stack_name=config.stack_name(pattern.name),
            pattern=pattern,
            config=config,
            target=target,
            shared=shared,
            env=environment,
        )
        for pattern in PATTERNS
    ]
    http_apis: list[HttpApiStack] = []
    if HTTP_APIS and not config.restate.ingress_url:
        # Only a self-hosted Restate can lack it; the patterns deploy fine without, so this is no error.
        print(
            f"warning: not deploying {', '.join(api.name for api in HTTP_APIS)}: they call the Restate ingress, "
            "and restate:selfHosted:ingressUrl is not set",
            file=sys.stderr,
        )
    else:
        http_apis = [
            HttpApiStack(
                app,
                api.name,
                stack_name=config.stack_name(api.name),
                api=api,
                config=config,
                target=target,
                env=environment,
            )
            for api in HTTP_APIS
        ]
    for stack in (shared, *patterns, *http_apis):
        cdk.Tags.of(stack).add("app", config.name_prefix)
        if isinstance(stack, PatternStack):
            cdk.Tags.of(stack).add("pattern", stack.pattern.name)
        if isinstance(stack, HttpApiStack):
            cdk.Tags.of(stack).add("api", stack.api.name)
    for key, value in config.tags.items():
        cdk.Tags.of(app).add(key, value)
    return shared, patterns, http_apis

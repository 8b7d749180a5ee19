"""The CDK app: one shared stack, one stack per catalog pattern and one per HTTP API, all from the catalog.

``app.py`` (what ``cdk synth`` / ``cdk deploy`` run) and the tests call :func:`build_app`. Stacks
are selected by catalog name (``cdk deploy durable_rpc``, ``cdk deploy front_door``; a pattern's
shared stack comes along as a dependency, an HTTP API needs none); their CloudFormation names carry
the configured prefix. Warnings about the deployment as a whole (not one stack's own) are added by
:func:`add_warnings`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import aws_cdk as cdk
from restate_lambda import LAMBDA_PYTHON_VERSION

from functions.catalog import HTTP_APIS, PATTERNS, HttpApi
from stacks.bundling import Target
from stacks.config import CONTEXT_KEYS, DeploymentConfig, deployment_config, http_api_context_prefix, project_context
from stacks.http_api_stack import HttpApiStack
from stacks.nag import add_checks
from stacks.pattern_stack import PatternStack
from stacks.shared_stack import SharedStack

SHARED_STACK_ID = "shared"

WEBHOOK_PATTERN = "webhook_callbacks"
"""The pattern whose handler Stripe's webhook deliveries are meant to reach."""
STRIPE_WEBHOOK_ROUTES: Mapping[str, str] = {}
"""HTTP APIs (by catalog name) with a route that forwards Stripe's webhooks to the ingress, and its path.

None has one: the front door serves the clients' flows only (its routes are checked against this by
the tests). An API listed here is where Stripe can deliver when the ingress wants a key Stripe cannot send.
"""
STRIPE_WEBHOOK_WARNING = "restate-patterns:stripeWebhookToCloudIngress"
"""Id of the synth warning about Stripe webhooks aimed at an ingress that requires an API key."""


def effective_context(app: cdk.App) -> dict[str, Any]:
    """The app's context for our keys, after CDK merged the CLI's values over the defaults."""
    return {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app as ``cdk synth`` builds it: cdk.json's context, overridden by ``context`` (like ``-c``)."""
    app = cdk.App(context={**project_context(), **(context or {})}, outdir=outdir)
    config = deployment_config(effective_context(app))
    _, patterns, http_apis = add_stacks(app, config)
    add_checks(app)
    add_warnings(config, patterns, http_apis)
    return app


def stripe_webhook_warning(
    config: DeploymentConfig, http_apis: Iterable[HttpApi], routes: Mapping[str, str] = STRIPE_WEBHOOK_ROUTES
) -> str | None:
    """Why Stripe's deliveries cannot reach ``webhook_callbacks`` as deployed, and the fix; None when they can.

    Restate Cloud's ingress accepts only requests with an API key (a bearer token), and a Stripe webhook
    endpoint is a bare URL: Stripe sends no header of the user's choosing. An HTTP API of ``routes`` with a
    public Function URL is an address Stripe can call instead.
    """
    if config.restate.mode != "cloud":
        return None
    http_apis = tuple(http_apis)
    forwarders = [api for api in http_apis if api.name in routes]
    if any(config.http_apis[api.name].function_url_auth == "NONE" for api in forwarders):
        return None
    problem = (
        f"{WEBHOOK_PATTERN} expects Stripe to POST its events to the Restate ingress "
        "(/WebhookCallbackRouter/OnStripeEvent), but Restate Cloud's ingress accepts only requests that carry an "
        "API key (Authorization: Bearer ...), and Stripe's webhook deliveries cannot send one: every delivery "
        "would be refused before it reaches the handler. "
    )
    if forwarders:
        api = forwarders[0]
        key = f"{http_api_context_prefix(api.name)}:functionUrlAuth"
        return problem + (
            f"Point Stripe's webhook endpoint at {api.name}'s Function URL (its FunctionUrl output) plus "
            f"{routes[api.name]}, and deploy {api.name} with {key}=NONE: Stripe cannot sign with SigV4 either."
        )
    names = ", ".join(api.name for api in http_apis)
    none_forwards = (
        f"None of the deployed HTTP APIs ({names}) has a webhook route." if names else "No HTTP API is deployed."
    )
    return problem + (
        f"{none_forwards} Put an authenticating proxy in front: "
        "an endpoint Stripe can call (e.g. a Lambda Function URL with auth NONE) that forwards the raw body and "
        "the Stripe-Signature header to the ingress with an API key of the ingress role, and keep the signing "
        "secret set (patterns:settingSecrets) so that the handler still refuses forged events; or use a "
        "self-hosted Restate whose ingress Stripe can reach."
    )


def add_warnings(config: DeploymentConfig, patterns: Iterable[PatternStack], http_apis: Iterable[HttpApiStack]) -> None:
    """Synth warnings about the deployment as a whole (those about one stack are added where it is built)."""
    webhooks = next((stack for stack in patterns if stack.pattern.name == WEBHOOK_PATTERN), None)
    if webhooks is not None:
        warning = stripe_webhook_warning(config, [stack.api for stack in http_apis])
        if warning:
            cdk.Annotations.of(webhooks).add_warning_v2(STRIPE_WEBHOOK_WARNING, warning)


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

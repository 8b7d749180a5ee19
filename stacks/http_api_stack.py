"""One HTTP API from the catalog (``HTTP_APIS``), deployed: its function behind a Lambda Function URL.

An HTTP API is a client of the Restate ingress, not a Restate deployment: nothing registers it and
Restate never invokes it, so it needs neither the invoker role nor a published version. Users call
its Function URL; it calls the ingress with a key from Secrets Manager, which it reads once per cold
start and is the one secret it may read.

The URL's auth type is the catalog's (``AWS_IAM``) unless ``<api>:functionUrlAuth`` says ``NONE``.
The API reserves products and sends emails on a caller's behalf, so a public URL is warned about at
every synth rather than refused: it is a deliberate choice for a demo, never a default. A public URL
also gets a reserved concurrency (``<api>:reservedConcurrency``, default
:data:`stacks.config.PUBLIC_URL_RESERVED_CONCURRENCY`): Lambda then runs at most that many requests at once and
throttles the rest, so that anonymous callers can neither take the account's whole concurrency from
every other function (the patterns Restate invokes among them) nor scale the bill without bound.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from restate_lambda.cdk import secret_reference

from functions.catalog import INGRESS_KEY_SECRET_VARIABLE, INGRESS_URL_VARIABLE, HttpApi
from stacks.bundling import Target, http_api_bundle
from stacks.config import DeploymentConfig, HttpApiContext, http_api_context_prefix
from stacks.python_function import PythonFunction, imported_network

PUBLIC_URL_WARNING = "restate-patterns:publicFunctionUrl"
"""Id of the synth warning about a Function URL without auth (``cdk synth`` prints it)."""
ADMIN_KEY_WARNING = "restate-patterns:ingressWithAdminKey"
"""Id of the synth warning about an HTTP API that calls the ingress with the admin API's key."""


def admin_key_warning(api: HttpApi) -> str:
    return (
        f"{api.name} calls the Restate ingress with the admin API key: restate:ingressKeySecret is not set, so it "
        f"falls back to the admin key's secret. A leak of {api.name} (its role may read that secret) then exposes "
        "the admin key, which can change and delete the environment's deployments, not just call its services. "
        "Set restate:ingressKeySecret to a secret with a key that has the ingress role only."
    )


RESERVED_CONCURRENCY_KEY = str(HttpApiContext.model_fields["reserved_concurrency_override"].alias)


def public_url_warning(api: HttpApi, reserved: int) -> str:
    prefix = http_api_context_prefix(api.name)
    return (
        f"{api.name}'s Function URL has auth NONE ({prefix}:functionUrlAuth): anyone who finds the URL can call "
        f"the API, which calls Restate with its key on their behalf. Its reserved concurrency "
        f"({prefix}:{RESERVED_CONCURRENCY_KEY}={reserved}) bounds how many requests run at once, but nothing "
        "limits who calls or how often. Use it for a short demo only; the default, AWS_IAM, accepts SigV4-signed "
        "requests of allowed principals only."
    )


class HttpApiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: HttpApi,
        config: DeploymentConfig,
        target: Target,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Restate HTTP API: {api.title}", **kwargs)
        self.api = api
        restate = config.restate
        api_config = config.http_apis[api.name]
        if not restate.ingress_url:
            raise ValueError(f"{api.name} needs the ingress URL of Restate")

        environment = {**api_config.settings, INGRESS_URL_VARIABLE: restate.ingress_url}
        if restate.ingress_key_secret:
            # The reference as configured (name or full ARN): the function resolves it in its own
            # account and region, the only ones the grant below covers.
            environment[INGRESS_KEY_SECRET_VARIABLE] = restate.ingress_key_secret

        self.lambda_function = PythonFunction(
            self,
            "Api",
            function_name=config.function_name(api.name),
            description=api.title,
            handler=api.handler,
            bundle=http_api_bundle(api, target),
            timeout_seconds=api.timeout_seconds,
            memory_mb=api.memory_mb,
            log_retention_days=config.log_retention_days,
            environment=environment,
            # A self-hosted Restate in a VPC: its ingress is as private as the admin API the
            # registration function reaches there, so the API runs in the same subnets.
            network=imported_network(self, "Api", restate.vpc),
        )
        function = self.lambda_function.function
        self.reserved_concurrency = api_config.reserved_concurrency
        if self.reserved_concurrency is not None:
            cfn_function = function.node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            cfn_function.reserved_concurrent_executions = self.reserved_concurrency
        if restate.ingress_key_secret:
            secret_reference(self, "IngressKeySecret", restate.ingress_key_secret).grant_read(function)
            if restate.ingress_key_secret == restate.token_secret:
                cdk.Annotations.of(function).add_warning_v2(ADMIN_KEY_WARNING, admin_key_warning(api))

        auth_type = lambda_.FunctionUrlAuthType[api_config.function_url_auth]
        self.function_url = function.add_function_url(auth_type=auth_type)
        cdk.CfnOutput(self, "FunctionUrl", value=self.function_url.url, description=f"Call {api.name} here")

        if auth_type == lambda_.FunctionUrlAuthType.AWS_IAM:
            # Callers in this account need both actions in an identity policy (Lambda asks for
            # lambda:InvokeFunction too since October 2025); attaching this one grants exactly that.
            self.caller_policy: iam.ManagedPolicy | None = iam.ManagedPolicy(
                self,
                "CallerPolicy",
                description=f"Allows calling {api.name}'s Function URL",
                statements=[
                    iam.PolicyStatement(
                        actions=["lambda:InvokeFunctionUrl"],
                        resources=[function.function_arn],
                        conditions={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                    ),
                    iam.PolicyStatement(
                        actions=["lambda:InvokeFunction"],
                        resources=[function.function_arn],
                        conditions={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
                    ),
                ],
            )
            cdk.CfnOutput(
                self,
                "CallerPolicyArn",
                value=self.caller_policy.managed_policy_arn,
                description="Attach to the users or roles that call the Function URL",
            )
        else:
            self.caller_policy = None
            assert self.reserved_concurrency is not None, "a public URL always has one"
            warning = public_url_warning(api, self.reserved_concurrency)
            cdk.Annotations.of(self.function_url).add_warning_v2(PUBLIC_URL_WARNING, warning)

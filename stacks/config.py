"""What the CDK app is configured with: CDK context, read the same way under the CLI and without it.

The CLI merges ``cdk.json``'s ``context``, ``cdk.context.json`` and ``-c key=value`` and hands the
result to ``app.py``; plain ``python app.py`` and the tests get nothing from it, so
:func:`project_context` reads the same files and both pass them to ``cdk.App`` as defaults (the
CLI's values win). Every key is a field of one pydantic model, :class:`DeploymentConfig`, or of one of its sections,
with its type, its default and what the README says about it (:data:`CONTEXT_KEYS`); values given
with ``-c`` arrive as strings, and the model turns them into booleans, numbers, lists and objects.
Checks across keys are the model's validators; what the stacks derive (URLs, the invoker's trust,
an HTTP API's auth) are its properties.

Secrets (the admin API key, the HTTP APIs' ingress key, Kafka SASL credentials, secret pattern
settings) are configured by Secrets Manager ARN or name only: no key accepts a secret value.

``cdk.json`` ships with an example Restate Cloud environment id, so that ``make synth`` works
offline; a placeholder is refused unless ``app:allowExampleValues`` is set, which only ``make synth``
passes, so that a deploy never goes out with it.

Each catalog HTTP API has keys of its own, named after it in camelCase (``front_door``:
``frontDoor:functionUrlAuth``, ``frontDoor:settings``), so that one is switched with a plain ``-c``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic import ValidatorFunctionWrapHandler as Handler
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUseDefault
from restate_lambda.cdk import RESTATE_CLOUD_ACCOUNT, RESTATE_CLOUD_PRINCIPAL_ARN, restate_cloud_urls

from functions.catalog import HTTP_APIS, PATTERNS, HttpApi, http_api_named
from functions.common.settings import problem_of
from stacks.bundling import PROJECT_ROOT

FunctionUrlAuth = Literal["AWS_IAM", "NONE"]

MAX_REGISTRATION_TIMEOUT_SECONDS = 840
"""The Provider framework gives up on the registration function at 900 s; a registration that ends
before then fails with its own message in CloudFormation instead of the framework's timeout."""

ALLOW_EXAMPLE_VALUES = "app:allowExampleValues"
EXAMPLE_ENVIRONMENT_ID = "env_201example0000000000000000"
"""cdk.json's placeholder for ``restate:cloud:environmentId``: it synthesizes, but names no environment."""
EXAMPLE_BOOTSTRAP_SERVER = "b-1.example.kafka.us-east-1.amazonaws.com:9096"
"""The README's placeholder MSK broker, refused in ``kafka:bootstrapServers`` like the environment id."""
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
"""What Secrets Manager allows in a secret's name."""
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+")


class ConfigError(ValueError):
    """The context does not describe a deployable configuration; the message names the key."""


def project_context(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Context as the CDK CLI assembles it from the project's files: cdk.json, then cdk.context.json."""
    context: dict[str, Any] = {}
    cdk_json = project_root / "cdk.json"
    if cdk_json.exists():
        context.update(json.loads(cdk_json.read_text()).get("context", {}))
    cached = project_root / "cdk.context.json"
    if cached.exists():
        context.update(json.loads(cached.read_text()))
    return context


# --- How context values are read: JSON from cdk.json, or a string from -c key=value ------------------


def _default_if_none(value: Any) -> Any:
    if value is None:
        raise PydanticUseDefault()
    return value


def _default_if_blank(value: Any) -> Any:
    # `-c key=` gives "": for a flag, a number, a list or an object that means "the default".
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticUseDefault()
    return value.strip() if isinstance(value, str) else value


def _text(value: Any) -> Any:
    value = _default_if_none(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


def _lower(value: Any) -> Any:
    value = _text(value)
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    value = _text(value)
    return value.strip().upper() if isinstance(value, str) else value


def _parsed_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"must be {what}: {error}") from None


def _json_object(value: Any) -> Any:
    value = _default_if_blank(value)
    return _parsed_json(value, "a JSON object") if isinstance(value, str) else value


def _json_or_comma_separated(value: Any) -> Any:
    value = _default_if_blank(value)
    if isinstance(value, str):
        return _parsed_json(value, "a JSON list") if value.startswith("[") else value.split(",")
    return value


def _refused_as(what: str, **by_error: str) -> WrapValidator:
    """Any failure of the value is reported as ``what`` it must be (``by_error`` by pydantic's error type), with it."""

    def validate(value: Any, handler: Handler) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            refusal = by_error.get(error.errors()[0]["type"], what)
            context = {"refusal": refusal, "value": repr(value)}
            raise PydanticCustomError("context_value", "{refusal}, got {value}", context) from None

    return WrapValidator(validate)


# Read right to left: the BeforeValidator turns the CLI's text into the value, pydantic checks that, and
# _refused_as words any failure as what the key must be.
Text = Annotated[str, StringConstraints(strip_whitespace=True), _refused_as("must be a string"), BeforeValidator(_text)]
Flag = Annotated[bool, _refused_as("must be true or false"), BeforeValidator(_default_if_blank)]
PositiveNumber = Annotated[
    int,
    Field(gt=0),
    _refused_as("must be a whole number", greater_than="must be positive"),
    BeforeValidator(_default_if_blank),
]
Names = Annotated[
    tuple[str, ...],
    AfterValidator(lambda names: tuple(name.strip() for name in names if name.strip())),
    _refused_as("must be a list of strings"),
    BeforeValidator(_json_or_comma_separated),
]
"""A list, as JSON or comma-separated; empty names are dropped."""
JsonObject = Annotated[dict[str, Any], _refused_as("must be an object"), BeforeValidator(_json_object)]
StringMap = Annotated[
    dict[str, Annotated[str, BeforeValidator(_text)]],
    _refused_as("must map names to strings", dict_type="must be an object"),
    BeforeValidator(_json_object),
]
"""An object of names to strings; numbers and booleans (``true``) are taken as their text."""

Model = TypeVar("Model", bound=BaseModel)


def _context_key(location: tuple[int | str, ...]) -> str:
    """The context key a validation error's location names: sections and HTTP APIs are this model's, not keys."""
    if location[0] == "httpApis" and len(location) >= 3:
        return f"{http_api_context_prefix(str(location[1]))}:{location[2]}"
    if location[0] in ("restate", "kafka") and len(location) >= 2:
        return str(location[1])
    return str(location[0])


def _read(model: type[Model], values: Mapping[str, Any]) -> Model:
    """``values`` as ``model``; the first bad one is a :class:`ConfigError` naming its key."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        if detail["type"] == "value_error" and isinstance(detail["ctx"]["error"], ConfigError):
            # A check across keys words its own message, key included.
            raise detail["ctx"]["error"] from None
        raise ConfigError(f"context {_context_key(detail['loc'])} {problem_of(detail)}") from None


CONTEXT_MODEL = ConfigDict(
    frozen=True, extra="ignore", validate_by_alias=True, validate_by_name=False, use_attribute_docstrings=True
)
"""Fields are read by their aliases, the context keys, and described by their docstrings, the README's words."""


def _described(field: FieldInfo) -> str:
    # A docstring wrapped over lines reads as one line in messages and in the README's table.
    return " ".join(str(field.description).split())


def _key_of(model: type[BaseModel], info: ValidationInfo) -> str:
    return str(model.model_fields[str(info.field_name)].alias)


def _required(value: str, key: str, why: str) -> str:
    if not value:
        raise ConfigError(f"context {key} is required {why} ({CONTEXT_KEYS[key]})")
    return value


def _refuse_secret_values(value: str, key: str) -> str:
    """A secret's ARN or name; a value that is evidently the secret itself is refused before it reaches a template."""
    if re.fullmatch(r"key_[0-9A-Za-z]{20,}|whsec_[0-9A-Za-z]+|Bearer .*", value):
        raise ConfigError(
            f"context {key} looks like the secret itself; store it in Secrets Manager and give the secret's "
            "ARN or name instead, so that it never appears in a template"
        )
    if value and not value.startswith("arn:") and not SECRET_NAME.fullmatch(value):
        # Not echoed: a value that is no secret's name may well be the secret (a JSON credential, a token).
        raise ConfigError(
            f"context {key} is neither a secret's ARN nor a secret name (letters, digits and /_+=.@- only); "
            "store the value in Secrets Manager and give the secret's ARN or name instead"
        )
    return value


def _at_most_the_provider_limit(seconds: int) -> int:
    if seconds > MAX_REGISTRATION_TIMEOUT_SECONDS:
        raise ConfigError(
            f"context restate:registrationTimeoutSeconds must be at most {MAX_REGISTRATION_TIMEOUT_SECONDS}, got "
            f"{seconds}: the CDK Provider framework stops waiting for the registration function at 900 s, and "
            "CloudFormation would then hear of the failure only from its own custom resource timeout (an hour by "
            "default)"
        )
    return seconds


class VpcPlacement(BaseModel):
    """Where in an existing VPC the registration function and the HTTP APIs run."""

    model_config = ConfigDict(frozen=True)

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


class RestateContext(BaseModel):
    """The ``restate:*`` keys: the Restate environment the functions are registered with and invoked by.

    The keys of the mode not chosen are ignored; the properties give what the stacks need of either mode.
    """

    model_config = CONTEXT_MODEL

    mode: Annotated[
        Literal["cloud", "self-hosted"], _refused_as("must be cloud or self-hosted"), BeforeValidator(_lower)
    ] = Field("cloud", alias="restate:mode")
    """`cloud` or `self-hosted`"""
    cloud_environment_id: Text = Field("", alias="restate:cloud:environmentId")
    """Restate Cloud environment id, `env_...`"""
    cloud_region: Annotated[Literal["us", "eu"], _refused_as("must be us or eu"), BeforeValidator(_lower)] = Field(
        "us", alias="restate:cloud:region"
    )
    """Restate Cloud region of the environment: `us` or `eu`"""
    cloud_api_key_secret: Text = Field("", alias="restate:cloud:apiKeySecret")
    """ARN or name of the Secrets Manager secret holding an admin API key"""
    cloud_account: Text = Field(
        RESTATE_CLOUD_ACCOUNT,
        alias="restate:cloud:account",
    )
    """account Restate Cloud assumes the invoker role from (Restate's published one)"""
    cloud_principal_arn: Text = Field(
        RESTATE_CLOUD_PRINCIPAL_ARN,
        alias="restate:cloud:principalArn",
    )
    """role in that account that assumes it"""
    self_hosted_admin_url: Text = Field("", alias="restate:selfHosted:adminUrl")
    """admin API URL of a self-hosted Restate, e.g. `https://restate.internal:9070`"""
    self_hosted_ingress_url: Text = Field("", alias="restate:selfHosted:ingressUrl")
    """its ingress URL (an output, and where the HTTP APIs call; without it they are not deployed)"""
    self_hosted_auth_token_secret: Text = Field("", alias="restate:selfHosted:authTokenSecret")
    """optional ARN or name of a secret with a bearer token for the admin API"""
    self_hosted_invoker_principal_arn: Text = Field("", alias="restate:selfHosted:invokerPrincipalArn")
    """IAM principal (role ARN) the Restate server runs as"""
    self_hosted_external_id: Text = Field("", alias="restate:selfHosted:externalId")
    """optional sts:ExternalId that principal passes"""
    self_hosted_vpc_id: Text = Field("", alias="restate:selfHosted:vpcId")
    """optional VPC for the registration function (when the admin API is private)"""
    self_hosted_subnet_ids: Names = Field((), alias="restate:selfHosted:subnetIds")
    """its subnets (list or comma-separated)"""
    self_hosted_security_group_ids: Names = Field((), alias="restate:selfHosted:securityGroupIds")
    """its security groups (list or comma-separated; default: a new one)"""
    removal_policy: Annotated[
        Literal["retain", "destroy"], _refused_as("must be retain or destroy"), BeforeValidator(_lower)
    ] = Field("retain", alias="restate:removalPolicy")
    """`retain`: deleting a stack leaves Restate deployments; `destroy` removes them if nothing runs on them"""
    prune_old_deployments: Flag = Field(False, alias="restate:pruneOldDeployments")
    """`true`: after registering, delete older deployments of the same services that have no unfinished
    invocations"""
    registration_timeout_seconds: Annotated[PositiveNumber, AfterValidator(_at_most_the_provider_limit)] = Field(
        300,
        alias="restate:registrationTimeoutSeconds",
        description=f"timeout of the registration function, at most {MAX_REGISTRATION_TIMEOUT_SECONDS}: the Provider "
        "framework's own limit is 900",
    )
    allow_breaking_changes: Flag = Field(False, alias="restate:allowBreakingChanges")
    """`true`: register with `breaking: true`, so that Restate accepts a deployment that changes a service
    incompatibly (else such a deployment is refused)"""
    dedicated_ingress_key_secret: Text = Field("", alias="restate:ingressKeySecret")
    """ARN or name of a secret with an API key the HTTP APIs call the ingress with (default:
    restate:cloud:apiKeySecret or restate:selfHosted:authTokenSecret)"""

    @field_validator(
        "cloud_api_key_secret", "self_hosted_auth_token_secret", "dedicated_ingress_key_secret", mode="after"
    )
    @classmethod
    def _secret_by_reference(cls, value: str, info: ValidationInfo) -> str:
        return _refuse_secret_values(value, _key_of(cls, info))

    @field_validator("self_hosted_ingress_url", mode="after")
    @classmethod
    def _one_ingress_url(cls, value: str) -> str:
        if "," in value:
            # The HTTP APIs take several URLs only locally; on AWS a load balancer stands before a cluster's nodes.
            raise ConfigError(
                "context restate:selfHosted:ingressUrl must be one URL: put a load balancer in front of a cluster's "
                "ingresses and give its URL (docs/deploy.md)"
            )
        return value

    @model_validator(mode="after")
    def _complete_for_its_mode(self) -> Self:
        if self.mode == "cloud":
            why = "for restate:mode=cloud"
            _required(self.cloud_environment_id, "restate:cloud:environmentId", why)
            if not re.fullmatch(r"env_[0-9a-z]+", self.cloud_environment_id):
                raise ConfigError(
                    f"context restate:cloud:environmentId must look like env_..., got {self.cloud_environment_id!r}"
                )
            _required(self.cloud_api_key_secret, "restate:cloud:apiKeySecret", why)
            return self
        why = "for restate:mode=self-hosted"
        _required(self.self_hosted_admin_url, "restate:selfHosted:adminUrl", why)
        if self.self_hosted_vpc_id and not self.self_hosted_subnet_ids:
            raise ConfigError("context restate:selfHosted:subnetIds is required with restate:selfHosted:vpcId")
        _required(self.self_hosted_invoker_principal_arn, "restate:selfHosted:invokerPrincipalArn", why)
        return self

    @property
    def is_cloud(self) -> bool:
        return self.mode == "cloud"

    @property
    def admin_url(self) -> str:
        if self.is_cloud:
            return restate_cloud_urls(self.cloud_environment_id, self.cloud_region)[0]
        return self.self_hosted_admin_url.rstrip("/")

    @property
    def ingress_url(self) -> str:
        """Empty for a self-hosted Restate whose ingress URL is not given."""
        if self.is_cloud:
            return restate_cloud_urls(self.cloud_environment_id, self.cloud_region)[1]
        return self.self_hosted_ingress_url.rstrip("/")

    @property
    def token_secret(self) -> str | None:
        """ARN or name of the secret with the admin API's bearer token (the API key on Restate Cloud)."""
        return (self.cloud_api_key_secret if self.is_cloud else self.self_hosted_auth_token_secret) or None

    @property
    def ingress_key_secret(self) -> str | None:
        """ARN or name of the secret with the key the HTTP APIs call the ingress with (none: they send no key).

        By default the one token configured for this Restate: on Cloud an admin key may call the ingress
        too, though a dedicated key (ingress role) limits what a leak exposes.
        """
        return self.dedicated_ingress_key_secret or self.token_secret

    @property
    def invoker_principal_arn(self) -> str:
        return self.cloud_principal_arn if self.is_cloud else self.self_hosted_invoker_principal_arn

    @property
    def invoker_principal_account(self) -> str | None:
        """Restate Cloud: trust the account, conditioned on the principal ARN (survives its re-creation)."""
        return self.cloud_account if self.is_cloud else None

    @property
    def external_id(self) -> str | None:
        return self.cloud_environment_id if self.is_cloud else self.self_hosted_external_id or None

    @property
    def vpc(self) -> VpcPlacement | None:
        if self.is_cloud or not self.self_hosted_vpc_id:
            return None
        return VpcPlacement(
            vpc_id=self.self_hosted_vpc_id,
            subnet_ids=self.self_hosted_subnet_ids,
            security_group_ids=self.self_hosted_security_group_ids,
        )


class KafkaContext(BaseModel):
    """The ``kafka:*`` keys: the cluster Restate reads the subscriptions' topics from."""

    model_config = CONTEXT_MODEL

    bootstrap_servers: Text = Field("", alias="kafka:bootstrapServers")
    """Kafka bootstrap servers; empty: no Kafka cluster and no subscriptions"""
    cluster_name: Text = Field("my-cluster", alias="kafka:clusterName")
    """name of the cluster in Restate"""
    properties: StringMap = Field({}, alias="kafka:properties")
    """extra librdkafka properties of the cluster (object)"""
    sasl_secret: Text = Field("", alias="kafka:saslSecret")
    """optional ARN or name of a secret `{"username": ..., "password": ...}`"""
    sasl_secret_kms_key: Text = Field("", alias="kafka:saslSecretKmsKey")
    """ARN of the customer-managed KMS key that encrypts kafka:saslSecret (Amazon MSK requires one): the
    registration function may decrypt with it, through Secrets Manager only"""

    @field_validator("sasl_secret", mode="after")
    @classmethod
    def _secret_by_reference(cls, value: str, info: ValidationInfo) -> str:
        return _refuse_secret_values(value, _key_of(cls, info))

    @model_validator(mode="after")
    def _key_decrypts_the_secret(self) -> Self:
        if not self.sasl_secret_kms_key:
            return self
        if not self.sasl_secret:
            raise ConfigError(
                "context kafka:saslSecretKmsKey is set, but kafka:saslSecret, the secret it decrypts, is not"
            )
        if not KMS_KEY_ARN.fullmatch(self.sasl_secret_kms_key):
            # An IAM policy can grant a key by its ARN only: an alias or a bare key id would match nothing.
            raise ConfigError(
                f"context kafka:saslSecretKmsKey must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), "
                f"got {self.sasl_secret_kms_key!r}"
            )
        return self

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.bootstrap_servers.split(",")]


PUBLIC_URL_RESERVED_CONCURRENCY = 10
"""Reserved concurrency of an HTTP API whose Function URL has auth NONE, unless its context says otherwise.

Enough for a demo's handful of callers; Lambda throttles whatever exceeds it. Lambda refuses a
reservation that leaves the account fewer than 100 unreserved executions, so an account whose
concurrency quota is still that low (new accounts) must have it raised before a public URL deploys.
"""


def http_api_context_prefix(api_name: str) -> str:
    """The prefix of an HTTP API's own context keys: its catalog name in camelCase (``front_door``: ``frontDoor``)."""
    first, *rest = api_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


class HttpApiContext(BaseModel):
    """The keys of one catalog HTTP API, after its prefix (:func:`http_api_context_prefix`), over its catalog entry.

    In the descriptions, ``{name}`` and ``{auth}`` stand for the API's name and its catalog default.
    """

    model_config = CONTEXT_MODEL

    api_name: str = Field(alias="name")
    function_url_auth_override: Annotated[
        FunctionUrlAuth | None, _refused_as("must be AWS_IAM or NONE"), BeforeValidator(_upper)
    ] = Field(None, alias="functionUrlAuth")
    """auth of {name}'s Function URL: `AWS_IAM` or `NONE` (public, warned about at synth); default the
    catalog's `{auth}`"""
    reserved_concurrency_override: PositiveNumber | None = Field(None, alias="reservedConcurrency")
    """reserved concurrent executions of {name}'s function, also the most that run at once (default 10 with
    functionUrlAuth `NONE`, none with `AWS_IAM`)"""
    setting_overrides: StringMap = Field({}, alias="settings")
    """overrides of {name}'s catalog settings: `{{NAME: value}}`"""

    @model_validator(mode="after")
    def _only_settings_it_reads(self) -> Self:
        # As for patterns: a misspelt setting would silently do nothing.
        unknown = set(self.setting_overrides) - set(self.api.settings)
        if unknown:
            raise ConfigError(
                f"context {http_api_context_prefix(self.api_name)}:settings sets {sorted(unknown)}, which "
                f"{self.api_name} does not read (it reads: {', '.join(self.api.settings) or 'nothing'})"
            )
        return self

    @property
    def api(self) -> HttpApi:
        return http_api_named(self.api_name)

    @property
    def function_url_auth(self) -> str:
        return self.function_url_auth_override or self.api.function_url_auth

    @property
    def settings(self) -> dict[str, str]:
        """The catalog's settings with the context's overrides."""
        return {**self.api.settings, **self.setting_overrides}

    @property
    def reserved_concurrency(self) -> int | None:
        """``<api>:reservedConcurrency`` if set, else :data:`PUBLIC_URL_RESERVED_CONCURRENCY` for a public URL
        and none (the account's pool) for ``AWS_IAM``."""
        public_default = PUBLIC_URL_RESERVED_CONCURRENCY if self.function_url_auth == "NONE" else None
        return self.reserved_concurrency_override or public_default


def _own_keys(context: Mapping[str, Any], api: HttpApi) -> dict[str, Any]:
    prefix = f"{http_api_context_prefix(api.name)}:"
    return {
        "name": api.name,
        **{key.removeprefix(prefix): value for key, value in context.items() if key.startswith(prefix)},
    }


def _per_pattern(raw: Mapping[str, Any], key: str, *, secret: bool = False) -> dict[str, dict[str, str]]:
    """``{pattern: {NAME: value}}``: values of a pattern's ``settings``, or with ``secret`` secret references
    (ARN or name) for its ``secret_settings``."""
    known = {pattern.name: pattern for pattern in PATTERNS}
    result: dict[str, dict[str, str]] = {}
    for name, settings in raw.items():
        pattern = known.get(name)
        if pattern is None:
            apis = {api.name: f"{http_api_context_prefix(api.name)}:settings" for api in HTTP_APIS}
            hint = f" ({name} is an HTTP API: use {apis[name]})" if name in apis else ""
            raise ConfigError(f"context {key} names {name!r}, which is not in the catalog: {', '.join(known)}{hint}")
        if not isinstance(settings, dict) or not all(isinstance(v, str | int | float) for v in settings.values()):
            raise ConfigError(f"context {key}.{name} must map setting names to strings, got {settings!r}")
        # A misspelt setting would silently do nothing: only the catalog's settings are accepted. A secret
        # one only by reference, and a plain one only by value, so that no secret value lands in a template.
        accepted = pattern.secret_settings if secret else tuple(pattern.settings)
        unknown = set(settings) - set(accepted)
        if unknown:
            misplaced = unknown & set(tuple(pattern.settings) if secret else pattern.secret_settings)
            hint = ""
            if misplaced:
                hint = (
                    "; a setting that is no secret goes in patterns:settings"
                    if secret
                    else "; a secret setting goes in patterns:settingSecrets, as a Secrets Manager secret"
                )
            raise ConfigError(
                f"context {key}.{name} sets {sorted(unknown)}, which {name} does not read"
                f"{' as a secret' if secret else ''} (it reads: {', '.join(accepted) or 'nothing'}){hint}"
            )
        if not secret:
            result[name] = {setting: str(value) for setting, value in settings.items()}
            continue
        references: dict[str, str] = {}
        for setting, value in settings.items():
            path = f"{key}.{name}.{setting}"
            reference = _refuse_secret_values(str(value).strip(), path)
            if not reference:
                raise ConfigError(f"context {path} must name a Secrets Manager secret (ARN or name)")
            references[setting] = reference
        result[name] = references
    return result


# Outside JsonObject's own check, so that a catalog refusal keeps its words.
PatternSettings = Annotated[JsonObject, AfterValidator(lambda raw: _per_pattern(raw, "patterns:settings"))]
PatternSettingSecrets = Annotated[
    JsonObject, AfterValidator(lambda raw: _per_pattern(raw, "patterns:settingSecrets", secret=True))
]


class DeploymentConfig(BaseModel):
    """The app's whole context: every key a field (its alias), typed, defaulted and checked with the others.

    The flat context is read section by section: :class:`RestateContext` the ``restate:*`` keys,
    :class:`KafkaContext` the ``kafka:*`` keys (none when no bootstrap servers are given), one
    :class:`HttpApiContext` per catalog HTTP API, and the rest here.
    """

    model_config = CONTEXT_MODEL

    restate: RestateContext = Field(alias="restate")
    kafka: KafkaContext | None = Field(None, alias="kafka")
    architecture: Annotated[
        Literal["arm64", "x86_64"], _refused_as("must be arm64 or x86_64"), BeforeValidator(_lower)
    ] = Field("arm64", alias="lambda:architecture")
    """`arm64` or `x86_64`"""
    log_retention_days: PositiveNumber = Field(30, alias="lambda:logRetentionDays")
    """retention of every log group, in days"""
    version_nonce: Text = Field("", alias="lambda:versionNonce")
    """any new value (e.g. `$(date +%s)`) publishes new versions of the pattern functions although their code
    is unchanged: the retry after a failed registration, whose rollback kept the version it published"""
    name_prefix: Annotated[
        str,
        StringConstraints(strip_whitespace=True, pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,30}$"),
        _refused_as("must be letters, digits and hyphens (<= 31)"),
        BeforeValidator(_text),
    ] = Field("restate-patterns", alias="app:namePrefix")
    """prefix of stack and function names"""
    tags: StringMap = Field({}, alias="app:tags")
    """tags on every resource (object)"""
    allow_example_values: Flag = Field(
        False,
        alias=ALLOW_EXAMPLE_VALUES,
        description=f"`true`: accept the placeholders ({EXAMPLE_ENVIRONMENT_ID}, {EXAMPLE_BOOTSTRAP_SERVER}) with a "
        "warning, for an offline synth (`make synth`); never for a deploy",
    )
    pattern_settings: PatternSettings = Field({}, alias="patterns:settings")
    """per-pattern overrides of catalog settings: `{pattern: {NAME: value}}`"""
    pattern_setting_secrets: PatternSettingSecrets = Field({}, alias="patterns:settingSecrets")
    """per-pattern secret settings (the catalog's `secret_settings`), each a Secrets Manager secret's ARN or
    name: `{pattern: {NAME: secret}}`; the function reads it at cold start"""
    http_apis: dict[str, HttpApiContext] = Field({}, alias="httpApis")
    """By catalog name."""

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, context: Any) -> Any:
        if not isinstance(context, Mapping):
            return context
        flat = dict(context)
        has_kafka = bool(str(flat.get("kafka:bootstrapServers") or "").strip())
        return {
            **flat,
            "restate": flat,
            "kafka": flat if has_kafka else None,
            "httpApis": {api.name: _own_keys(flat, api) for api in HTTP_APIS},
        }

    @model_validator(mode="after")
    def _no_example_values_unless_allowed(self) -> Self:
        if self.example_values and not self.allow_example_values:
            raise ConfigError(example_value_refusal(self.example_values[0]))
        return self

    @property
    def example_values(self) -> tuple[str, ...]:
        """The keys read that still hold a placeholder (accepted by ``app:allowExampleValues``; synth warns)."""
        in_use = []
        if self.restate.is_cloud and self.restate.cloud_environment_id == EXAMPLE_ENVIRONMENT_ID:
            in_use.append("restate:cloud:environmentId")
        if self.kafka is not None and EXAMPLE_BOOTSTRAP_SERVER in self.kafka.servers:
            in_use.append("kafka:bootstrapServers")
        return tuple(in_use)

    def function_name(self, pattern_name: str) -> str:
        return f"{self.name_prefix}-{pattern_name}"

    def stack_name(self, name: str) -> str:
        # CloudFormation stack names allow letters, digits and hyphens only.
        return f"{self.name_prefix}-{name}".replace("_", "-")


def http_api_context_keys(api: HttpApi) -> dict[str, str]:
    prefix = http_api_context_prefix(api.name)
    return {
        f"{prefix}:{field.alias}": _described(field).format(name=api.name, auth=api.function_url_auth)
        for name, field in HttpApiContext.model_fields.items()
        if name != "api_name"
    }


def _keys_of(model: type[BaseModel]) -> dict[str, str]:
    # Sections and the HTTP APIs' map are fields of the model, not keys of the context.
    return {str(field.alias): _described(field) for field in model.model_fields.values() if ":" in str(field.alias)}


CONTEXT_KEYS: Mapping[str, str] = {
    **_keys_of(RestateContext),
    **_keys_of(KafkaContext),
    **_keys_of(DeploymentConfig),
    **{key: what for api in HTTP_APIS for key, what in http_api_context_keys(api).items()},
}
"""Every context key the app reads, with what the README says about it."""


def example_value_refusal(key: str) -> str:
    """Why a placeholder cannot be deployed, and what to set instead."""
    how = {
        "restate:cloud:environmentId": f"{key} is cdk.json's example {EXAMPLE_ENVIRONMENT_ID}, not your Restate "
        f"Cloud environment: give its id with `-c {key}=env_...` or set it in cdk.json",
        "kafka:bootstrapServers": f"{key} names the example broker {EXAMPLE_BOOTSTRAP_SERVER}, not your cluster: "
        f'give your brokers with `-c {key}=b-1.<cluster>...:9096,...` or in cdk.json, or set it to "" for no Kafka',
    }[key]
    offline = f"only an offline synth may keep the example: -c {ALLOW_EXAMPLE_VALUES}=true, as make synth does"
    return f"context {how} ({offline})"


def example_values_warning(keys: tuple[str, ...]) -> str:
    return (
        f"Example values in use ({', '.join(keys)}), accepted because {ALLOW_EXAMPLE_VALUES} is set: these "
        "templates synthesize, but a deploy of them cannot work, and without the switch the synth refuses them."
    )


def deployment_config(context: Mapping[str, Any]) -> DeploymentConfig:
    """The deployment described by ``context``; :class:`ConfigError` names the first bad key."""
    return _read(DeploymentConfig, context)

"""What the CDK app is configured with: CDK context, read the same way under the CLI and without it.

The CLI merges ``cdk.json``'s ``context``, ``cdk.context.json`` and ``-c key=value`` and hands the
result to ``app.py``; plain ``python app.py`` and the tests get nothing from it, so
:func:`project_context` reads the same files and both pass them to ``cdk.App`` as defaults (the
CLI's values win). Every key is listed in :data:`CONTEXT_KEYS` and explained in the README; values
given with ``-c`` arrive as strings, so booleans, numbers, lists and objects are parsed here.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.catalog import HTTP_APIS, PATTERNS, HttpApi

PROJECT_ROOT = Path(__file__).resolve().parent.parent

RESTATE_CLOUD_ACCOUNT = "654654156625"
"""The AWS account Restate Cloud invokes Lambda functions from (Restate's published default)."""
RESTATE_CLOUD_PRINCIPAL_ARN = f"arn:aws:iam::{RESTATE_CLOUD_ACCOUNT}:role/RestateCloud"
"""The role in that account that assumes each environment's invoker role."""

FUNCTION_URL_AUTH_TYPES = ("AWS_IAM", "NONE")

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


def http_api_context_prefix(api_name: str) -> str:
    """The prefix of an HTTP API's own context keys: its catalog name in camelCase (``front_door``: ``frontDoor``)."""
    first, *rest = api_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def http_api_context_keys(api: HttpApi) -> dict[str, str]:
    prefix = http_api_context_prefix(api.name)
    return {
        f"{prefix}:functionUrlAuth": f"auth of {api.name}'s Function URL: `AWS_IAM` or `NONE` (public, warned "
        f"about at synth); default the catalog's `{api.function_url_auth}`",
        f"{prefix}:settings": f"overrides of {api.name}'s catalog settings: `{{NAME: value}}`",
    }


CONTEXT_KEYS: Mapping[str, str] = {
    "restate:mode": "`cloud` (default) or `self-hosted`",
    "restate:cloud:environmentId": "Restate Cloud environment id, `env_...`",
    "restate:cloud:region": "Restate Cloud region of the environment: `us` (default) or `eu`",
    "restate:cloud:apiKeySecret": "ARN or name of the Secrets Manager secret holding an admin API key",
    "restate:cloud:account": f"account Restate Cloud assumes the invoker role from (default {RESTATE_CLOUD_ACCOUNT})",
    "restate:cloud:principalArn": f"role that assumes it (default {RESTATE_CLOUD_PRINCIPAL_ARN})",
    "restate:selfHosted:adminUrl": "admin API URL of a self-hosted Restate, e.g. `https://restate.internal:9070`",
    "restate:selfHosted:ingressUrl": "its ingress URL (an output, and where the HTTP APIs call; without it they "
    "are not deployed)",
    "restate:selfHosted:authTokenSecret": "optional ARN or name of a secret with a bearer token for the admin API",
    "restate:selfHosted:invokerPrincipalArn": "IAM principal (role ARN) the Restate server runs as",
    "restate:selfHosted:externalId": "optional sts:ExternalId that principal passes",
    "restate:selfHosted:vpcId": "optional VPC for the registration function (when the admin API is private)",
    "restate:selfHosted:subnetIds": "its subnets (list or comma-separated)",
    "restate:selfHosted:securityGroupIds": "its security groups (list or comma-separated; default: a new one)",
    "restate:removalPolicy": "`retain` (default): deleting a stack leaves Restate deployments; `destroy` removes them",
    "restate:pruneOldDeployments": "`true`: after registering, delete older deployments of the same services that "
    "have no unfinished invocations (default false)",
    "restate:registrationTimeoutSeconds": "timeout of the registration function (default 300, at most "
    f"{MAX_REGISTRATION_TIMEOUT_SECONDS}: the Provider framework's own limit is 900)",
    "restate:allowBreakingChanges": "`true`: register with `breaking: true`, so that Restate accepts a deployment "
    "that changes a service incompatibly (default false: such a deployment is refused)",
    "restate:ingressKeySecret": "ARN or name of a secret with an API key the HTTP APIs call the ingress with "
    "(default: restate:cloud:apiKeySecret or restate:selfHosted:authTokenSecret)",
    "kafka:bootstrapServers": "Kafka bootstrap servers; empty: no Kafka cluster and no subscriptions",
    "kafka:clusterName": "name of the cluster in Restate (default `my-cluster`)",
    "kafka:properties": "extra librdkafka properties of the cluster (object)",
    "kafka:saslSecret": 'optional ARN or name of a secret `{"username": ..., "password": ...}`',
    "kafka:saslSecretKmsKey": "ARN of the customer-managed KMS key that encrypts kafka:saslSecret (Amazon MSK "
    "requires one): the registration function may decrypt with it, through Secrets Manager only",
    "lambda:architecture": "`arm64` (default) or `x86_64`",
    "lambda:logRetentionDays": "retention of every log group (default 30)",
    "app:namePrefix": "prefix of stack and function names (default `restate-patterns`)",
    "app:tags": "tags on every resource (object)",
    ALLOW_EXAMPLE_VALUES: f"`true`: accept the placeholders ({EXAMPLE_ENVIRONMENT_ID}, {EXAMPLE_BOOTSTRAP_SERVER}) "
    "with a warning, for an offline synth (`make synth`); never for a deploy (default false)",
    "patterns:settings": "per-pattern overrides of catalog settings: `{pattern: {NAME: value}}`",
    "patterns:settingSecrets": "per-pattern secret settings (the catalog's `secret_settings`), each a Secrets Manager "
    "secret's ARN or name: `{pattern: {NAME: secret}}`; the function reads it at cold start",
    **{key: what for api in HTTP_APIS for key, what in http_api_context_keys(api).items()},
}


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


def _text(context: Mapping[str, Any], key: str, default: str = "") -> str:
    value = context.get(key)
    if value is None:
        return default
    if not isinstance(value, str | int | float):
        raise ConfigError(f"context {key} must be a string, got {value!r}")
    return str(value).strip()


def _required(context: Mapping[str, Any], key: str, why: str) -> str:
    value = _text(context, key)
    if not value:
        raise ConfigError(f"context {key} is required {why} ({CONTEXT_KEYS[key]})")
    return value


def _secret_reference(context: Mapping[str, Any], key: str, why: str | None = None) -> str | None:
    """A secret's ARN or name; a value that is evidently the secret itself is refused before it reaches a template."""
    value = _required(context, key, why) if why else _text(context, key)
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
    return value or None


def _flag(context: Mapping[str, Any], key: str, default: bool) -> bool:
    value = context.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ConfigError(f"context {key} must be true or false, got {value!r}")


def _number(context: Mapping[str, Any], key: str, default: int) -> int:
    value = context.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"context {key} must be a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"context {key} must be positive, got {value!r}")
    return number


def _names(context: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = context.get(key)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"context {key} must be a list of strings, got {value!r}")
    return tuple(item.strip() for item in value if item.strip())


def _object(context: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = context.get(key)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigError(f"context {key} must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"context {key} must be an object, got {value!r}")
    return value


def _string_map(context: Mapping[str, Any], key: str) -> dict[str, str]:
    raw = _object(context, key)
    if not all(isinstance(value, str | int | float | bool) for value in raw.values()):
        raise ConfigError(f"context {key} must map names to strings, got {raw!r}")
    return {str(name): str(value).lower() if isinstance(value, bool) else str(value) for name, value in raw.items()}


def _per_pattern(context: Mapping[str, Any], key: str, *, secret: bool = False) -> dict[str, dict[str, str]]:
    """``{pattern: {NAME: value}}``: values of a pattern's ``settings``, or with ``secret`` secret references
    (ARN or name) for its ``secret_settings``."""
    raw = _object(context, key)
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
            reference = _secret_reference({path: value}, path)
            if reference is None:
                raise ConfigError(f"context {path} must name a Secrets Manager secret (ARN or name)")
            references[setting] = reference
        result[name] = references
    return result


@dataclass(frozen=True)
class VpcPlacement:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class RestateConfig:
    mode: str
    """``cloud`` or ``self-hosted``."""
    admin_url: str
    ingress_url: str
    token_secret: str | None
    """ARN or name of the secret with the admin API's bearer token (the API key on Restate Cloud)."""
    ingress_key_secret: str | None
    """ARN or name of the secret with the key the HTTP APIs call the ingress with (none: they send no key)."""
    invoker_principal_arn: str
    invoker_principal_account: str | None
    """Restate Cloud: trust the account, conditioned on the principal ARN (survives its re-creation)."""
    external_id: str | None
    tag_session: bool
    """Restate Cloud tags its role sessions, so the invoker role's trust must allow sts:TagSession."""
    vpc: VpcPlacement | None
    removal_policy: str
    prune_old_deployments: bool
    registration_timeout_seconds: int
    allow_breaking_changes: bool


@dataclass(frozen=True)
class KafkaConfig:
    cluster_name: str
    bootstrap_servers: str
    properties: Mapping[str, str]
    sasl_secret: str | None
    sasl_secret_kms_key: str | None
    """ARN of the customer-managed key the SASL secret is encrypted with; Secrets Manager decrypts with it."""


@dataclass(frozen=True)
class HttpApiConfig:
    function_url_auth: str
    """``AWS_IAM`` or ``NONE``."""
    settings: Mapping[str, str]
    """The catalog's settings with the context's overrides."""


@dataclass(frozen=True)
class DeploymentConfig:
    restate: RestateConfig
    kafka: KafkaConfig | None
    architecture: str
    log_retention_days: int
    name_prefix: str
    tags: Mapping[str, str]
    pattern_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pattern_setting_secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    http_apis: Mapping[str, HttpApiConfig] = field(default_factory=dict)
    """By catalog name."""
    example_values: tuple[str, ...] = ()
    """The keys still set to a placeholder, accepted by ``app:allowExampleValues`` (synth warns about them)."""

    def function_name(self, pattern_name: str) -> str:
        return f"{self.name_prefix}-{pattern_name}"

    def stack_name(self, name: str) -> str:
        # CloudFormation stack names allow letters, digits and hyphens only.
        return f"{self.name_prefix}-{name}".replace("_", "-")


def restate_cloud_urls(environment_id: str, region: str) -> tuple[str, str]:
    """(admin URL, ingress URL) of a Restate Cloud environment; the host uses the id without ``env_``."""
    host = f"{environment_id.removeprefix('env_')}.env.{region}.restate.cloud"
    return f"https://{host}:9070", f"https://{host}"


def _registration_timeout(context: Mapping[str, Any]) -> int:
    key = "restate:registrationTimeoutSeconds"
    seconds = _number(context, key, 300)
    if seconds > MAX_REGISTRATION_TIMEOUT_SECONDS:
        raise ConfigError(
            f"context {key} must be at most {MAX_REGISTRATION_TIMEOUT_SECONDS}, got {seconds}: the CDK Provider "
            "framework stops waiting for the registration function at 900 s, and CloudFormation would then "
            "hear of the failure only from its own custom resource timeout (an hour by default)"
        )
    return seconds


def _restate_config(context: Mapping[str, Any]) -> RestateConfig:
    mode = _text(context, "restate:mode", "cloud").lower()
    removal_policy = _text(context, "restate:removalPolicy", "retain").lower()
    if removal_policy not in ("retain", "destroy"):
        raise ConfigError(f"context restate:removalPolicy must be retain or destroy, got {removal_policy!r}")
    common: dict[str, Any] = {
        "removal_policy": removal_policy,
        "prune_old_deployments": _flag(context, "restate:pruneOldDeployments", False),
        "registration_timeout_seconds": _registration_timeout(context),
        "allow_breaking_changes": _flag(context, "restate:allowBreakingChanges", False),
    }
    if mode == "cloud":
        why = "for restate:mode=cloud"
        environment_id = _required(context, "restate:cloud:environmentId", why)
        if not re.fullmatch(r"env_[0-9a-z]+", environment_id):
            raise ConfigError(f"context restate:cloud:environmentId must look like env_..., got {environment_id!r}")
        region = _text(context, "restate:cloud:region", "us").lower()
        admin_url, ingress_url = restate_cloud_urls(environment_id, region)
        token_secret = _secret_reference(context, "restate:cloud:apiKeySecret", why)
        return RestateConfig(
            mode=mode,
            admin_url=admin_url,
            ingress_url=ingress_url,
            token_secret=token_secret,
            # An admin key may call the ingress too; a dedicated key (ingress role) limits what a leak exposes.
            ingress_key_secret=_secret_reference(context, "restate:ingressKeySecret") or token_secret,
            invoker_principal_arn=_text(context, "restate:cloud:principalArn", RESTATE_CLOUD_PRINCIPAL_ARN),
            invoker_principal_account=_text(context, "restate:cloud:account", RESTATE_CLOUD_ACCOUNT),
            external_id=environment_id,
            tag_session=True,
            vpc=None,
            **common,
        )
    if mode == "self-hosted":
        why = "for restate:mode=self-hosted"
        admin_url = _required(context, "restate:selfHosted:adminUrl", why).rstrip("/")
        vpc = None
        vpc_id = _text(context, "restate:selfHosted:vpcId")
        if vpc_id:
            subnets = _names(context, "restate:selfHosted:subnetIds")
            if not subnets:
                raise ConfigError("context restate:selfHosted:subnetIds is required with restate:selfHosted:vpcId")
            vpc = VpcPlacement(vpc_id, subnets, _names(context, "restate:selfHosted:securityGroupIds"))
        token_secret = _secret_reference(context, "restate:selfHosted:authTokenSecret")
        return RestateConfig(
            mode=mode,
            admin_url=admin_url,
            ingress_url=_text(context, "restate:selfHosted:ingressUrl").rstrip("/"),
            token_secret=token_secret,
            # The one token configured for this Restate, if any; an ingress guarded by another names its own.
            ingress_key_secret=_secret_reference(context, "restate:ingressKeySecret") or token_secret,
            invoker_principal_arn=_required(context, "restate:selfHosted:invokerPrincipalArn", why),
            invoker_principal_account=None,
            external_id=_text(context, "restate:selfHosted:externalId") or None,
            tag_session=False,
            vpc=vpc,
            **common,
        )
    raise ConfigError(f"context restate:mode must be cloud or self-hosted, got {mode!r}")


def _kafka_config(context: Mapping[str, Any]) -> KafkaConfig | None:
    bootstrap_servers = _text(context, "kafka:bootstrapServers")
    if not bootstrap_servers:
        return None
    sasl_secret = _secret_reference(context, "kafka:saslSecret")
    kms_key = _text(context, "kafka:saslSecretKmsKey") or None
    if kms_key is not None:
        if not sasl_secret:
            raise ConfigError(
                "context kafka:saslSecretKmsKey is set, but kafka:saslSecret, the secret it decrypts, is not"
            )
        if not KMS_KEY_ARN.fullmatch(kms_key):
            # An IAM policy can grant a key by its ARN only: an alias or a bare key id would match nothing.
            raise ConfigError(
                f"context kafka:saslSecretKmsKey must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), "
                f"got {kms_key!r}"
            )
    return KafkaConfig(
        cluster_name=_text(context, "kafka:clusterName", "my-cluster"),
        bootstrap_servers=bootstrap_servers,
        properties=_string_map(context, "kafka:properties"),
        sasl_secret=sasl_secret,
        sasl_secret_kms_key=kms_key,
    )


def _servers(bootstrap_servers: str) -> list[str]:
    return [server.strip() for server in bootstrap_servers.split(",")]


def _example_values_in_use(context: Mapping[str, Any]) -> list[str]:
    """The keys the configuration reads that still hold a placeholder."""
    in_use = []
    cloud = _text(context, "restate:mode", "cloud").lower() == "cloud"
    if cloud and _text(context, "restate:cloud:environmentId") == EXAMPLE_ENVIRONMENT_ID:
        in_use.append("restate:cloud:environmentId")
    if EXAMPLE_BOOTSTRAP_SERVER in _servers(_text(context, "kafka:bootstrapServers")):
        in_use.append("kafka:bootstrapServers")
    return in_use


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


def _http_api_config(context: Mapping[str, Any], api: HttpApi) -> HttpApiConfig:
    prefix = http_api_context_prefix(api.name)
    auth = _text(context, f"{prefix}:functionUrlAuth", api.function_url_auth).upper()
    if auth not in FUNCTION_URL_AUTH_TYPES:
        raise ConfigError(f"context {prefix}:functionUrlAuth must be AWS_IAM or NONE, got {auth!r}")
    overrides = _string_map(context, f"{prefix}:settings")
    # As for patterns: a misspelt setting would silently do nothing.
    unknown = set(overrides) - set(api.settings)
    if unknown:
        raise ConfigError(
            f"context {prefix}:settings sets {sorted(unknown)}, which {api.name} does not read "
            f"(it reads: {', '.join(api.settings) or 'nothing'})"
        )
    return HttpApiConfig(function_url_auth=auth, settings={**api.settings, **overrides})


def deployment_config(context: Mapping[str, Any]) -> DeploymentConfig:
    """The deployment described by ``context``; :class:`ConfigError` names the first bad key."""
    architecture = _text(context, "lambda:architecture", "arm64").lower()
    if architecture not in ("arm64", "x86_64"):
        raise ConfigError(f"context lambda:architecture must be arm64 or x86_64, got {architecture!r}")
    name_prefix = _text(context, "app:namePrefix", "restate-patterns")
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{0,30}", name_prefix):
        raise ConfigError(f"context app:namePrefix must be letters, digits and hyphens (<= 31), got {name_prefix!r}")
    restate = _restate_config(context)
    kafka = _kafka_config(context)
    example_values = _example_values_in_use(context)
    if example_values and not _flag(context, ALLOW_EXAMPLE_VALUES, False):
        raise ConfigError(example_value_refusal(example_values[0]))
    return DeploymentConfig(
        restate=restate,
        kafka=kafka,
        architecture=architecture,
        log_retention_days=_number(context, "lambda:logRetentionDays", 30),
        name_prefix=name_prefix,
        tags=_string_map(context, "app:tags"),
        pattern_settings=_per_pattern(context, "patterns:settings"),
        pattern_setting_secrets=_per_pattern(context, "patterns:settingSecrets", secret=True),
        http_apis={api.name: _http_api_config(context, api) for api in HTTP_APIS},
        example_values=tuple(example_values),
    )

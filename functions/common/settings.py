"""Read pattern settings from the environment (set by CDK on AWS, by the catalog locally).

Each reader fails at cold start with the setting's name when the value is malformed, so a typo
shows up as a clear import error instead of odd behaviour in the middle of an invocation.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any


def secret_arn_variable(name: str) -> str:
    """The variable naming the Secrets Manager secret (ARN or name) that holds secret setting ``name``.

    ``<NAME>_SECRET_ARN``, without doubling a trailing ``_SECRET``: ``STRIPE_WEBHOOK_SECRET`` is read
    from ``STRIPE_WEBHOOK_SECRET_ARN`` (as ``RESTATE_API_KEY`` from ``RESTATE_API_KEY_SECRET_ARN``).
    """
    return name.removesuffix("_SECRET") + "_SECRET_ARN"


def _raw(name: str) -> str | None:
    raw = os.environ.get(name)
    return raw if raw else None


def seconds_setting(name: str, default: float) -> timedelta:
    """A non-negative duration in seconds."""
    raw = _raw(name)
    if raw is None:
        return timedelta(seconds=default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return timedelta(seconds=value)


def whole_number_setting(name: str, default: int, minimum: int = 0) -> int:
    """A whole number of at least ``minimum`` (counts, attempts)."""
    raw = _raw(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ValueError(f"{name} must be a whole number, at least {minimum}, got {raw!r}")
    return int(raw)


def probability_setting(name: str, default: float) -> float:
    """A probability between 0 and 1."""
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {raw!r}")
    return value


def secret_setting(name: str) -> str:
    """A secret (a catalog ``secret_settings`` entry): ``<name>`` if set, else the secret ``<name>_SECRET_ARN`` names.

    On AWS the CDK app sets only ``<name>_SECRET_ARN``, so the value never shows in the function's
    configuration; locally and in tests ``<name>`` carries the value itself. Neither set: ``""``.
    (The variable is :func:`secret_arn_variable`'s: a trailing ``_SECRET`` of ``name`` is not doubled.)
    Call it at module level, so that Secrets Manager is asked once per cold start (Lambda's init
    phase), never per invocation; a rotated secret reaches new execution environments only.
    """
    value = _raw(name)
    if value is not None:
        return value
    variable = secret_arn_variable(name)
    secret_id = _raw(variable)
    if secret_id is None:
        return ""
    return _read_secret(variable, secret_id)


def _read_secret(variable: str, secret_id: str) -> str:
    # Imported here: boto3 costs ~150 ms of cold start, and only a function with a secret needs it.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client: Any = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or None)
        secret = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except (BotoCoreError, ClientError) as error:
        raise RuntimeError(f"cannot read {variable}={secret_id} from Secrets Manager: {error}") from None
    # A configured but empty (or binary) secret would silently switch the protection it carries off.
    if not isinstance(secret, str) or not secret.strip():
        raise RuntimeError(f"the secret {secret_id} ({variable}) has no SecretString, or an empty one")
    return secret.strip()

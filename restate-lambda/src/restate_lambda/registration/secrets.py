"""Secrets Manager values the registration function reads at run time, so that no secret shows in a template."""

from __future__ import annotations

import json
import os
from typing import Any


class SecretUnavailable(RuntimeError):
    """The secret cannot be read, or does not hold what it should; the message names it, never its value."""


def read_secret(secret_id: str) -> str:
    """The SecretString of ``secret_id`` (an ARN or a name), without surrounding white space."""
    import boto3  # Lambda's runtime has it; only a resource with a secret pays for the import
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # botocore's defaults (60 s reads, retried) could use up a whole registration on one stuck call.
    quick = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    try:
        client: Any = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or None, config=quick)
        value = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except (BotoCoreError, ClientError) as error:
        raise SecretUnavailable(f"cannot read secret {secret_id} from Secrets Manager: {error}") from None
    # A configured but empty (or binary) secret would silently switch the protection it carries off.
    if not isinstance(value, str) or not value.strip():
        raise SecretUnavailable(f"secret {secret_id} has no SecretString, or an empty one")
    return value.strip()


def secret_text(secret_id: str) -> str:
    """A secret's value: plain text, or the single value of a one-entry JSON object (the console's format)."""
    raw = read_secret(secret_id)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if isinstance(parsed, dict) and len(parsed) == 1:
        (value,) = parsed.values()
        if isinstance(value, str):
            return value.strip()
    if isinstance(parsed, str):
        return parsed.strip()
    raise SecretUnavailable(f"secret {secret_id} must hold the token as text or as a JSON object with one entry")


def secret_json(secret_id: str) -> dict[str, Any]:
    """A secret that holds a JSON object, such as ``{"username": ..., "password": ...}``."""
    try:
        parsed = json.loads(read_secret(secret_id))
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise SecretUnavailable(f"secret {secret_id} must hold a JSON object")
    return parsed

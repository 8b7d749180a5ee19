"""Secrets Manager values, read by the functions themselves so that no secret shows in a template.

Runtime code of the functions uses it: pattern settings and the HTTP APIs' ingress key. (The
registration function, which is the restate-lambda package's, has its own reader.)
"""

from __future__ import annotations

import os
from typing import Any


class SecretUnavailable(RuntimeError):
    """The secret cannot be read, or does not hold what it should; the message names it, never its value."""


def read_secret(secret_id: str) -> str:
    """The SecretString of ``secret_id`` (an ARN or a name), without surrounding white space."""
    # Imported here: boto3 costs ~150 ms of cold start, and only a function with a secret needs it.
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # botocore's defaults (60 s reads, retried) could use up a cold start's init phase, or a whole
    # registration, on one stuck call.
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

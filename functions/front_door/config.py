"""The front door's configuration, read once per cold start: where Restate is and how to authenticate.

On AWS the CDK app sets ``RESTATE_INGRESS_URL`` and ``RESTATE_API_KEY_SECRET_ARN``; the key is read
from Secrets Manager at import time, i.e. in Lambda's init phase, so a warm function never pays for
it again (a rotated key reaches new execution environments only). Locally the stack sets the ingress
URL of the local restate-server and no key; ``RESTATE_AUTH_TOKEN`` can carry a key directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.catalog import API_KEY_SECRET_VARIABLE, API_KEY_VARIABLE, INGRESS_URL_VARIABLE
from functions.common.ingress import DEFAULT_INGRESS_URL
from functions.common.settings import seconds_setting
from functions.front_door.flows import DEFAULT_UPLOAD_WAIT_SECONDS


@dataclass(frozen=True)
class FrontDoorConfig:
    ingress_url: str
    api_key: str | None
    upload_wait_seconds: float
    """The wait of POST /uploads when the request names none."""
    max_upload_wait_seconds: float
    call_timeout_seconds: float


def read_secret(secret_id: str, environ: Mapping[str, str]) -> str:
    """The SecretString of ``secret_id`` (an ARN or a name), trimmed; the secret holds the key itself."""
    # Imported here: boto3 costs ~150 ms of cold start, and only a function with a secret needs it.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = environ.get("AWS_REGION") or None
    try:
        client: Any = boto3.client("secretsmanager", region_name=region)
        secret: str = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError, KeyError) as error:
        raise RuntimeError(
            f"cannot read the Restate API key from {API_KEY_SECRET_VARIABLE}={secret_id}: {error}"
        ) from None
    if not secret.strip():
        raise RuntimeError(f"the secret {secret_id} ({API_KEY_SECRET_VARIABLE}) is empty")
    return secret.strip()


def api_key(environ: Mapping[str, str]) -> str | None:
    secret_id = environ.get(API_KEY_SECRET_VARIABLE)
    if secret_id:
        return read_secret(secret_id, environ)
    return environ.get(API_KEY_VARIABLE) or None


def front_door_config() -> FrontDoorConfig:
    wait = seconds_setting("FRONT_DOOR_UPLOAD_WAIT_SECONDS", DEFAULT_UPLOAD_WAIT_SECONDS).total_seconds()
    max_wait = seconds_setting("FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS", 25).total_seconds()
    if wait > max_wait:
        raise ValueError(f"FRONT_DOOR_UPLOAD_WAIT_SECONDS ({wait:g}) is above FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS")
    return FrontDoorConfig(
        ingress_url=(os.environ.get(INGRESS_URL_VARIABLE) or DEFAULT_INGRESS_URL).rstrip("/"),
        api_key=api_key(os.environ),
        upload_wait_seconds=wait,
        max_upload_wait_seconds=max_wait,
        call_timeout_seconds=seconds_setting("FRONT_DOOR_CALL_TIMEOUT_SECONDS", 10).total_seconds(),
    )

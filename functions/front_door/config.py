"""The front door's configuration, read once per cold start: where Restate is and how to authenticate.

On AWS the CDK app sets ``RESTATE_INGRESS_URL`` and ``RESTATE_INGRESS_KEY_SECRET_ARN``; the key is read
from Secrets Manager at import time, i.e. in Lambda's init phase, so a warm function never pays for
it again (a rotated key reaches new execution environments only). Locally the stack sets the ingress
URL of the local restate-server and no key; ``RESTATE_INGRESS_KEY`` can carry a key directly.

``RESTATE_INGRESS_URL`` may name several URLs separated by commas: the local stack's cluster gives
every node's, and a call whose node is gone goes to the next (``failover.py``). The CDK app gives
one, the ingress behind which a load balancer (or Restate Cloud) does the same.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from functions.catalog import INGRESS_KEY_SECRET_VARIABLE, INGRESS_KEY_VARIABLE, INGRESS_URL_VARIABLE
from functions.common.ingress import DEFAULT_INGRESS_URL, ingress_urls
from functions.common.secrets import SecretUnavailable, read_secret
from functions.front_door.settings import Settings


@dataclass(frozen=True)
class FrontDoorConfig:
    ingress_urls: tuple[str, ...]
    """One URL, or each node's of a cluster."""
    api_key: str | None
    upload_wait_seconds: float
    """The wait of POST /uploads when the request names none."""
    max_upload_wait_seconds: float
    call_timeout_seconds: float


def api_key(environ: Mapping[str, str]) -> str | None:
    secret_id = environ.get(INGRESS_KEY_SECRET_VARIABLE)
    if not secret_id:
        return environ.get(INGRESS_KEY_VARIABLE) or None
    try:
        return read_secret(secret_id)
    except SecretUnavailable as problem:
        # Without its key the front door cannot call Restate at all: fail the cold start, naming the variable.
        raise RuntimeError(f"cannot read the Restate API key ({INGRESS_KEY_SECRET_VARIABLE}): {problem}") from None


def configured_ingress_urls(environ: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return ingress_urls(environ.get(INGRESS_URL_VARIABLE) or DEFAULT_INGRESS_URL)
    except ValueError as problem:
        # Without it the front door cannot call Restate at all: fail the cold start, naming the variable.
        raise RuntimeError(f"{INGRESS_URL_VARIABLE}: {problem}") from None


def front_door_config() -> FrontDoorConfig:
    settings = Settings.from_environment()
    return FrontDoorConfig(
        ingress_urls=configured_ingress_urls(os.environ),
        api_key=api_key(os.environ),
        upload_wait_seconds=settings.upload_wait.total_seconds(),
        max_upload_wait_seconds=settings.max_upload_wait.total_seconds(),
        call_timeout_seconds=settings.call_timeout.total_seconds(),
    )

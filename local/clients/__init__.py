"""The command-line clients, one module per pattern, named after it (``python -m local.clients.<pattern>``).

Development tools, never bundled: they call the Restate ingress from outside, locally or deployed.
What they share is here: where the ingress is, how to authenticate, what a refusal says. The demo
scenarios (``local/demos``) use it too.

Locally the ingress is http://127.0.0.1:8080 with no token; for a deployed environment set
``RESTATE_INGRESS_URL`` and ``RESTATE_AUTH_TOKEN`` (a Restate Cloud API key) or pass
``--ingress`` / ``--token``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import quote

import httpx

from functions.common import ingress
from functions.common.ingress import DEFAULT_INGRESS_URL
from functions.common.restate_errors import restate_message


def add_ingress_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ingress",
        default=os.environ.get("RESTATE_INGRESS_URL", DEFAULT_INGRESS_URL),
        help="Restate ingress URL (env RESTATE_INGRESS_URL, default %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("RESTATE_AUTH_TOKEN"),
        help="bearer token for the ingress, e.g. a Restate Cloud API key (env RESTATE_AUTH_TOKEN)",
    )


def ingress_client(ingress_url: str, token: str | None = None, timeout: float = 60.0) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=ingress_url.rstrip("/"), headers=headers, timeout=timeout)


class IngressError(Exception):
    """The ingress refused the call; carries Restate's status and message."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}: {restate_message(response.text)}")
        self.status_code = response.status_code


def checked(response: httpx.Response) -> httpx.Response:
    """``response``, unless the ingress refused the call: then :class:`IngressError` is raised."""
    return ingress.checked(response, IngressError)


def attach_to_invocation(ingress_url: str, invocation_id: str, token: str | None = None, timeout: float = 600.0) -> Any:
    """Block until the invocation has run (however it was started); its output."""
    with ingress_client(ingress_url, token, timeout=timeout) as client:
        return checked(client.get(f"/restate/invocation/{quote(invocation_id, safe='')}/attach")).json()

"""What the command-line clients share: where the Restate ingress is and how to authenticate.

Locally the ingress is http://127.0.0.1:8080 with no token; for a deployed environment set
``RESTATE_INGRESS_URL`` and ``RESTATE_AUTH_TOKEN`` (a Restate Cloud API key) or pass
``--ingress`` / ``--token``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import httpx

from functions.common.restate_errors import restate_message

DEFAULT_INGRESS_URL = "http://127.0.0.1:8080"


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


def checked(response: httpx.Response, refusal: Callable[[httpx.Response], Exception] = IngressError) -> httpx.Response:
    """``response``, unless the ingress refused the call: then ``refusal(response)`` is raised.

    A caller that answers refusals its own way (an HTTP API mapping Restate's statuses to its own)
    passes its ``refusal``; the command-line clients keep :class:`IngressError`.
    """
    if response.is_error:
        raise refusal(response)
    return response

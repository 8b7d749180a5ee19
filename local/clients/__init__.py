"""The command-line clients, one module per pattern, named after it (``python -m local.clients.<pattern>``).

Development tools, never bundled: they call the Restate ingress from outside, locally or deployed.
What they share is here: where the ingress is, how to authenticate, what a refusal says. The flows
the front door serves as well (reserve, submit and attach, upload) are not written here again: the
clients run the front door's own (``functions/front_door/flows.py``) with :func:`run_flow`. The demo
scenarios (``local/demos``) use these too.

Locally the ingress is http://127.0.0.1:8080 with no token; for a deployed environment set
``RESTATE_INGRESS_URL`` and ``RESTATE_AUTH_TOKEN`` (a Restate Cloud API key) or pass
``--ingress`` / ``--token``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from functions.common import ingress
from functions.common.ingress import DEFAULT_INGRESS_URL
from functions.common.ingress import IngressError as IngressError  # what the clients' and demos' callers catch
from functions.front_door.flows import IngressFlows

ResultT = TypeVar("ResultT")


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


def checked_as(check: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse ``type`` that passes a value ``check`` accepts and makes its ValueError a usage error.

    The clients check what the front door checks, with the same rules, before anything is sent.
    """

    def checked_argument(value: str) -> str:
        try:
            check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    return checked_argument


def ingress_client(ingress_url: str, token: str | None = None, timeout: float = 60.0) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=ingress_url.rstrip("/"), headers=headers, timeout=timeout)


def run_flow(
    ingress_url: str,
    token: str | None,
    flow: Callable[[IngressFlows], Awaitable[ResultT]],
    timeout: float = 60.0,
) -> ResultT:
    """Run one of the front door's ingress flows from the command line, over a connection pool of its own."""

    async def run() -> ResultT:
        async with IngressFlows(ingress_url, token, timeout) as flows:
            return await flow(flows)

    return asyncio.run(run())


def checked(response: httpx.Response) -> httpx.Response:
    """``response``, unless the ingress refused the call: then :class:`IngressError` is raised."""
    return ingress.checked(response, response.request.url.path)


def attach_to_invocation(ingress_url: str, invocation_id: str, token: str | None = None, timeout: float = 600.0) -> Any:
    """Block until the invocation has run (however it was started); its output, None for a handler that returns none."""
    with ingress_client(ingress_url, token, timeout=timeout) as client:
        response = checked(client.get(f"/restate/invocation/{quote(invocation_id, safe='')}/attach"))
    # A handler returning None answers with an empty body, which is no JSON.
    return response.json() if response.content else None

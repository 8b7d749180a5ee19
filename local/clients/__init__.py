"""The command-line clients, one module per pattern, named after it (``python -m local.clients.<pattern>``).

Development tools, never bundled: they call the Restate ingress from outside, locally or deployed.
What they share is here: where the ingress is, how to authenticate, what a refusal says. The flows
the front door serves as well (reserve, submit and attach, upload) are not written here again: the
clients run the front door's own (``functions/front_door/flows.py``) with :func:`run_flow`. The demo
scenarios (``local/demos``) use these too.

Locally the ingress is http://127.0.0.1:8080 with no token; for a deployed environment set
``RESTATE_INGRESS_URL`` and ``RESTATE_INGRESS_KEY`` (a Restate Cloud API key) or pass
``--ingress`` / ``--token``. A cluster's nodes are given together, ``--ingress`` repeated or their
URLs separated by commas (``RESTATE_INGRESS_URL`` too): a call whose node is gone goes to the next
one, as the front door's calls do (``functions/front_door/failover.py``). Only a call that cannot
be done twice is sent again, so every call here that would have no idempotency key gets one of
its own (:func:`call_key`), kept across its attempts; reads and calls idempotent by nature (a
workflow's run, a shared handler) go as they are, marked :data:`REPEATABLE`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from functions.catalog import INGRESS_URL_VARIABLE
from functions.common.ingress import DEFAULT_INGRESS_URL, ingress_urls
from functions.common.ingress import Ingress as Ingress  # where the clients and demos go: one URL or a cluster's
from functions.common.ingress import IngressError as IngressError  # what the clients' and demos' callers catch
from functions.common.ingress import checked as checked_call
from functions.front_door.failover import REPEATABLE as REPEATABLE  # marks a call idempotent without a key
from functions.front_door.failover import sync_client
from functions.front_door.flows import IngressFlows

ResultT = TypeVar("ResultT")

CALL_FAILED = (IngressError, httpx.HTTPError, OSError)
"""What a client command reports as its failure: Restate refused the call, or no ingress given answered it."""


def ingress_argument(value: str) -> tuple[str, ...]:
    try:
        return ingress_urls(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class IngressUrls(argparse.Action):
    """``--ingress``, repeatable and comma-separated: the URLs given replace the default, in their order."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        given = getattr(namespace, self.dest)
        setattr(namespace, self.dest, (*(() if given is self.default else given), *values))


def add_ingress_arguments(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(INGRESS_URL_VARIABLE) or DEFAULT_INGRESS_URL
    try:
        default_urls = ingress_urls(default)
    except ValueError as error:
        parser.error(f"{INGRESS_URL_VARIABLE}: {error}")
    parser.add_argument(
        "--ingress",
        action=IngressUrls,
        type=ingress_argument,
        default=default_urls,
        metavar="URL[,URL...]",
        help=f"Restate ingress URL; a cluster's nodes repeated or separated by commas, tried in turn when "
        f"one is gone (env {INGRESS_URL_VARIABLE}, default {default})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("RESTATE_INGRESS_KEY"),
        help="bearer token for the ingress, e.g. a Restate Cloud API key (env RESTATE_INGRESS_KEY)",
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


@contextmanager
def exit_when_a_call_fails(what: str) -> Iterator[None]:
    """On a failed call inside, exit with ``<what> failed: <why>``: one line for the user, not a traceback."""
    try:
        yield
    except CALL_FAILED as error:
        sys.exit(f"{what} failed: {error}")


def call_key() -> str:
    """An idempotency key for one call that has none of its own: sent again to another node, it is not done twice."""
    return f"call-{uuid.uuid4().hex}"


def ingress_client(ingress: Ingress, token: str | None = None, timeout: float = 60.0) -> httpx.Client:
    """A client of the ingress: of one URL, or of a cluster's nodes, repeatable calls going on to the next one."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return sync_client(ingress_urls(ingress), headers, timeout)


def run_flow(
    ingress: Ingress,
    token: str | None,
    flow: Callable[[IngressFlows], Awaitable[ResultT]],
    timeout: float = 60.0,
) -> ResultT:
    """Run one of the front door's ingress flows from the command line, over a connection pool of its own."""

    async def run() -> ResultT:
        async with IngressFlows(ingress, token, timeout) as flows:
            return await flow(flows)

    return asyncio.run(run())


def checked(response: httpx.Response) -> httpx.Response:
    """``response``, unless the ingress refused the call: then :class:`IngressError` is raised."""
    return checked_call(response, response.request.url.path)


def read_shared(ingress: Ingress, service: str, key: str, handler: str, token: str | None = None) -> Any:
    """The answer of a virtual object's shared ``handler`` for ``key``, called without a body.

    A shared handler only reads: asking another node again changes nothing, so no idempotency key.
    """
    with ingress_client(ingress, token) as client:
        path = f"/{service}/{quote(key, safe='')}/{handler}"
        response = checked(client.post(path, extensions={REPEATABLE: True}))
    return response.json()


def attach_to_invocation(ingress: Ingress, invocation_id: str, token: str | None = None, timeout: float = 600.0) -> Any:
    """Block until the invocation has run (however it was started); its output, None for a handler that returns none."""
    with ingress_client(ingress, token, timeout=timeout) as client:
        response = checked(client.get(f"/restate/invocation/{quote(invocation_id, safe='')}/attach"))
    # A handler returning None answers with an empty body, which is no JSON.
    return response.json() if response.content else None

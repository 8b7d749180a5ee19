"""The ingress flows, written once: reserve a product, queue a task and read it back, upload data.

The front door (``api.py``) serves them as an HTTP API and the command-line clients
(``local/clients``) run them from a terminal, so both send the same requests with the same
idempotency keys, accept the same delays and word an upload's outcome the same way. A refusal is
an :class:`~functions.common.ingress.IngressError`, and a connection that fails is httpx's error:
each caller answers them its own way (the front door with its API's statuses, see
``restate_gateway.py``). Nothing here imports the web framework, which the clients do not need.

The Restate SDK's own client (``restate.client.Client``) makes the calls it covers: the reservation
(a call with an idempotency key) and the ``ResultAsEmail`` send (a send with an idempotency key).
Plain httpx, on the same connection pool, makes the others - each place says why:

* a *delayed* send: the SDK writes ``?delay=<milliseconds>`` without a unit, which restate-server
  refuses ("bad delay query parameter, must be a ISO8601 duration");
* a send whose ``Accepted`` / ``PreviouslyAccepted`` status we report: the SDK's send handle keeps
  only the invocation id;
* a task's output or attach, and a workflow's attach: the SDK client has no call for them.

Every id the user gives becomes an idempotency key or a workflow key, so a caller that retries
a flow - after a timeout, a 503, a dropped connection - never gets anything done twice. For the
same reason every call of a flow may be sent to another node of a cluster when its node is gone
(``failover.py``), with the same key: the flows take one ingress URL or each node's.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self
from urllib.parse import quote

import httpx
from restate.client import Client
from restate.client_types import HttpError

from functions.common.ingress import Ingress, IngressError, checked, ingress_urls
from functions.front_door.failover import REPEATABLE, async_client

DEFAULT_UPLOAD_WAIT_SECONDS = 5.0
"""How long a caller waits for an upload's URL before having it emailed (the front door's default too)."""

DELAY_PATTERN = re.compile(r"^\d+(ms|s|m|h)$")
DELAY_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}


MAX_DELAY = timedelta(days=365)
"""The longest delay a task takes. restate-server 1.7.12 panics on delays near the limits of its
timers (``99999999h``) after it accepted the task, so anything longer is refused before Restate."""


def parse_delay(text: str) -> timedelta:
    """``500ms``, ``10s``, ``5m``, ``1h``: the delays a queued task takes, at most :data:`MAX_DELAY`."""
    match = DELAY_PATTERN.match(text)
    if match is None:
        raise ValueError("use a number with a unit, e.g. 500ms, 10s, 5m, 1h")
    unit = match[1]
    amount = int(text.removesuffix(unit))
    # Compared before building the timedelta, which overflows for amounts this check exists to refuse.
    if amount > MAX_DELAY // DELAY_UNITS[unit]:
        raise ValueError(f"at most {MAX_DELAY.days} days ({MAX_DELAY // DELAY_UNITS['h']}h)")
    return amount * DELAY_UNITS[unit]


@dataclass(frozen=True)
class Submission:
    invocation_id: str
    status: str
    """``Accepted`` the first time a task id is sent, ``PreviouslyAccepted`` after."""


@dataclass(frozen=True)
class TaskState:
    done: bool
    result: Any = None
    """The task's result once ``done``."""


@dataclass(frozen=True)
class UploadOutcome:
    upload_id: str
    url: str | None
    """The download URL if the upload finished within the wait, else None."""
    emailed_to: str | None
    """Where the URL will be mailed, when the caller stopped waiting."""
    already_started: bool
    """The id was used before: this is that upload's outcome, nothing was uploaded again."""
    email_invocation_id: str | None = None
    """The ``ResultAsEmail`` invocation, to attach to if one wants to know when the email is out."""

    def describe(self, wait_seconds: float) -> str:
        note = f"Upload id {self.upload_id!r} was used before, so this is that upload. " if self.already_started else ""
        if self.url is not None:
            return f"{note}Fast upload: the data is at {self.url}"
        return f"{note}Slow upload: no URL within {wait_seconds:g} s, so it will be emailed to {self.emailed_to}"


PRODUCT_SERVICE = "ProductService"
TASK_WORKER = "AsyncTaskWorker"
UPLOAD_WORKFLOW = "DataUploadService"

OUTPUT_NOT_READY = 470
"""The ingress's answer to ``/output`` of an invocation that has not completed yet."""


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
"""The ids the flows take: each is a key or an idempotency key, and ends up in a URL path.

restate-server (1.7) percent-decodes a key in a path, but not the idempotency key by which a task's
invocation is found (``/restate/invocation/AsyncTaskWorker/RunTask/<task id>/attach``): a task id
with a character a path segment cannot hold as it is (``/``, ``?``, ``#``, a space) could be queued
but never found again. So ids keep to characters a path segment holds as they are."""

PATH_SEGMENT_CHARACTERS = "!$&'()*+,;=:@"
"""What a URL path segment holds unencoded besides letters, digits and ``-._~`` (RFC 3986, ``pchar``)."""


def path_segment(value: str) -> str:
    """``value`` as one segment of an ingress path: percent-encoded only where a segment cannot hold it as it is.

    Unneeded encoding is not harmless: restate-server matches an idempotency key in a path
    undecoded, so an encoded ``:`` or ``@`` of an id would miss the invocation it names.
    """
    return quote(value, safe=PATH_SEGMENT_CHARACTERS)


def looks_like_an_id(value: str) -> str:
    """``value``, if it is an id the flows take (see :data:`ID_PATTERN`); ValueError otherwise."""
    if re.fullmatch(ID_PATTERN, value) is None:
        raise ValueError("use 1-128 letters, digits or ._:@- starting with a letter or digit")
    return value


def task_invocation_path(task_id: str) -> str:
    """The task's invocation, found by its id: the idempotency key it was sent with."""
    return f"/restate/invocation/{TASK_WORKER}/RunTask/{path_segment(task_id)}"


class IngressFlows:
    """The flows over one connection pool: the front door keeps one per execution environment, so a
    warm Lambda reuses its connections; a client command opens one for its call (``async with``)."""

    def __init__(self, ingress: Ingress, api_key: str | None, call_timeout_seconds: float) -> None:
        self.ingress_urls = ingress_urls(ingress)
        """One URL, or each node's of a cluster: a repeatable call whose node is gone goes to the next."""
        self.call_timeout_seconds = call_timeout_seconds
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        # Not restate.create_client(): it opens a new pool per `async with` and leaves httpx's 5 s
        # default timeout, which a cold Lambda behind Restate can exceed. The SDK client wraps ours.
        self._http = async_client(self.ingress_urls, headers, call_timeout_seconds)
        self._client = Client(self._http, headers)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self._http.aclose()

    @contextlib.asynccontextmanager
    async def _calling(self, target: str) -> AsyncIterator[None]:
        """Around every call of ``target``: a refusal reported by the SDK's client is an :class:`IngressError` too.

        The front door's gateway widens it to answer every failure as its API does.
        """
        try:
            yield
        except HttpError as error:
            raise IngressError(error.status_code, error.body or "", target) from None

    async def reserve_product(self, product_id: str, reservation_id: str) -> bool:
        """True if this reservation got the product; a repeated reservation id repeats its answer."""
        target = f"{PRODUCT_SERVICE}/Reserve"
        async with self._calling(target):
            answer = await self._client.generic_call(
                PRODUCT_SERVICE, "Reserve", b"", key=path_segment(product_id), idempotency_key=reservation_id
            )
            reserved = json.loads(answer)
            if not isinstance(reserved, bool):
                # What a gateway answers for an upstream answer it cannot read.
                raise IngressError(502, f"{target} answered {answer[:100]!r} instead of true or false", target)
        return reserved

    async def submit_task(self, task_id: str, description: str, delay: timedelta | None = None) -> Submission:
        """Queue the task (``delay`` later, if given), once per task id."""
        target = f"{TASK_WORKER}/RunTask"
        # httpx, not the SDK: we report the send's status, and the SDK's delay lacks a unit (see above).
        params = {"delay": f"{round(delay.total_seconds() * 1000)}ms"} if delay else {}
        async with self._calling(target):
            response = await self._http.post(
                f"/{TASK_WORKER}/RunTask/send",
                params=params,
                headers={"idempotency-key": task_id},
                json={"id": task_id, "description": description},
            )
            answer = checked(response, target).json()
        return Submission(invocation_id=answer["invocationId"], status=answer["status"])

    async def task_state(self, task_id: str) -> TaskState | None:
        """The task's state, or None if no task was submitted with this id (or it was forgotten)."""
        target = f"{TASK_WORKER}/RunTask"
        async with self._calling(target):
            response = await self._http.get(f"{task_invocation_path(task_id)}/output")
            if response.status_code == 404:
                return None
            if response.status_code == OUTPUT_NOT_READY:
                return TaskState(done=False)
            return TaskState(done=True, result=checked(response, target).json())

    async def attach_to_task(self, task_id: str, wait_seconds: float) -> Any:
        """The task's result, waiting up to ``wait_seconds`` for it (at once if it already ran)."""
        target = f"{TASK_WORKER}/RunTask"
        async with self._calling(target):
            response = await self._http.get(
                f"{task_invocation_path(task_id)}/attach", timeout=self._waiting_for_an_answer(wait_seconds)
            )
            return checked(response, target).json()

    async def upload(self, upload_id: str, email: str, wait_seconds: float) -> UploadOutcome:
        """Start (or find) the upload, wait up to ``wait_seconds`` for its URL, else have it emailed."""
        workflow = f"/{UPLOAD_WORKFLOW}/{path_segment(upload_id)}"
        target = f"{UPLOAD_WORKFLOW}/Run"
        async with self._calling(target):
            # httpx, not the SDK: `PreviouslyAccepted` tells the user this id was used before. Repeatable
            # on another node without an idempotency key: a workflow runs once per key. (Repeated after
            # a connection cut mid-send, it may be this very request's upload that was accepted before.)
            sent = await self._http.post(f"{workflow}/Run/send", extensions={REPEATABLE: True})
            submission = checked(sent, target).json()
            url = await self._attach_within(f"/restate/workflow{workflow}/attach", wait_seconds, target)
        already_started = submission["status"] == "PreviouslyAccepted"
        if url is not None:
            return UploadOutcome(upload_id, url=url, emailed_to=None, already_started=already_started)
        async with self._calling(f"{UPLOAD_WORKFLOW}/ResultAsEmail"):
            # Keyed by the address: a repeated slow upload does not send a second email to it.
            handle = await self._client.generic_send(
                UPLOAD_WORKFLOW,
                "ResultAsEmail",
                json.dumps(email).encode(),
                key=path_segment(upload_id),
                idempotency_key=email,
                headers={"content-type": "application/json"},
            )
        return UploadOutcome(
            upload_id,
            url=None,
            emailed_to=email,
            already_started=already_started,
            email_invocation_id=handle.invocation_id,
        )

    def _waiting_for_an_answer(self, wait_seconds: float) -> httpx.Timeout:
        # Only waiting for the answer is bounded by the wait; connecting keeps the call timeout, so an
        # unreachable Restate is reported as such, not taken for a slow answer.
        return httpx.Timeout(self.call_timeout_seconds, read=wait_seconds)

    async def _attach_within(self, attach_path: str, wait_seconds: float, target: str) -> str | None:
        """The workflow's result if it comes within ``wait_seconds``, else None (it runs on in Restate)."""
        if wait_seconds <= 0:
            return None  # httpx reads a zero timeout as "fail at once", even before connecting
        # httpx, not the SDK: the SDK client cannot attach.
        try:
            response = await self._http.get(attach_path, timeout=self._waiting_for_an_answer(wait_seconds))
        except httpx.ReadTimeout:
            return None
        url: str = checked(response, target).json()
        return url

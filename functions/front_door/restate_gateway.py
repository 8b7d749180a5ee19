"""The front door's calls to the Restate ingress, and what they mean when they fail.

The Restate SDK's own client (``restate.client.Client``) makes the calls it covers: the reservation
(a call with an idempotency key) and the ``ResultAsEmail`` send (a send with an idempotency key).
Plain httpx, on the same connection pool, makes the others - each place says why:

* a *delayed* send: the SDK writes ``?delay=<milliseconds>`` without a unit, which restate-server
  refuses ("bad delay query parameter, must be a ISO8601 duration");
* a send whose ``Accepted`` / ``PreviouslyAccepted`` status we report: the SDK's send handle keeps
  only the invocation id;
* a task's output and a workflow's attach: the SDK client has no call for them.

Every id the user gives becomes an idempotency key or a workflow key, so a client that retries
a request - after a timeout, a 503, a dropped connection - never gets anything done twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from restate.client import Client
from restate.client_types import HttpError

from functions.common import restate_errors
from functions.common.ingress import checked
from functions.front_door.flows import Submission, UploadOutcome

PRODUCT_SERVICE = "ProductService"
TASK_WORKER = "AsyncTaskWorker"
UPLOAD_WORKFLOW = "DataUploadService"

OUTPUT_NOT_READY = 470
"""The ingress's answer to ``/output`` of an invocation that has not completed yet."""


class RestateProblem(Exception):
    """Restate could not be asked, or refused: ``status`` and ``message`` are what the API answers."""

    def __init__(self, status: int, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class TaskState:
    done: bool
    result: Any = None
    """The task's result once ``done``."""


def path_segment(value: str) -> str:
    return quote(value, safe="")


def restate_message(body: str | None) -> str:
    """Restate's own words from an error body, short enough to pass on to the API's caller."""
    return restate_errors.restate_message(body or "")[:500] or "(no message)"


def refused(status: int, body: str | None, target: str) -> RestateProblem:
    """The API's answer when the ingress answered ``status`` to a call of ``target``."""
    message = restate_message(body)
    if status in (401, 403):
        return RestateProblem(502, f"Restate refused the front door's API key ({status}): {message}")
    if status == 404:
        return RestateProblem(502, f"Restate does not know {target}; is its pattern deployed? ({message})")
    if status in (429, 503):
        return RestateProblem(503, f"Restate is busy ({status}): {message}; try again shortly", retry_after_seconds=1)
    if status >= 500:
        return RestateProblem(502, f"Restate failed to run {target} ({status}): {message}")
    return RestateProblem(status, message)


def refusal_of(target: str) -> Callable[[httpx.Response], RestateProblem]:
    """How :func:`functions.common.ingress.checked` words a refusal of a call of ``target``."""
    return lambda response: refused(response.status_code, response.text, target)


class RestateGateway:
    """One per execution environment: its connection pool outlives the invocations of a warm Lambda."""

    def __init__(self, ingress_url: str, api_key: str | None, call_timeout_seconds: float) -> None:
        self.ingress_url = ingress_url
        self.call_timeout_seconds = call_timeout_seconds
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        # Not restate.create_client(): it opens a new pool per `async with` and leaves httpx's 5 s
        # default timeout, which a cold Lambda behind Restate can exceed. The SDK client wraps ours.
        self._http = httpx.AsyncClient(base_url=ingress_url, headers=headers, timeout=call_timeout_seconds)
        self._client = Client(self._http, headers)

    @contextlib.asynccontextmanager
    async def _asking(self, target: str) -> AsyncIterator[None]:
        """Turn the ways a call to the ingress fails into the answer the API gives for each."""
        try:
            yield
        except HttpError as error:
            raise refused(error.status_code, error.body, target) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise RestateProblem(
                503,
                f"Restate is unreachable ({type(error).__name__}: {error}); nothing was sent. Try again "
                "later with the same ids.",
                retry_after_seconds=5,
            ) from None
        except httpx.TimeoutException:
            raise RestateProblem(
                504,
                f"Restate did not answer {target} within {self.call_timeout_seconds:g} s. The request may "
                "still be processed: repeat it with the same ids to get its answer, it will not run twice.",
            ) from None
        except httpx.TransportError as error:
            raise RestateProblem(
                503,
                f"the connection to Restate broke ({type(error).__name__}: {error}). Repeat the request "
                "with the same ids: it will not run twice.",
                retry_after_seconds=1,
            ) from None

    async def reserve_product(self, product_id: str, reservation_id: str) -> bool:
        """True if this reservation got the product; a repeated reservation id repeats its answer."""
        target = f"{PRODUCT_SERVICE}/Reserve"
        async with self._asking(target):
            answer = await self._client.generic_call(
                PRODUCT_SERVICE, "Reserve", b"", key=path_segment(product_id), idempotency_key=reservation_id
            )
        reserved = json.loads(answer)
        if not isinstance(reserved, bool):
            raise RestateProblem(502, f"{target} answered {answer[:100]!r} instead of true or false")
        return reserved

    async def submit_task(self, task_id: str, description: str, delay: timedelta | None) -> Submission:
        target = f"{TASK_WORKER}/RunTask"
        # httpx, not the SDK: we report the send's status, and the SDK's delay lacks a unit (see above).
        params = {"delay": f"{round(delay.total_seconds() * 1000)}ms"} if delay else {}
        async with self._asking(target):
            response = await self._http.post(
                f"/{TASK_WORKER}/RunTask/send",
                params=params,
                headers={"idempotency-key": task_id},
                json={"id": task_id, "description": description},
            )
        answer = checked(response, refusal_of(target)).json()
        return Submission(invocation_id=answer["invocationId"], status=answer["status"])

    async def task_state(self, task_id: str) -> TaskState | None:
        """The task's state, or None if no task was submitted with this id (or it was forgotten)."""
        target = f"{TASK_WORKER}/RunTask"
        async with self._asking(target):
            response = await self._http.get(f"/restate/invocation/{TASK_WORKER}/RunTask/{path_segment(task_id)}/output")
        if response.status_code == 404:
            return None
        if response.status_code == OUTPUT_NOT_READY:
            return TaskState(done=False)
        return TaskState(done=True, result=checked(response, refusal_of(target)).json())

    async def upload(self, upload_id: str, email: str, wait_seconds: float) -> UploadOutcome:
        """Start (or find) the upload, wait up to ``wait_seconds`` for its URL, else have it emailed."""
        workflow = f"/{UPLOAD_WORKFLOW}/{path_segment(upload_id)}"
        target = f"{UPLOAD_WORKFLOW}/Run"
        async with self._asking(target):
            # httpx, not the SDK: `PreviouslyAccepted` tells the user this id was used before.
            submission = checked(await self._http.post(f"{workflow}/Run/send"), refusal_of(target)).json()
            url = await self._attach_within(f"/restate/workflow{workflow}/attach", wait_seconds, target)
        already_started = submission["status"] == "PreviouslyAccepted"
        if url is not None:
            return UploadOutcome(upload_id, url=url, emailed_to=None, already_started=already_started)
        async with self._asking(f"{UPLOAD_WORKFLOW}/ResultAsEmail"):
            # Keyed by the address: a retried request does not send a second email to it.
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

    async def _attach_within(self, attach_path: str, wait_seconds: float, target: str) -> str | None:
        """The workflow's result if it comes within ``wait_seconds``, else None (it runs on in Restate)."""
        if wait_seconds <= 0:
            return None  # httpx reads a zero timeout as "fail at once", even before connecting
        # httpx, not the SDK: the SDK client cannot attach. Only waiting for the answer is bounded by
        # the wait; connecting keeps the call timeout, so an unreachable Restate is not a slow upload.
        timeout = httpx.Timeout(self.call_timeout_seconds, read=wait_seconds)
        try:
            response = await self._http.get(attach_path, timeout=timeout)
        except httpx.ReadTimeout:
            return None
        url: str = checked(response, refusal_of(target)).json()
        return url

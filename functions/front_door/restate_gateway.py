"""The front door's calls to the Restate ingress, and what they mean when they fail.

The calls are the ingress flows (``flows.py``), which the command-line clients run too. What is the
front door's own is the answer its API gives when a call fails: a refusal by Restate becomes a 502,
or a 503 to retry when Restate is busy; an unreachable Restate a 503, one that does not answer in
time a 504 - each message saying whether the request can be repeated, which it always can, with
the same ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from functions.common.ingress import IngressError
from functions.front_door.flows import IngressFlows


class RestateProblem(Exception):
    """Restate could not be asked, or refused: ``status`` and ``message`` are what the API answers."""

    def __init__(self, status: int, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_seconds = retry_after_seconds


def refused(status: int, restate_message: str, target: str) -> RestateProblem:
    """The API's answer when the ingress answered ``status`` to a call of ``target``."""
    # Short enough to pass on to the API's caller.
    message = restate_message[:500] or "(no message)"
    if status in (401, 403):
        return RestateProblem(502, f"Restate refused the front door's API key ({status}): {message}")
    if status == 404:
        return RestateProblem(502, f"Restate does not know {target}; is its pattern deployed? ({message})")
    if status in (429, 503):
        return RestateProblem(503, f"Restate is busy ({status}): {message}; try again shortly", retry_after_seconds=1)
    if status >= 500:
        return RestateProblem(502, f"Restate failed to run {target} ({status}): {message}")
    return RestateProblem(status, message)


class RestateGateway(IngressFlows):
    """The ingress flows, each failure answered as the API answers it."""

    @contextlib.asynccontextmanager
    async def _calling(self, target: str) -> AsyncIterator[None]:
        try:
            async with super()._calling(target):
                yield
        except IngressError as error:
            raise refused(error.status_code, error.message, target) from None
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

"""What every caller of the Restate ingress shares, a Lambda function or a command-line client.

It ships in every bundle, and only the front door's has httpx: so httpx is named in type hints only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.common.restate_errors import restate_message

if TYPE_CHECKING:
    import httpx

DEFAULT_INGRESS_URL = "http://127.0.0.1:8080"
"""The local stack's ingress: where a caller goes when nothing names another."""


class IngressError(Exception):
    """The ingress refused a call of ``target``: Restate's status and its own words.

    Each caller words a refusal its own way: the front door maps Restate's statuses to answers of
    its API, the command-line clients report this error's message.
    """

    def __init__(self, status_code: int, body: str, target: str) -> None:
        self.status_code = status_code
        self.message = restate_message(body)
        self.target = target
        super().__init__(f"HTTP {status_code}: {self.message}")


def checked(response: httpx.Response, target: str) -> httpx.Response:
    """``response``, unless the ingress refused the call of ``target``: then :class:`IngressError` is raised."""
    if response.is_error:
        raise IngressError(response.status_code, response.text, target)
    return response

"""What every caller of the Restate ingress shares, a Lambda function or a command-line client.

It ships in every bundle, and only the front door's has httpx: so httpx is named in type hints only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

DEFAULT_INGRESS_URL = "http://127.0.0.1:8080"
"""The local stack's ingress: where a caller goes when nothing names another."""


def checked(response: httpx.Response, refusal: Callable[[httpx.Response], Exception]) -> httpx.Response:
    """``response``, unless the ingress refused the call: then ``refusal(response)`` is raised.

    Each caller words a refusal its own way: the front door maps Restate's statuses to answers of
    its API, the command-line clients report Restate's status and message.
    """
    if response.is_error:
        raise refusal(response)
    return response

"""What every caller of the Restate ingress shares, a Lambda function or a command-line client.

It ships in every bundle, and only the front door's has httpx: so httpx is named in type hints only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from functions.common.restate_errors import restate_message

if TYPE_CHECKING:
    import httpx

DEFAULT_INGRESS_URL = "http://127.0.0.1:8080"
"""The local stack's ingress: where a caller goes when nothing names another."""

Ingress = str | Iterable[str]
"""Where a caller finds the ingress: one URL, several separated by commas, or a sequence of them."""


def ingress_urls(ingress: Ingress) -> tuple[str, ...]:
    """Each URL of ``ingress``, in order and without a trailing slash; ValueError if one is not an http(s) URL.

    Several URLs are the nodes of one Restate cluster (``http://127.0.0.1:8080,http://127.0.0.1:18080``):
    a caller goes to the first and, when a node is gone, to the next (``functions/front_door/failover.py``).
    """
    given = ingress.split(",") if isinstance(ingress, str) else ingress
    urls = tuple(url.strip().rstrip("/") for url in given)
    if not urls or not all(urls):
        raise ValueError(f"no ingress URL in {ingress!r}: give one, or several separated by commas")
    for url in urls:
        if not is_http_url(url):
            raise ValueError(f"{url!r} is not an ingress URL: use http(s)://host[:port], several separated by commas")
    return urls


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it checks it: a port that is no number raises
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)


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

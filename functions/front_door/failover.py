"""Calls that survive a Restate node: given every node's ingress, a call that finds its node gone goes to the next.

Every node of a Restate cluster serves the whole cluster's ingress: a call may go to any node,
wherever its key's partition is led. When a node dies its ingress refuses connections and cuts
those it had, while the other nodes take its partitions over within seconds. A caller given the
nodes' URLs (``RESTATE_INGRESS_URL=http://127.0.0.1:8080,http://127.0.0.1:18080,...``) therefore
sends such a call again to the next node, and starts its later calls at the node that answered::

    POST /ProductService/1/Reserve, idempotency-key: r1 --> node 1: connection refused
                                                        --> node 2: true   (the next call starts here)

This is what the load balancer in front of a cluster does on AWS, where the front door is given
one URL and nothing here comes into play; the local stack gives it every node's.

Only a call that may reach Restate twice without being done twice is sent again:

* a read (``GET``: an invocation's ``/output``, an ``attach``);
* a call with an ``idempotency-key``: the cluster runs it once per key, and the same call on
  another node gets the first one's answer, or waits for it while it runs;
* a call its caller marks with :data:`REPEATABLE` because it is idempotent without a key: a
  workflow's ``Run`` (once per workflow key; restate-server refuses an idempotency key there) and
  the read-only ``shared`` handlers.

Any other call fails as it would with one URL: a connection that broke may have delivered it, and
sending it again could do it twice. Callers give such a call a key first (the command-line clients
give each call one, kept across its attempts). A node counts as gone when the connection was
refused or could not be made in time (nothing was sent) or broke before the answer (something may
have been: hence the key). A call that is only slow (a read timeout) is not sent elsewhere: its
node still runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import httpx

logger = logging.getLogger(__name__)

REPEATABLE = "restate.repeatable"
"""The request extension that marks a call idempotent without a key: ``extensions={REPEATABLE: True}``."""

NODE_GONE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What a caller sees of a node that is gone: refused, unreachable, or cut off before the answer."""


def may_repeat(request: httpx.Request) -> bool:
    """Whether ``request`` may be sent to another node after its connection failed (see the module's list)."""
    return (
        request.method in ("GET", "HEAD")
        or "idempotency-key" in request.headers
        or request.extensions.get(REPEATABLE) is True
    )


class Nodes:
    """The nodes' ingress URLs, and the one a call goes to first: the node that answered last."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("no ingress URL")
        self.urls = [httpx.URL(url) for url in urls]
        self._first = 0

    def targets(self, request: httpx.Request) -> list[tuple[int, httpx.URL]]:
        """Where ``request`` goes, in turn: each node (from the first) if it may be repeated, else its own URL alone.

        ``request`` is built on the first node's URL (the client's base URL); one aimed elsewhere is
        sent where it is aimed.
        """
        relative = self._relative_path(request.url)
        if relative is None:
            return [(-1, request.url)]
        count = len(self.urls) if may_repeat(request) else 1
        order = [(self._first + step) % len(self.urls) for step in range(count)]
        return [(node, self.urls[node].copy_with(raw_path=self._path_of(node) + relative)) for node in order]

    def answered(self, node: int) -> None:
        if node >= 0:
            self._first = node

    def _path_of(self, node: int) -> bytes:
        return self.urls[node].raw_path.rstrip(b"/")

    def _relative_path(self, url: httpx.URL) -> bytes | None:
        """The path (and query) of ``url`` below the first node's URL, or None if it is aimed elsewhere."""
        first = self.urls[0]
        base = self._path_of(0)
        if (url.scheme, url.host, url.port) != (first.scheme, first.host, first.port):
            return None
        if not url.raw_path.startswith(base):
            return None
        return url.raw_path[len(base) :]


def aim(request: httpx.Request, url: httpx.URL) -> None:
    request.url = url
    request.headers["host"] = url.netloc.decode("ascii")


def passing_over(request: httpx.Request, gone: Exception, to: httpx.URL) -> None:
    key = request.headers.get("idempotency-key")
    logger.warning(
        "%s is gone (%s: %s); sending %s %s to %s%s",
        request.url.copy_with(raw_path=b"/"),
        type(gone).__name__,
        gone,
        request.method,
        request.url.path,
        to.copy_with(raw_path=b"/"),
        f" with the same idempotency key {key!r}" if key else "",
    )


class Attempt:
    """One node tried for a request: used as ``with attempt:``, a gone node passes the request on to the next.

    The one rule of both transports (sync and async): the last node's failure is the caller's, an
    earlier one is logged and swallowed, and a node that answered is where the next request starts.
    """

    def __init__(self, nodes: Nodes, request: httpx.Request, node: int, next_url: httpx.URL | None) -> None:
        self.nodes, self.request, self.node, self.next_url = nodes, request, node, next_url

    def answered(self, response: httpx.Response) -> httpx.Response:
        self.nodes.answered(self.node)
        return response

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: type[BaseException] | None, gone: BaseException | None, _trace: object) -> bool:
        if gone is None or self.next_url is None or not isinstance(gone, NODE_GONE):
            return False
        passing_over(self.request, gone, self.next_url)
        return True


def attempts(nodes: Nodes, request: httpx.Request) -> Iterator[Attempt]:
    """The request aimed at each node it may go to, in turn."""
    targets = nodes.targets(request)
    for index, (node, url) in enumerate(targets):
        aim(request, url)
        following = targets[index + 1][1] if index + 1 < len(targets) else None
        yield Attempt(nodes, request, node, following)


_NODES: dict[tuple[str, ...], Nodes] = {}


def nodes_of(urls: Sequence[str]) -> Nodes:
    """The process's one :class:`Nodes` of these URLs: a client opened later starts at the node that answered last.

    The command-line clients and the demos open a client per command or helper; without this each
    would first knock at a node known to be gone.
    """
    return _NODES.setdefault(tuple(urls), Nodes(urls))


class FailoverTransport(httpx.AsyncBaseTransport):
    """An httpx transport over the nodes' ingress URLs: a repeatable call whose node is gone goes to the next."""

    def __init__(self, nodes: Nodes | Sequence[str], transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.nodes = nodes if isinstance(nodes, Nodes) else Nodes(nodes)
        # One connection pool serves every node: it keeps connections per host and port.
        self._transport = transport or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in attempts(self.nodes, request):
            with attempt:
                return attempt.answered(await self._transport.handle_async_request(request))
        raise AssertionError("the last attempt raises or answers")

    async def aclose(self) -> None:
        await self._transport.aclose()


class SyncFailoverTransport(httpx.BaseTransport):
    """:class:`FailoverTransport` for httpx's synchronous client (the command-line clients')."""

    def __init__(self, nodes: Nodes | Sequence[str], transport: httpx.BaseTransport | None = None) -> None:
        self.nodes = nodes if isinstance(nodes, Nodes) else Nodes(nodes)
        self._transport = transport or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in attempts(self.nodes, request):
            with attempt:
                return attempt.answered(self._transport.handle_request(request))
        raise AssertionError("the last attempt raises or answers")

    def close(self) -> None:
        self._transport.close()


def async_client(urls: Sequence[str], headers: Mapping[str, str], timeout: float | httpx.Timeout) -> httpx.AsyncClient:
    """An async client of the ingress at ``urls``, the nodes of one cluster; its base URL is the first."""
    if len(urls) == 1:
        return httpx.AsyncClient(base_url=urls[0], headers=headers, timeout=timeout)
    # trust_env=False: httpx mounts a proxy from the environment before the transport, so calls would pass it by.
    transport = FailoverTransport(nodes_of(urls))
    return httpx.AsyncClient(base_url=urls[0], headers=headers, timeout=timeout, transport=transport, trust_env=False)


def sync_client(urls: Sequence[str], headers: Mapping[str, str], timeout: float | httpx.Timeout) -> httpx.Client:
    """:func:`async_client`, synchronous: the command-line clients'."""
    if len(urls) == 1:
        return httpx.Client(base_url=urls[0], headers=headers, timeout=timeout)
    transport = SyncFailoverTransport(nodes_of(urls))
    return httpx.Client(base_url=urls[0], headers=headers, timeout=timeout, transport=transport, trust_env=False)

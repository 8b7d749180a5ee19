"""Simulated transient failures that happen once, so tests and demos can count on a retry.

A handler cannot tell a first attempt from a retry: the SDK does not expose Restate's retry count
(``ctx.request().attempt_headers`` carries the protocol's content type, the invocation id, the
object key and the cluster name), and anything the handler journals before it fails - a state
read or write, a ``ctx.run`` - is replayed with exactly the same values on the retry, which is
the point of durable execution. Memory outside the journal is what differs between attempts.

So the memory of "this invocation already failed" lives in the execution environment. On AWS a
retry may land in another execution environment, which then fails once too ("once per
environment"); locally a retry normally reuses the environment that just became idle.
"""

from __future__ import annotations


class FailOncePerEnvironment:
    """Remembers, in this execution environment, which invocations already had their failure."""

    def __init__(self) -> None:
        self._failed: set[str] = set()

    def should_fail(self, invocation_id: str) -> bool:
        """True the first time an invocation asks, False on every later attempt here."""
        if invocation_id in self._failed:
            return False
        self._failed.add(invocation_id)
        return True

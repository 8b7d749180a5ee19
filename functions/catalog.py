"""The pattern catalog: the one place that lists every pattern.

The CDK app builds one Lambda function per entry, registers it with Restate and wires its Kafka
subscriptions; the local stack serves the same entries from the local Lambda runtime and
registers them the same way. Adding a pattern is a folder in ``functions/`` plus one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Subscription:
    """Restate consumes ``topic`` and invokes ``service/handler`` once per record (key = record key)."""

    topic: str
    service: str
    handler: str

    @property
    def sink(self) -> str:
        return f"service://{self.service}/{self.handler}"


@dataclass(frozen=True)
class Pattern:
    name: str
    """Folder in ``functions/``, Lambda function name, test module ``tests/test_<name>.py``."""
    title: str
    services: tuple[str, ...]
    """Every Restate service the function serves; registration checks they all came back."""
    subscriptions: tuple[Subscription, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict)
    """Environment variables (with their defaults) the pattern reads; CDK and the local stack set them."""
    timeout_seconds: int = 60
    """Lambda timeout: longer than the longest single step (durable sleeps suspend the function)."""
    memory_mb: int = 512
    private_services: tuple[str, ...] = ()
    """Services only other services may call (not exposed on the ingress)."""

    @property
    def handler(self) -> str:
        """The Lambda handler string: every pattern exposes ``app`` from its ``service`` module."""
        return f"functions.{self.name}.service.app"


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        name="durable_rpc",
        title="Durable RPC, idempotency and concurrency",
        services=("ProductService",),
    ),
    Pattern(
        name="delayed_queue",
        title="(Delayed) message queue",
        services=("AsyncTaskWorker",),
    ),
)


def pattern_named(name: str) -> Pattern:
    for pattern in PATTERNS:
        if pattern.name == name:
            return pattern
    known = ", ".join(p.name for p in PATTERNS)
    raise KeyError(f"no pattern named {name!r}; the catalog has: {known}")


def all_subscriptions() -> tuple[Subscription, ...]:
    return tuple(sub for pattern in PATTERNS for sub in pattern.subscriptions)

"""A key filled to its byte bound at the largest accepted settings still takes its next call, through Lambda.

A stack of its own runs the two patterns that keep a history per key, with ``FEED_MAX_POSTS`` and
``PACKAGE_MAX_LOCATIONS`` at the largest values their settings accept, and every entry is written
at its maximum length in 4-byte characters: the worst a user can send. Before the byte bound, such
a feed outgrew Lambda's 6 MB payload and the user's next post retried forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.catalog import pattern_named
from functions.common.state_size import encoded_size
from functions.event_enrichment import service as enrichment
from functions.event_transactions import service as transactions
from local.stack import LocalStack, StackPorts
from tests.stack_setup import retrying_invocations
from tests.unit.test_state_size import WIDE

LARGEST_SETTINGS = {
    "FEED_MAX_POSTS": "400",
    "PACKAGE_MAX_LOCATIONS": "1000",
    "MODERATION_MIN_PENDING_POLLS": "0",  # moderation decides at once: the bound is about the feed, not the wait
    "MODERATION_MAX_PENDING_POLLS": "0",
}
QUEUE_SECONDS = 600
"""A synchronous call waits for every call of its key queued before it, up to ~1,000 of them."""


@pytest.fixture(scope="module")
def bounds_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    started = LocalStack(
        state_dir=tmp_path_factory.mktemp("bounds-stack"),
        ports=StackPorts.random(),
        patterns=(pattern_named("event_transactions"), pattern_named("event_enrichment")),
        with_kafka=False,
        http_apis=(),
        function_settings=LARGEST_SETTINGS,
    ).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def ingress(bounds_stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bounds_stack.ingress_url, timeout=QUEUE_SECONDS) as client:
        yield client


def call(ingress: httpx.Client, path: str, body: dict[str, Any] | None = None) -> Any:
    response = ingress.post(path, json=body) if body is not None else ingress.post(path)
    assert response.status_code == 200, response.text[:500]
    return response.json() if response.content else None


def send_all(ingress: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        response = ingress.post(f"{path}/send", json=body)
        assert response.status_code == 202, response.text[:500]


def test_a_feed_full_of_the_longest_posts_keeps_taking_posts(bounds_stack, ingress, unique):
    def longest_post(n: int) -> dict[str, str]:
        return {
            "content": f"{n:05d}" + WIDE * (transactions.MAX_CONTENT_CHARACTERS - 5),
            "metadata": WIDE * transactions.MAX_METADATA_CHARACTERS,
        }

    one_entry = encoded_size(
        transactions.FeedEntry(post_id="x" * 36, content=longest_post(0)["content"], created_at=1e9, published_at=1e9)
    )
    sent = transactions.FEED_BUDGET // one_entry + 5  # past the byte bound, far below FEED_MAX_POSTS
    path = f"/UserFeed/{unique}/ProcessPost"
    send_all(ingress, path, [longest_post(n) for n in range(sent)])

    # Queued behind every post sent before it, so it answers only once the feed is at its bound.
    entry = call(ingress, path, longest_post(sent))

    posts = call(ingress, f"/UserFeed/{unique}/GetFeed")["posts"]
    assert posts[-1]["post_id"] == entry["post_id"]
    numbers = [int(post["content"][:5]) for post in posts]
    assert numbers == list(range(sent + 1 - len(numbers), sent + 1)), "the newest posts, in order"
    assert len(numbers) < sent, "the byte bound dropped the oldest posts"
    assert encoded_size(transactions.Feed.model_validate({"posts": posts})) <= transactions.FEED_BUDGET
    assert not retrying_invocations(bounds_stack)


def test_a_package_full_of_the_longest_updates_keeps_taking_updates(bounds_stack, ingress, unique):
    max_locations = int(LARGEST_SETTINGS["PACKAGE_MAX_LOCATIONS"])

    def longest_update(n: int) -> dict[str, str]:
        return {"timestamp": f"{n:05d}" + WIDE * 95, "location": WIDE * 300}

    # Filled through the handler, a minute's work: Restate's state API refuses a body this large.
    call(ingress, f"/PackageTracker/{unique}/RegisterPackage", {"finalDestination": WIDE * 300})
    send_all(ingress, f"/PackageTracker/{unique}/UpdateLocation", [longest_update(n) for n in range(max_locations)])

    call(ingress, f"/PackageTracker/{unique}/UpdateLocation", longest_update(max_locations))

    info = call(ingress, f"/PackageTracker/{unique}/GetPackageInfo")
    numbers = [int(update["timestamp"][:5]) for update in info["locations"]]
    assert numbers == list(range(1, max_locations + 1)), "the newest updates, in order"
    assert encoded_size(enrichment.PackageInfo.model_validate(info)) <= enrichment.PACKAGE_BUDGET
    assert not retrying_invocations(bounds_stack)

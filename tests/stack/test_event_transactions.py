"""UserFeed fed by a real Kafka broker through a Restate subscription."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local.produce import produce
from tests.polling import wait_until

pytestmark = pytest.mark.kafka

TOPIC = "social-media-posts"


def feed(kafka_stack, user: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{kafka_stack.ingress_url}/UserFeed/{user}/GetFeed", timeout=30)
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()["posts"]
    return entries


def post(content: str) -> str:
    return json.dumps({"content": content, "metadata": "public"})


def test_the_example_posts_each_user_in_order_users_in_parallel(kafka_stack, unique):
    user1, user2 = f"userid1-{unique}", f"userid2-{unique}"
    produce(
        kafka_stack.kafka_bootstrap,
        TOPIC,
        [
            (user1, post("Hi! This is my first post!")),
            (user2, post("Hi! This is my first post!")),
            (user1, post("Hi! This is my second post!")),
        ],
    )
    feed1 = wait_until(lambda: feed(kafka_stack, user1), "user1's two posts", accept=lambda posts: len(posts) == 2)
    feed2 = wait_until(lambda: feed(kafka_stack, user2), "user2's post", accept=lambda posts: len(posts) == 1)

    assert [entry["content"] for entry in feed1] == ["Hi! This is my first post!", "Hi! This is my second post!"]
    first, second = feed1
    # One user's posts are processed one after the other...
    assert second["created_at"] >= first["published_at"]
    # ...while the other user's post did not wait for user1's slow one (moderation takes two polls).
    assert feed2[0]["created_at"] < first["published_at"]
    # Each post was created once and waited for moderation (durable sleeps) before it was published.
    assert len({first["post_id"], second["post_id"], feed2[0]["post_id"]}) == 3
    assert all(entry["published_at"] > entry["created_at"] for entry in [*feed1, *feed2])


def test_bad_post_over_http_is_a_terminal_400_naming_the_field(kafka_stack, unique):
    response = httpx.post(f"{kafka_stack.ingress_url}/UserFeed/{unique}/ProcessPost", json={"content": "x"}, timeout=30)
    assert response.status_code == 400
    assert "metadata" in response.json()["message"]


def test_a_malformed_record_fails_alone_and_later_records_of_the_user_are_processed(kafka_stack, unique):
    user = f"user-{unique}"
    produce(kafka_stack.kafka_bootstrap, TOPIC, [(user, '{"content": 1}'), (user, post("after the bad one"))])
    entries = wait_until(lambda: feed(kafka_stack, user), "the good post", accept=lambda posts: len(posts) == 1)
    assert entries[0]["content"] == "after the bad one"


def test_a_feed_keeps_its_newest_posts_so_its_state_stays_bounded(kafka_stack, unique):
    # FEED_MAX_POSTS is 3 in the tests (100 by default); posts over HTTP, one after the other.
    for n in range(4):
        response = httpx.post(
            f"{kafka_stack.ingress_url}/UserFeed/{unique}/ProcessPost",
            json={"content": f"post {n}", "metadata": "public"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
    assert [entry["content"] for entry in feed(kafka_stack, unique)] == ["post 1", "post 2", "post 3"]

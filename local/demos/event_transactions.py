"""The feed scenario of `make demo`: three posts of two users through Kafka; each user's in order, users in parallel."""

from __future__ import annotations

import json
import time
import uuid

from local.clients import Ingress
from local.clients.event_transactions import user_feed
from local.produce import DEFAULT_BOOTSTRAP, produce

TOPIC = "social-media-posts"
FIRST, SECOND = "Hi! This is my first post!", "Hi! This is my second post!"


def run_demo(ingress: Ingress, bootstrap: str = DEFAULT_BOOTSTRAP, timeout: float = 120.0) -> str:
    run = uuid.uuid4().hex[:8]
    user1, user2 = f"userid1-{run}", f"userid2-{run}"
    posts = [(user1, FIRST), (user2, FIRST), (user1, SECOND)]
    produce(bootstrap, TOPIC, [(user, json.dumps({"content": text, "metadata": "public"})) for user, text in posts])

    # Moderation polls every 5 s by default, one to three times per post.
    deadline = time.monotonic() + timeout
    while True:
        feed1, feed2 = user_feed(ingress, user1), user_feed(ingress, user2)
        if len(feed1) == 2 and len(feed2) == 1:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"feeds incomplete after {timeout:.0f} s: {user1}={feed1}, {user2}={feed2}")
        time.sleep(0.5)
    if [post["content"] for post in feed1] != [FIRST, SECOND]:
        raise AssertionError(f"{user1}'s posts out of order: {feed1}")
    if feed2[0]["created_at"] >= feed1[0]["published_at"]:
        raise AssertionError(f"{user2}'s post waited for {user1}'s: {feed1} {feed2}")
    return f"{user1}'s two posts in order; {user2}'s post ran alongside {user1}'s first"

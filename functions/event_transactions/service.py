"""Transactional event processing: Kafka events that update other systems, durably and in order.

Restate subscribes to the Kafka topic ``social-media-posts`` and invokes ``UserFeed/ProcessPost``
once per record, on the virtual object named by the record's key (the user id)::

    Kafka  social-media-posts  (key = user id)
       |  Restate's subscription: one invocation per record, queued per key
       v
    UserFeed[userid1].ProcessPost(post)
       1. create the post               (journaled: a retry does not create a second post)
       2. moderation pending?  -> durable sleep, poll again   (the Lambda suspends meanwhile)
       3. moderation done      -> update the user's feed      (state, written with the journal)

Because invocations queue per key, userid1's second post waits for its first, while userid2's
posts run in parallel: a slow post blocks only its own user, never the partition. Because every
step is journaled, a crash (or a Lambda timeout) in the middle resumes at the step it reached,
with the same post id, instead of creating the post again.

Waiting for moderation is a durable sleep, so no Lambda runs (or is billed) while it waits.
``MODERATION_POLL_SECONDS`` sets the poll interval; the simulated moderation stays pending for a
random number of polls between ``MODERATION_MIN_PENDING_POLLS`` and ``MODERATION_MAX_PENDING_POLLS``
(all three in settings.py).
"""

from __future__ import annotations

import time

import restate
from pydantic import BaseModel, ConfigDict, Field

from functions.common.logs import pattern_logger
from functions.common.state_size import newest_that_fit, state_budget
from functions.common.validation import pattern_app, typed_handler
from functions.event_transactions.settings import Settings
from functions.event_transactions.social_backend import create_post, moderation_status

logger = pattern_logger(__name__)

SETTINGS = Settings.current()
POLL_INTERVAL = SETTINGS.poll_interval
MIN_PENDING_POLLS = SETTINGS.min_pending_polls
MAX_PENDING_POLLS = max(MIN_PENDING_POLLS, SETTINGS.max_pending_polls)
MAX_FEED_POSTS = SETTINGS.max_feed_posts
MAX_CONTENT_CHARACTERS = 10_000
MAX_METADATA_CHARACTERS = 1_000
JOURNAL_BYTES = 128 * 1024
"""What one ProcessPost's journal and output take besides the feed, at most: the entry it returns
(40 KB: ``MAX_CONTENT_CHARACTERS`` of up to 4 bytes) and a few hundred bytes per moderation poll
(as many polls as ``MODERATION_MAX_PENDING_POLLS``'s upper limit in settings.py allows)."""
FEED_BUDGET = state_budget(JOURNAL_BYTES)
"""A feed keeps its newest posts within these bytes (about 2.2 MB) as well as within ``FEED_MAX_POSTS``:
a count alone does not bound bytes, and a feed past Lambda's payload limit would stall its user."""

FEED = "feed"


class SocialMediaPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_CONTENT_CHARACTERS)
    metadata: str = Field(max_length=MAX_METADATA_CHARACTERS)


class FeedEntry(BaseModel):
    post_id: str
    content: str
    created_at: float
    """When the post was created (journaled), so readers can see the order of processing."""
    published_at: float
    """When the post reached the feed, after moderation."""


class Feed(BaseModel):
    posts: list[FeedEntry] = []


user_feed = restate.VirtualObject("UserFeed")


@typed_handler(user_feed.handler, "ProcessPost")
async def process_post(ctx: restate.ObjectContext, post: SocialMediaPost) -> FeedEntry:
    user_id = ctx.key()

    created = await ctx.run_typed("create post", create_post, user_id=user_id, content=post.content)
    post_id = created.post_id
    # The simulated moderation service decides now how long it will stay pending; drawing it from
    # the journal's random source keeps that decision stable across retries.
    pending_polls = ctx.random().randint(MIN_PENDING_POLLS, MAX_PENDING_POLLS)

    polls = 0
    while (
        await ctx.run_typed(
            "moderation status", moderation_status, post_id=post_id, polls=polls, pending_polls=pending_polls
        )
        == "PENDING"
    ):
        logger.info("Content moderation for post %s is still pending... checking again in %s", post_id, POLL_INTERVAL)
        await ctx.sleep(POLL_INTERVAL)
        polls += 1

    published_at = await ctx.run_typed("publish time", now)
    entry = FeedEntry(post_id=post_id, content=post.content, created_at=created.created_at, published_at=published_at)
    feed = await ctx.get(FEED, type_hint=Feed) or Feed()
    # Newest posts only, by count and by bytes: the state of one key must keep fitting into a Lambda invocation.
    feed.posts = newest_that_fit([*feed.posts, entry][-MAX_FEED_POSTS:], FEED_BUDGET, empty_state=Feed())
    ctx.set(FEED, feed)
    logger.info("Updated the feed of user %s with post %s", user_id, post_id)
    return entry


@user_feed.handler("GetFeed", kind="shared")
async def get_feed(ctx: restate.ObjectSharedContext) -> Feed:
    """The user's newest published posts (at most ``FEED_MAX_POSTS``, within ``FEED_BUDGET`` bytes), oldest first."""
    return await ctx.get(FEED, type_hint=Feed) or Feed()


def now() -> float:
    return time.time()


app = pattern_app([user_feed])

"""The event_transactions pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from functions.common.settings import PatternSettings, Seconds


class Settings(PatternSettings):
    poll_interval: Seconds = Field(timedelta(seconds=5), alias="MODERATION_POLL_SECONDS")
    """The durable sleep between two polls of the moderation service."""
    min_pending_polls: int = Field(1, ge=0, le=100, alias="MODERATION_MIN_PENDING_POLLS")
    """The fewest times the simulated moderation answers "pending" before it decides."""
    max_pending_polls: int = Field(3, ge=0, le=100, alias="MODERATION_MAX_PENDING_POLLS")
    """The most times the simulated moderation answers "pending" before it decides (drawn at random
    from ``MODERATION_MIN_PENDING_POLLS`` up). Each poll adds to the post's journal, which rides along
    in every invocation of it: bounded too."""
    max_feed_posts: int = Field(100, ge=1, le=400, alias="FEED_MAX_POSTS")
    """A feed keeps its newest posts, at most this many, and only as many as fit into ``FEED_BUDGET``
    bytes (service.py): Restate hands an object's state to every invocation of it, and a Lambda
    invocation carries at most 6 MB, so a count alone is no bound (as many posts as the upper limit
    allows, each of ``MAX_CONTENT_CHARACTERS`` in 4-byte characters, would take well over that)."""

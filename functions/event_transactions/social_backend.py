"""Stand-ins for the social media backend the feed talks to: it creates posts and moderates them.

Both are actions of journaled steps of ``UserFeed/ProcessPost``, so they only log: a real backend
would be called here, and would run again only if a step crashed before its result was journaled.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel

from functions.common.logs import pattern_logger

logger = pattern_logger(__name__)

ModerationStatus = Literal["PENDING", "DONE"]


class CreatedPost(BaseModel):
    post_id: str
    created_at: float


def create_post(user_id: str, content: str) -> CreatedPost:
    """The backend's "create post" call."""
    created = CreatedPost(post_id=str(uuid.uuid4()), created_at=time.time())
    logger.info("Created post %s for user %s with content: %s", created.post_id, user_id, content)
    return created


def moderation_status(post_id: str, polls: int, pending_polls: int) -> ModerationStatus:
    """The moderation service: pending for its first ``pending_polls`` polls, then done."""
    if polls < pending_polls:
        return "PENDING"
    logger.info("Content moderation for post %s is done", post_id)
    return "DONE"

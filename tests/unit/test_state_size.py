"""The byte bound of a key's state: exact trimming, and room for it in a Lambda invoke at every accepted setting."""

from __future__ import annotations

import annotated_types
from pydantic import BaseModel

from functions.common.settings import PatternSettings
from functions.common.state_size import (
    EVENT_ENVELOPE_BYTES,
    LAMBDA_PAYLOAD_BYTES,
    MAX_INPUT_BYTES,
    STATE_COPIES,
    base64_size,
    encoded_size,
    newest_that_fit,
    restate_message_bytes,
    state_budget,
)
from functions.event_enrichment import service as enrichment
from functions.event_enrichment.settings import Settings as EnrichmentSettings
from functions.event_transactions import service as transactions
from functions.event_transactions.settings import Settings as TransactionSettings

WIDE = "\U0001f600"
"""A character that takes 4 bytes in UTF-8, the most any character takes."""


class Entry(BaseModel):
    text: str


class Holder(BaseModel):
    name: str
    entries: list[Entry] = []


def largest_accepted(model: type[PatternSettings], field: str) -> int:
    limits = [item.le for item in model.model_fields[field].metadata if isinstance(item, annotated_types.Le)]
    assert limits, f"{model.__name__}.{field} accepts any size: a count without an upper bound bounds nothing"
    largest = limits[0]
    assert isinstance(largest, int)
    return largest


def test_the_newest_entries_that_fit_are_kept_and_one_more_would_not_fit():
    entries = [Entry(text=f"{n}{WIDE * n}") for n in range(50)]
    empty = Holder(name=WIDE * 10)
    budget = 2_000

    kept = newest_that_fit(entries, budget, empty_state=empty)

    assert kept == entries[-len(kept) :] and 0 < len(kept) < len(entries)
    assert encoded_size(empty.model_copy(update={"entries": kept})) <= budget
    one_more = [entries[-len(kept) - 1], *kept]
    assert encoded_size(empty.model_copy(update={"entries": one_more})) > budget


def test_everything_is_kept_while_it_fits_and_nothing_when_even_the_rest_of_the_state_does_not():
    entries = [Entry(text="a"), Entry(text="b")]
    assert newest_that_fit(entries, 10_000, empty_state=Holder(name="x")) == entries
    assert newest_that_fit(entries, 10, empty_state=Holder(name="longer than ten bytes")) == []


def test_a_state_at_its_budget_fits_beside_the_largest_body_and_the_journal_in_each_direction():
    capacity = restate_message_bytes()
    for budget, journal_bytes in [
        (transactions.FEED_BUDGET, transactions.JOURNAL_BYTES),
        (enrichment.PACKAGE_BUDGET, enrichment.JOURNAL_BYTES),
    ]:
        assert budget == state_budget(journal_bytes)
        request = budget + MAX_INPUT_BYTES + journal_bytes
        response = STATE_COPIES * budget + journal_bytes
        assert max(request, response) <= capacity
        assert base64_size(capacity) + EVENT_ENVELOPE_BYTES <= LAMBDA_PAYLOAD_BYTES


def test_a_feed_at_the_largest_accepted_count_of_the_longest_posts_stays_within_its_budget():
    max_posts = largest_accepted(TransactionSettings, "max_feed_posts")
    longest = WIDE * transactions.MAX_CONTENT_CHARACTERS
    posts = [
        transactions.FeedEntry(post_id=f"{n:036d}", content=longest, created_at=1e9 + n, published_at=1e9 + n)
        for n in range(max_posts + 1)
    ]
    assert encoded_size(transactions.Feed(posts=posts)) > 2 * LAMBDA_PAYLOAD_BYTES, "the count alone does not bound"

    kept = newest_that_fit(posts[-max_posts:], transactions.FEED_BUDGET, empty_state=transactions.Feed())

    assert kept == posts[-len(kept) :]
    assert encoded_size(transactions.Feed(posts=kept)) <= transactions.FEED_BUDGET
    # The entry it returns, and a journal of the most moderation polls, leave a wide margin in JOURNAL_BYTES.
    max_polls = largest_accepted(TransactionSettings, "max_pending_polls")
    assert encoded_size(posts[0]) + max_polls * 300 < transactions.JOURNAL_BYTES / 1.5


def test_a_package_at_the_largest_accepted_count_of_the_longest_updates_stays_within_its_budget():
    max_locations = largest_accepted(EnrichmentSettings, "max_locations")
    updates = [
        enrichment.LocationUpdate(timestamp=f"{n:04d}" + WIDE * 96, location=WIDE * 300) for n in range(max_locations)
    ]
    empty = enrichment.PackageInfo(final_destination=WIDE * 300)

    kept = newest_that_fit(updates, enrichment.PACKAGE_BUDGET, empty_state=empty)

    assert encoded_size(empty.model_copy(update={"locations": kept})) <= enrichment.PACKAGE_BUDGET
    assert kept == updates, "the count binds first for packages (settings.py)"

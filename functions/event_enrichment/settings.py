"""The event_enrichment pattern's settings: the one place of their variables, defaults and limits."""

from __future__ import annotations

from pydantic import Field

from functions.common.settings import PatternSettings


class Settings(PatternSettings):
    max_locations: int = Field(100, ge=1, le=1000, alias="PACKAGE_MAX_LOCATIONS")
    """A package keeps its newest location updates, at most this many, and only as many as fit into
    ``PACKAGE_BUDGET`` bytes (service.py): Restate hands an object's state to every invocation of it,
    and a Lambda invocation carries at most 6 MB. Updates have at most 400 characters (1.6 KB in
    4-byte characters), so even as many as the upper limit allows fit the budget: today the count binds
    first."""

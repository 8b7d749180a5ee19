"""Event enrichment / joins: one stateful object per package, fed by RPC and by Kafka.

``PackageTracker`` is a virtual object keyed by package id, a small digital twin of a package.
It is registered over HTTP, its location updates arrive as Kafka records keyed by package id,
and anyone can read the joined result over HTTP::

    HTTP   POST PackageTracker/package123/RegisterPackage {"finalDestination": ...}
                                      |
    Kafka  package-location-updates   v                 state "package-info":
           key package123  ---> PackageTracker[package123]   {"finalDestination": ...,
           (Restate subscription)  .UpdateLocation             "locations": [{...}, {...}]}
                                      |
    HTTP   GET  PackageTracker/package123/GetPackageInfo  <---+   (shared: reads while updates queue)

Restate delivers the records of one package in order and one at a time, so the location list
keeps the arrival order without locks. An update for a package nobody registered is a terminal
error: that record's invocation fails once and is not retried, and the subscription goes on with
the next records, for this key and all others.
"""

from __future__ import annotations

import restate
from pydantic import BaseModel, ConfigDict, Field

from functions.common.logs import pattern_logger
from functions.common.state_size import newest_that_fit, state_budget
from functions.common.validation import pattern_app, typed_handler
from functions.event_enrichment.settings import Settings

logger = pattern_logger(__name__)

PACKAGE_INFO = "package-info"
MAX_LOCATIONS = Settings.current().max_locations
JOURNAL_BYTES = 16 * 1024
"""What one call's journal and output take besides the package's state, at most: a few entries."""
PACKAGE_BUDGET = state_budget(JOURNAL_BYTES)
"""A package keeps its newest locations within these bytes as well as within ``PACKAGE_MAX_LOCATIONS``."""


class PackageRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    final_destination: str = Field(alias="finalDestination", min_length=1, max_length=300)


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: str = Field(min_length=1, max_length=100)
    location: str = Field(min_length=1, max_length=300)


class PackageInfo(BaseModel):
    final_destination: str = Field(alias="finalDestination", serialization_alias="finalDestination")
    locations: list[LocationUpdate] = []

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


package_tracker = restate.VirtualObject("PackageTracker")


@typed_handler(package_tracker.handler, "RegisterPackage")
async def register_package(ctx: restate.ObjectContext, registration: PackageRegistration) -> None:
    ctx.set(PACKAGE_INFO, PackageInfo(final_destination=registration.final_destination))


@typed_handler(package_tracker.handler, "UpdateLocation")
async def update_location(ctx: restate.ObjectContext, update: LocationUpdate) -> None:
    info = await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
    if info is None:
        raise restate.TerminalError(f"package {ctx.key()} is not registered", status_code=404)
    # Newest updates only, by count and by bytes: the state of one key must keep fitting into a Lambda invocation.
    newest = [*info.locations, update][-MAX_LOCATIONS:]
    without_locations = PackageInfo(final_destination=info.final_destination)
    info.locations = newest_that_fit(newest, PACKAGE_BUDGET, empty_state=without_locations)
    ctx.set(PACKAGE_INFO, info)
    logger.info("Package %s is at %s (%s)", ctx.key(), update.location, update.timestamp)


@package_tracker.handler("GetPackageInfo", kind="shared")
async def get_package_info(ctx: restate.ObjectSharedContext) -> PackageInfo:
    info = await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
    if info is None:
        raise restate.TerminalError(f"package {ctx.key()} is not registered", status_code=404)
    return info


app = pattern_app([package_tracker])

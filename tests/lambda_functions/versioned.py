"""A function whose code version is a setting, so that tests can tell which version Restate invokes.

``CODE_VERSION`` stands for the code a published Lambda version carries: the deploy-lifecycle tests
publish the same module several times with different values, as a deploy publishes new code.

* ``Versioned/Which`` answers the version at once.
* ``Versioned/WhichAfter`` sleeps durably first (the invocation suspends, then resumes on the
  deployment it started on) and answers the version it finished on.
* ``Tally/Add`` counts what it receives per key (one Kafka record each), ``Tally/Seen`` lists it.
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate

versioned = restate.Service("Versioned")
tally = restate.VirtualObject("Tally")


@versioned.handler("Which")
async def which(ctx: restate.Context) -> str:
    return os.environ.get("CODE_VERSION", "unversioned")


@versioned.handler("WhichAfter")
async def which_after(ctx: restate.Context, seconds: float) -> str:
    await ctx.sleep(timedelta(seconds=seconds))
    return os.environ.get("CODE_VERSION", "unversioned")


@tally.handler("Add")
async def add(ctx: restate.ObjectContext, record: str) -> None:
    seen = await ctx.get("seen", type_hint=list[str]) or []
    ctx.set("seen", [*seen, record])


@tally.handler("Seen", kind="shared")
async def seen(ctx: restate.ObjectSharedContext) -> list[str]:
    return await ctx.get("seen", type_hint=list[str]) or []


app = restate.app(services=[versioned, tally])

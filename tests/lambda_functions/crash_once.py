"""A Restate service whose execution environment dies once, after its side effect was journaled.

``Run`` records a side effect (a line in a file) in a journaled step, then kills its own process
the first time it gets that far. On Lambda the SDK ends the request after a step to get it
acknowledged, so the crash hits a later request; Restate retries, the journal replays the step
instead of running it again, and the file ends with exactly one line per key.
"""

from __future__ import annotations

import os
from pathlib import Path

import restate

PROBE_DIR = Path(os.environ.get("PROBE_DIR", "/tmp"))

crash_once = restate.VirtualObject("CrashOnce")


def record_side_effect(key: str) -> int:
    effects = PROBE_DIR / f"{key}.effects"
    with effects.open("a") as file:
        file.write("done\n")
    return len(effects.read_text().splitlines())


@crash_once.handler("Run")
async def run(ctx: restate.ObjectContext) -> int:
    key = ctx.key()
    effects_seen = await ctx.run_typed("side effect", record_side_effect, key=key)
    marker = PROBE_DIR / f"{key}.crashed"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return effects_seen


app = restate.app(services=[crash_once])

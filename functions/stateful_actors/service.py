"""Stateful actors and durable state machines: one MachineOperator per factory machine.

``MachineOperator`` is a virtual object keyed by machine id. Its state ``status`` (``UP`` or
``DOWN``) lives in Restate next to the object, and Restate runs at most one handler per key at a
time, queueing the rest in the order they arrived. So ``SetUp`` and ``TearDown`` read the status,
do a slow transition and write the new status without locks, and no two requests for the same
machine ever interleave. Requests for different machines do not wait for each other::

    a/SetUp, a/TearDown, b/SetUp, b/SetUp, b/TearDown            (all sent at once)

    key a:  SetUp ~~transition~~> UP "a is now up"  |  TearDown ~~transition~~> DOWN "a is now down"
    key b:  SetUp ~~transition~~> UP "b is now up"  |  SetUp: "b is already up, so nothing to do"
                                                    |  TearDown ~~transition~~> DOWN "b is now down"
            ---- time: a's and b's transitions overlap; each key takes one call at a time ---->

A transition (see ``machine.py``) is a durable sleep, and the machine may crash in the middle of
it. The crash is an ordinary exception: Restate retries the invocation, which replays its
journal - the status it read, a sleep that already finished - and carries on. The new status is
written only once the transition is done, so a crash never leaves it half-changed.
"""

from __future__ import annotations

from typing import Literal

import restate

from functions.common.validation import pattern_app
from functions.stateful_actors.machine import transition

Status = Literal["UP", "DOWN"]
STATUS = "status"
UP: Status = "UP"
DOWN: Status = "DOWN"

machine_operator = restate.VirtualObject("MachineOperator")


@machine_operator.handler("SetUp")
async def set_up(ctx: restate.ObjectContext) -> str:
    machine_id = ctx.key()
    if await ctx.get(STATUS, type_hint=str) == UP:
        return f"{machine_id} is already up, so nothing to do"
    await transition(ctx, "up")
    ctx.set(STATUS, UP)
    return f"{machine_id} is now up"


@machine_operator.handler("TearDown")
async def tear_down(ctx: restate.ObjectContext) -> str:
    machine_id = ctx.key()
    if await ctx.get(STATUS, type_hint=str) != UP:
        return f"{machine_id} is not up, cannot tear down"
    await transition(ctx, "down")
    ctx.set(STATUS, DOWN)
    return f"{machine_id} is now down"


app = pattern_app([machine_operator])

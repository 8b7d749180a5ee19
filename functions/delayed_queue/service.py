"""(Delayed) message queue: Restate as a task queue in front of a Lambda worker.

The task submitter does not call the worker and wait. It *sends* the task to
``AsyncTaskWorker/RunTask/send`` with the task id as ``idempotency-key`` and, if it wants the
task to run later, ``?delay=10s``. Restate stores the task durably, keeps the timer, invokes the
worker when the delay is over and keeps the result, so the submitter can attach later::

    submitter --POST .../RunTask/send?delay=10s, idempotency-key: t1--> Restate   => Accepted
    submitter --same request again-------------------------------------> Restate   => PreviouslyAccepted
                         (10 s later) Restate --RunTask({"id": "t1", ...})--> Lambda
    submitter --GET /restate/invocation/AsyncTaskWorker/RunTask/t1/attach--> the task's result

Nothing here deals with queues or timers: they are Restate's job.
"""

from __future__ import annotations

import restate
from pydantic import BaseModel, ConfigDict, Field

from functions.common.validation import pattern_app, typed_handler

async_task_worker = restate.Service("AsyncTaskWorker")
"""The worker behind the queue: submitters send it tasks through Restate, never call it themselves."""


class Task(BaseModel):
    """A task for the worker; its ``id`` is also the idempotency key it is sent with."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    description: str


class TaskResult(BaseModel):
    """What the worker made of the task: the outcome of its heavy work."""

    description: str


@typed_handler(async_task_worker.handler, "RunTask")
async def run_task(ctx: restate.Context, task: Task) -> TaskResult:
    # Journaled, so a retry after a crash returns the recorded outcome instead of redoing the work.
    outcome = await ctx.run_typed("heavy work", do_heavy_work, task=task)
    return TaskResult(description=outcome)


def do_heavy_work(task: Task) -> str:
    """Stands in for the real work a queue worker would do."""
    return f"Finished task {task.id}: {task.description}"


app = pattern_app([async_task_worker])

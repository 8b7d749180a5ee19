"""Parallelizing work (fan-out, fan-in): split a task, run the parts at once, gather the results.

``FanOutWorker/Run`` splits a task such as ``{"description": "a,b,c"}`` into subtasks and calls
``FanOutWorker/RunSubtask`` once per subtask. Each call is a separate Restate invocation, so on
AWS Lambda each subtask gets its own execution environment and they all work at the same time;
the task takes about as long as its slowest subtask, not as long as all of them together::

    Run({"description": "a,b,c"})
      |-- call RunSubtask("a") ---> Lambda environment 1: works ... "a: DONE" --+
      |-- call RunSubtask("b") ---> Lambda environment 2: works ... "b: DONE" --+  all started
      |-- call RunSubtask("c") ---> Lambda environment 3: works ... "c: DONE" --+  before any is awaited
      |   (Run suspends meanwhile: its own Lambda function is not running)      |
      +-- gather <--------------------------------------------------------------+
          --> {"description": "a: DONE, b: DONE, c: DONE"}

Restate journals every call and its result. If Run's Lambda fails after the subtasks started,
the retry does not start them again: it finds them in the journal and waits for their results.
A subtask that fails with an ordinary exception is retried on its own; the others are not redone.
The work itself is simulated in ``subtask_work.py``.
"""

from __future__ import annotations

import restate
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.common.validation import pattern_app, typed_handler
from functions.parallelize_work.subtask_work import do_subtask_work


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    """Comma-separated subtask names, e.g. ``"a,b,c"``."""

    @field_validator("description")
    @classmethod
    def names_every_subtask(cls, description: str) -> str:
        names = [name.strip() for name in description.split(",")]
        if names == [""]:
            raise ValueError("names no subtask; give comma-separated subtask names such as 'a,b,c'")
        for position, name in enumerate(names, start=1):
            if not name:
                raise ValueError(f"subtask {position} of {len(names)} has an empty name")
        return description

    def subtasks(self) -> list[SubTask]:
        return [SubTask(description=name) for name in self.description.split(",")]


class SubTask(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    description: str = Field(min_length=1)


class SubTaskResult(BaseModel):
    description: str


class TaskResult(BaseModel):
    description: str


fan_out_worker = restate.Service("FanOutWorker")


@typed_handler(fan_out_worker.handler, "Run")
async def run(ctx: restate.Context, task: Task) -> TaskResult:
    # Start every call before awaiting any: awaiting each in turn would run the subtasks one by one.
    calls = [ctx.service_call(run_subtask, arg=subtask) for subtask in task.subtasks()]
    await restate.gather(*calls)
    results = [await call for call in calls]
    return aggregate(results)


@typed_handler(fan_out_worker.handler, "RunSubtask")
async def run_subtask(ctx: restate.Context, subtask: SubTask) -> SubTaskResult:
    # Journaled: once a subtask's work is done, a retry of this invocation does not do it again.
    outcome = await ctx.run_typed(
        "work on subtask", do_subtask_work, subtask=subtask.description, invocation_id=ctx.request().id
    )
    return SubTaskResult(description=outcome)


def aggregate(results: list[SubTaskResult]) -> TaskResult:
    return TaskResult(description=", ".join(result.description for result in results))


app = pattern_app([fan_out_worker])

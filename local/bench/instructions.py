"""Instructions a cold start executes, counted by valgrind: the cold-start figure that repeats from run to run.

A cold start's time on this shared machine scatters too widely to tell 1.25 from 1.35 times the
empty app. In one run of 30 rounds, each round a pattern's cold start right after or before the
empty app's, the quartiles of the 30 ratios were 1.17 and 1.54. The instructions the same cold start
executes, counted by cachegrind, came out alike to six digits in run after run, and their ratio to
the empty app's agreed with the median of time ratios over many rounds (for the one-model app,
1.20 against 1.16 to 1.22 in three runs of 30 to 40 rounds). So `make bench` counts them once per
subject and checks the cold-start goal on their ratio; the times stay in the report, with their
spread, for what instructions do not show (system calls, page faults, cache misses).

A count covers the whole life of one execution environment of the function: the interpreter's
start, the handler module's import, the first event and the interpreter's exit. The empty app
pays the same start and exit. ``PYTHONHASHSEED`` is fixed: with a random one, the order of sets
of strings changes from run to run, and the counts with it (by about 0.1 % here).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Mapping
from typing import Any

from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime

CACHEGRIND = ("--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
"""Instruction counts only: no cache simulation, which the goal does not need and which slows cachegrind down."""
INSTRUCTION_COUNT = re.compile(r"I\s+refs:\s+([\d,]+)")
FIXED_HASH_SEED = {"PYTHONHASHSEED": "0"}
VALGRIND_TIMEOUT_SECONDS = 300.0
"""A cold start takes some 30 to 40 times longer under valgrind: 7 to 15 s here, data_upload's AWS call included."""
VALGRIND_MISSING = "valgrind is not installed (apt install valgrind): no instruction counts"


def valgrind() -> str | None:
    return shutil.which("valgrind")


def instruction_count(valgrind_output: str) -> int:
    """The instructions cachegrind counted, from the summary it prints when the process exits."""
    match = INSTRUCTION_COUNT.search(valgrind_output)
    if match is None:
        tail = " | ".join(valgrind_output.strip().splitlines()[-5:])
        raise RuntimeError(f"valgrind printed no instruction count: {tail}")
    return int(match[1].replace(",", ""))


def count_cold_start(runtime: LocalLambdaRuntime, spec: FunctionSpec, event: Any, valgrind_path: str) -> int:
    """The instructions of a new execution environment of ``spec`` that answers ``event`` and exits."""
    counted = runtime.invoke_once(
        dataclasses.replace(spec, environment={**spec.environment, **FIXED_HASH_SEED}),
        event,
        launcher=(valgrind_path, *CACHEGRIND),
        timeout_seconds=VALGRIND_TIMEOUT_SECONDS,
    )
    if "ok" not in counted.reply:
        raise RuntimeError(f"{spec.name} answered {counted.reply} under valgrind")
    return instruction_count(counted.log)


def count_cold_starts(
    runtime: LocalLambdaRuntime, subjects: Mapping[str, tuple[FunctionSpec, Any]]
) -> dict[str, int] | None:
    """Per subject, the instructions of one cold start answering its event; None without valgrind."""
    valgrind_path = valgrind()
    if valgrind_path is None:
        return None
    return {name: count_cold_start(runtime, spec, event, valgrind_path) for name, (spec, event) in subjects.items()}

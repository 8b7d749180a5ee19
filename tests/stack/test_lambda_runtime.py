"""The local Lambda runtime behaves like Lambda where the patterns depend on it."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from restate_lambda.local.lambda_runtime import (
    MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES,
)
from restate_lambda.local.record import process_start_time

from functions.common.state_size import MAX_INPUT_BYTES
from local.bench.instructions import VALGRIND_MISSING, count_cold_start, valgrind
from local.stack import LocalStack
from tests.polling import wait_until


def invoke(stack: LocalStack, function: str, event: dict[str, Any], qualified: bool = True) -> httpx.Response:
    assert stack.lambda_runtime is not None
    reference = stack.lambda_runtime.function_arn(function, "7") if qualified else function
    url = f"{stack.lambda_runtime.url}/2015-03-31/functions/{quote(reference, safe='')}/invocations"
    return httpx.post(url, json=event, timeout=30)


def test_qualified_arn_reaches_the_function_with_the_lambda_environment(stack):
    response = invoke(stack, "probe", {"action": "echo"})
    assert response.status_code == 200
    assert "X-Amz-Function-Error" not in response.headers
    body = response.json()
    assert body["function_name"] == "probe"
    assert body["environment_function_name"] == "probe"
    assert body["invoked_function_arn"].endswith(":function:probe:7")
    assert 0 < body["remaining_ms"] <= 2000


def test_unknown_function_is_a_404_resource_not_found(stack):
    response = invoke(stack, "no_such_function", {})
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "no_such_function" in response.json()["message"]


def test_handler_exception_is_reported_in_lambdas_error_shape(stack):
    response = invoke(stack, "probe", {"action": "raise"})
    assert response.status_code == 200
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    body = response.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "the probe was asked to fail"
    assert body["stackTrace"]


def test_timeout_kills_the_worker_and_the_next_invocation_gets_a_fresh_one(stack):
    pool = stack.lambda_runtime.pools["probe"]
    assert invoke(stack, "probe", {"action": "echo"}).status_code == 200  # at least one idle worker now
    live_before = {worker.process.pid: worker.process for worker in pool.live_workers()}
    response = invoke(stack, "probe", {"action": "sleep", "seconds": 5})  # past the 2 s timeout
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.json()["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in response.json()["errorMessage"]
    live_after = {worker.process.pid for worker in pool.live_workers()}
    killed = set(live_before) - live_after
    assert len(killed) == 1 and live_after <= set(live_before)
    assert live_before[killed.pop()].poll() is not None
    after = invoke(stack, "probe", {"action": "echo"})
    assert after.status_code == 200 and "X-Amz-Function-Error" not in after.headers
    assert "Task timed out after 2.00 seconds" in stack.lambda_runtime.log_path("probe").read_text()


def test_crashing_worker_is_reported_and_replaced(stack):
    response = invoke(stack, "probe", {"action": "exit"})
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.json()["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in response.json()["errorMessage"]
    assert invoke(stack, "probe", {"action": "echo"}).status_code == 200


def test_parallel_invocations_run_in_separate_workers_at_the_same_time(stack):
    parallel = 5
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda _: invoke(stack, "probe", {"action": "sleep", "seconds": 1.5}), range(parallel)))
    bodies = [result.json() for result in results]
    assert all("X-Amz-Function-Error" not in result.headers for result in results), bodies
    assert len({body["pid"] for body in bodies}) == parallel
    # All were running at one moment: the last to start began before the first to finish ended.
    assert max(body["started"] for body in bodies) < min(body["finished"] for body in bodies)


def test_concurrency_limit_throttles_like_lambda(stack):
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: invoke(stack, "probe_limited", {"action": "sleep", "seconds": 2}), range(3)))
    statuses = sorted(result.status_code for result in results)
    assert statuses == [200, 200, 429]
    throttled = next(result for result in results if result.status_code == 429)
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"


@pytest.mark.fault
def test_crash_mid_invocation_is_retried_by_restate_and_completes_exactly_once(stack, unique):
    admin = stack.admin()
    arn = stack.lambda_runtime.function_arn("crash_once", "1")
    admin.register_lambda(arn)
    response = httpx.post(f"{stack.ingress_url}/CrashOnce/{unique}/Run", timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == 1  # the side effect ran once, although the first attempt crashed after it
    probe_dir = stack.state_dir / "probe"
    assert (probe_dir / f"{unique}.crashed").exists()
    assert (probe_dir / f"{unique}.effects").read_text().splitlines() == ["done"]
    log = stack.lambda_runtime.log_path("crash_once").read_text()
    assert "Runtime exited with error: exit status 1" in log


def test_a_request_over_lambdas_6_mb_is_refused_before_the_function_runs(stack):
    response = invoke(stack, "probe", {"action": "echo", "padding": "x" * MAX_REQUEST_BYTES})
    assert response.status_code == 413
    assert response.headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    just_under = invoke(stack, "probe", {"action": "echo", "padding": "x" * (MAX_REQUEST_BYTES - 100)})
    assert just_under.status_code == 200 and just_under.json()["function_name"] == "probe"


def test_an_answer_over_lambdas_6_mb_becomes_a_function_error(stack):
    response = invoke(stack, "probe", {"action": "answer_bytes", "size": MAX_RESPONSE_BYTES})
    assert response.status_code == 200
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.json()["errorType"] == "Function.ResponseSizeTooLarge"
    fits = invoke(stack, "probe", {"action": "answer_bytes", "size": MAX_RESPONSE_BYTES - 100})
    assert "X-Amz-Function-Error" not in fits.headers and len(fits.json()["padding"]) == MAX_RESPONSE_BYTES - 100


def test_a_body_too_large_for_lambda_is_refused_at_the_ingress_and_a_large_one_still_gets_its_400(stack):
    def run_task(description_bytes: int) -> httpx.Response:
        body = json.dumps({"id": "", "description": "x" * description_bytes})
        headers = {"content-type": "application/json"}
        return httpx.post(f"{stack.ingress_url}/AsyncTaskWorker/RunTask", content=body, headers=headers, timeout=60)

    # Beside a key's state at its budget, a larger body would not fit into Lambda's 6 MB, and every
    # attempt would fail, forever (functions/common/state_size.py).
    assert run_task(MAX_INPUT_BYTES).status_code == 413
    under_the_limit = run_task(MAX_INPUT_BYTES - 1000)
    assert under_the_limit.status_code == 400 and "id:" in under_the_limit.json()["message"]


def test_an_execution_environment_that_died_while_idle_is_never_handed_an_invocation(stack):
    first = invoke(stack, "probe", {"action": "echo"}).json()["pid"]
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: process_start_time(first) is None, "the idle worker to die")
    response = invoke(stack, "probe", {"action": "echo"})
    assert response.status_code == 200 and "X-Amz-Function-Error" not in response.headers, response.text
    assert response.json()["pid"] != first


def test_invoke_once_serves_one_event_in_a_process_of_its_own_started_by_the_launcher(stack, tmp_path):
    runtime = stack.lambda_runtime
    spec = runtime.pools["probe"].spec
    launcher = tmp_path / "launcher.sh"
    launcher.write_text('#!/bin/sh\necho "launched $#" >&2\nexec "$@"\n')
    launcher.chmod(0o755)
    pooled = {worker.process.pid for pool in runtime.pools_of("probe") for worker in pool.live_workers()}

    once = runtime.invoke_once(spec, {"action": "echo"}, launcher=[str(launcher)])

    assert once.reply["ok"]["environment_function_name"] == "probe"
    assert once.reply["ok"]["pid"] not in pooled
    assert "launched 4" in once.log  # python -P lambda_worker.py <handler>
    failed = runtime.invoke_once(spec, {"action": "raise"})
    assert failed.reply["error"]["errorType"] == "ValueError"
    crashed = runtime.invoke_once(spec, {"action": "exit"})
    assert crashed.reply["error"]["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.reply["error"]["errorMessage"]


@pytest.mark.skipif(valgrind() is None, reason=VALGRIND_MISSING)
def test_a_cold_starts_instruction_count_repeats_and_grows_with_the_work_done(stack):
    runtime = stack.lambda_runtime
    spec = runtime.pools["probe"].spec
    valgrind_path = valgrind()
    assert valgrind_path is not None

    echo = [count_cold_start(runtime, spec, {"action": "echo"}, valgrind_path) for _ in range(2)]
    large_answer = count_cold_start(runtime, spec, {"action": "answer_bytes", "size": 4_000_000}, valgrind_path)

    assert abs(echo[0] - echo[1]) < echo[0] / 1000, echo
    assert large_answer > echo[0] * 1.05, (large_answer, echo)

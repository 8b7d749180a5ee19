"""Fault: one client request repeated 100 times at once, as a client with aggressive retries would.

All 100 carry the same idempotency key and are released together, so they reach the ingress while
the first of them is still running: Restate must run the handler once and give every caller the
answer of that one run.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from local.stack import LocalStack
from tests.fault_figures import report_fault

pytestmark = pytest.mark.fault

DUPLICATES = 100


def test_100_concurrent_duplicates_of_one_idempotency_key_run_once_and_get_one_answer(stack: LocalStack, unique: str):
    product, reservation = f"product-{unique}", f"reservation-{unique}"
    url = f"{stack.ingress_url}/ProductService/{product}/Reserve"
    all_ready = threading.Barrier(DUPLICATES)

    def reserve(_: int) -> httpx.Response:
        with httpx.Client(timeout=120) as client:
            all_ready.wait()
            return client.post(url, headers={"idempotency-key": reservation})

    with ThreadPoolExecutor(DUPLICATES) as pool:
        responses = list(pool.map(reserve, range(DUPLICATES)))

    answers = {(response.status_code, response.text) for response in responses}
    executions = stack.admin().query(
        "SELECT id, idempotency_key, status, completion_result FROM sys_invocation "
        f"WHERE target_service_name = 'ProductService' AND target_service_key = '{product}'"
    )
    report_fault(
        f"{DUPLICATES} concurrent duplicates of one idempotency key",
        f"{len(responses)} answered, "
        f"{len(answers)} distinct answer(s) {sorted(answers)}, {len(executions)} execution(s); "
        f"lost {DUPLICATES - len(responses)}, duplicated {max(0, len(executions) - 1)}",
    )
    assert answers == {(200, "true")}
    assert [(row["idempotency_key"], row["status"], row["completion_result"]) for row in executions] == [
        (reservation, "completed", "success")
    ]
    assert {response.headers["x-restate-id"] for response in responses} == {executions[0]["id"]}
    # The product is reserved: the one execution took effect, and a new reservation finds it taken.
    again = httpx.post(url, headers={"idempotency-key": f"{reservation}-other"}, timeout=30)
    assert again.json() is False

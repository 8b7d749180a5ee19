"""AsyncTaskWorker through Restate -> local Lambda runtime -> functions/delayed_queue."""

from __future__ import annotations

import time

import pytest

from local.clients.delayed_queue import attach_to_task, submit_task
from local.clients.delayed_queue import main as client_main
from tests.restate_queries import invocation_row


def test_send_with_the_same_id_is_accepted_once_and_attach_returns_the_result(stack, unique):
    first = submit_task(stack.ingress_url, unique, "resize images")
    again = submit_task(stack.ingress_url, unique, "resize images")
    assert (first.status, again.status) == ("Accepted", "PreviouslyAccepted")
    assert again.invocation_id == first.invocation_id
    assert attach_to_task(stack.ingress_url, unique, timeout=30) == {
        "description": f"Finished task {unique}: resize images"
    }


def test_delayed_task_does_not_run_before_its_delay(stack, admin, unique):
    delay_seconds = 3
    submitted_at = time.monotonic()
    submission = submit_task(stack.ingress_url, unique, "later", delay=f"{delay_seconds}s")
    assert invocation_row(admin, submission.invocation_id)["status"] == "scheduled"
    result = attach_to_task(stack.ingress_url, unique, timeout=30)
    assert time.monotonic() - submitted_at >= delay_seconds
    assert result == {"description": f"Finished task {unique}: later"}
    assert invocation_row(admin, submission.invocation_id)["status"] == "completed"


def test_client_submits_and_attaches(stack, unique, capsys):
    base = ["--ingress", stack.ingress_url]
    client_main([*base, "submit", "--id", unique, "--description", "d", "--delay", "100ms"])
    client_main([*base, "submit", "--id", unique, "--description", "d"])
    client_main([*base, "attach", "--id", unique])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Accepted inv_") and lines[1].startswith("PreviouslyAccepted inv_")
    assert lines[2] == f'{{"description": "Finished task {unique}: d"}}'


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"id": 5, "description": "x"}, "id"),
        ({"id": "t"}, "description"),
        ({"id": "", "description": "x"}, "id"),
        ("not an object", "Task"),
    ],
)
def test_bad_input_is_a_terminal_400_naming_the_field(ingress, admin, payload, field):
    response = ingress.post("/AsyncTaskWorker/RunTask", json=payload)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    invocation_id = response.headers["x-restate-id"]
    # Completed with a failure at the first attempt: a retried invocation would be `backing-off`.
    row = invocation_row(admin, invocation_id)
    assert (row["status"], row["completion_result"]) == ("completed", "failure")
    assert row["completion_failure"].startswith("[400]")


def test_invalid_json_is_a_terminal_400(ingress):
    response = ingress.post(
        "/AsyncTaskWorker/RunTask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Invalid JSON" in response.json()["message"]

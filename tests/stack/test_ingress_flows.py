"""The ingress flows the front door serves and the command-line clients run, written once.

Each test drives a flow (``functions/front_door/flows.py``) from the command line, where the two
copies the flows once had drifted apart, and where it matters checks that the front door's
requests land on the same invocations.
"""

from __future__ import annotations

import json

import httpx
import pytest

from functions.front_door.flows import looks_like_an_id
from local.clients import attach_to_invocation
from local.clients.data_upload import upload_data
from local.clients.delayed_queue import main as task_client
from tests.stack.test_data_upload import SLOW, emails_to


def test_a_slow_upload_requested_again_by_the_client_and_the_front_door_is_emailed_once(stack, admin, unique):
    upload_id, recipient = f"upload-{unique}", f"{unique}@example.com"
    first = upload_data(stack.ingress_url, upload_id, recipient, wait_seconds=SLOW)
    again = upload_data(stack.ingress_url, upload_id, recipient, wait_seconds=0)
    assert (first.url, again.url) == (None, None)
    assert again.email_invocation_id == first.email_invocation_id
    with httpx.Client(base_url=stack.http_api_url("front_door"), timeout=60) as front_door:
        through_the_front_door = front_door.post(
            "/uploads", json={"uploadId": upload_id, "email": recipient, "waitSeconds": 0}
        )
    assert through_the_front_door.status_code == 202, through_the_front_door.text

    assert first.email_invocation_id is not None
    attach_to_invocation(stack.ingress_url, first.email_invocation_id, timeout=60)
    sent = admin.query(
        "SELECT id FROM sys_invocation WHERE target_service_name = 'DataUploadService' "
        f"AND target_service_key = '{upload_id}' AND target_handler_name = 'ResultAsEmail'"
    )
    assert [row["id"] for row in sent] == [first.email_invocation_id]
    assert len(emails_to(stack, recipient)) == 1


def test_a_task_is_found_by_an_id_with_each_kind_of_character_an_id_may_hold(stack, unique, capsys):
    # restate-server does not percent-decode the task id in the attach and output paths, so a ':' or
    # '@' encoded on its way there would miss the task.
    task_id = f"{unique}:a@b.c_d-e"
    base = ["--ingress", stack.ingress_url]
    task_client([*base, "submit", "--id", task_id, "--description", "resize"])
    task_client([*base, "attach", "--id", task_id])
    submitted, attached = capsys.readouterr().out.splitlines()
    assert submitted.startswith("Accepted inv_")
    result = json.loads(attached)
    assert result == {"description": f"Finished task {task_id}: resize"}
    with httpx.Client(base_url=stack.http_api_url("front_door"), timeout=60) as front_door:
        through_the_front_door = front_door.get(f"/tasks/{task_id}")
    assert through_the_front_door.json() == {"taskId": task_id, "status": "done", "result": result}


@pytest.mark.parametrize("command", ["submit", "attach"])
@pytest.mark.parametrize("character", ["/", "?", "#", " ", "%"])
def test_the_client_refuses_a_task_id_that_could_not_be_attached_to_and_queues_nothing(
    stack, admin, unique, capsys, command, character
):
    task_id = f"{unique}{character}1"
    with pytest.raises(ValueError) as rule:
        looks_like_an_id(task_id)
    arguments = ["--ingress", stack.ingress_url, command, "--id", task_id]
    with pytest.raises(SystemExit) as usage_error:
        task_client([*arguments, "--description", "d"] if command == "submit" else arguments)
    assert usage_error.value.code == 2
    assert f"argument --id: {rule.value}" in capsys.readouterr().err
    assert admin.query(f"SELECT id FROM sys_invocation WHERE idempotency_key LIKE '{unique}%'") == []

"""DataUploadService through Restate -> local Lambda runtime -> functions/data_upload, with S3 and SES on moto.

TEST_SETTINGS make every upload take 1-1.5 s. A client that waits 30 s therefore always gets the
URL (fast path) and one that waits 0.1 s never does (slow path), so both paths run on the same
stack without depending on luck.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from functions.data_upload import mailer, storage
from functions.data_upload.storage import OBJECT_KEY, bucket_name, uploaded_data
from local.clients.data_upload import main as client_main
from local.clients.data_upload import upload_data
from tests.polling import wait_until

FAST = 30.0
"""Far beyond the test uploads' 1.5 s."""
SLOW = 0.1
"""Far below the test uploads' 1 s."""


def s3(stack) -> Any:
    return stack.aws.client("s3")


def object_keys(stack, bucket: str) -> list[str]:
    listing = s3(stack).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def emails_to(stack, recipient: str) -> list[dict[str, Any]]:
    """What moto's SES has sent to ``recipient`` (moto keeps sent messages instead of delivering them)."""
    data = httpx.get(f"{stack.aws.url}/moto-api/data.json", timeout=10).json()
    messages = data.get("ses", {}).get("Message", [])
    return [m for m in messages if recipient in m["destinations"].get("ToAddresses", [])]


def upload_log_lines(stack, bucket: str) -> list[str]:
    log = stack.lambda_runtime.log_path("data_upload").read_text(errors="replace")
    return [line for line in log.splitlines() if f"to bucket {bucket} " in line]


def workflow_output(stack, upload_id: str) -> str:
    response = httpx.get(
        f"{stack.ingress_url}/restate/workflow/DataUploadService/{quote(upload_id, safe='')}/output", timeout=10
    )
    assert response.status_code == 200, response.text
    url: str = response.json()
    return url


def test_fast_upload_returns_a_url_to_the_uploaded_object(stack, unique):
    # Upper case, underscores and dots are fine in an upload id, but not in a bucket name.
    upload_id = f"Jane_Doe.{unique}.CSV"
    recipient = f"{unique}@example.com"
    outcome = upload_data(stack.ingress_url, upload_id, recipient, wait_seconds=FAST)
    assert outcome.url is not None and outcome.emailed_to is None and not outcome.already_started
    bucket = bucket_name(upload_id)
    assert bucket == f"restate-data-upload-jane-doe-{unique}-csv-{bucket[-12:]}"
    assert object_keys(stack, bucket) == [OBJECT_KEY]
    stored = s3(stack).get_object(Bucket=bucket, Key=OBJECT_KEY)["Body"].read().decode()
    assert stored == uploaded_data(upload_id)
    # The presigned URL is what the user gets: it must serve the data without credentials.
    assert httpx.get(outcome.url, timeout=10).text == stored
    assert workflow_output(stack, upload_id) == outcome.url
    assert emails_to(stack, recipient) == []


@pytest.mark.parametrize("wait", [SLOW, 0])
def test_slow_upload_switches_to_email_with_the_url(stack, unique, capsys, wait):
    recipient = f"{unique}@example.com"
    client_main(["--ingress", stack.ingress_url, "--id", unique, "--email", recipient, "--wait", str(wait)])
    assert capsys.readouterr().out.strip() == (
        f"Slow upload: no URL within {wait:g} s, so it will be emailed to {recipient}"
    )
    emails = wait_until(lambda: emails_to(stack, recipient), f"an email to {recipient}")
    url = workflow_output(stack, unique)
    assert len(emails) == 1
    assert emails[0]["source"] == "uploads@example.com"
    assert url in emails[0]["body"]
    assert httpx.get(url, timeout=10).text == uploaded_data(unique)


def test_a_second_run_with_the_same_id_answers_without_uploading_again(stack, ingress, admin, unique):
    first = upload_data(stack.ingress_url, unique, f"{unique}@example.com", wait_seconds=FAST)
    again = upload_data(stack.ingress_url, unique, f"{unique}@example.com", wait_seconds=FAST)
    assert (first.already_started, again.already_started) == (False, True)
    assert again.describe(FAST).startswith(f"Upload id '{unique}' was used before, so this is that upload. Fast upload")
    assert first.url is not None
    assert again.url == first.url
    # Called directly instead of sent and attached, a second run is refused outright.
    refused = ingress.post(f"/DataUploadService/{unique}/Run")
    assert refused.status_code == 409, refused.text
    bucket = bucket_name(unique)
    assert object_keys(stack, bucket) == [OBJECT_KEY]
    # Logged inside the upload step, so the count is how often the upload really ran.
    assert len(upload_log_lines(stack, bucket)) == 1
    runs = admin.query(
        "SELECT id FROM sys_invocation WHERE target_service_name = 'DataUploadService' "
        f"AND target_service_key = '{unique}' AND target_handler_name = 'Run'"
    )
    assert len(runs) == 1, runs


def test_email_requested_after_the_upload_finished_is_sent(stack, ingress, unique):
    recipient = f"{unique}@example.com"
    url = upload_data(stack.ingress_url, unique, recipient, wait_seconds=FAST).url
    # The promise is already resolved, so the call returns as soon as the email is out.
    response = ingress.post(f"/DataUploadService/{unique}/ResultAsEmail", json=recipient)
    assert response.status_code == 200, response.text
    emails = emails_to(stack, recipient)
    assert len(emails) == 1 and url is not None and url in emails[0]["body"]


@pytest.mark.parametrize("payload", ["not-an-email", "jane@example", "", 5, {"email": "jane@example.com"}, None])
def test_bad_email_is_a_terminal_400(ingress, admin, unique, payload):
    response = ingress.post(f"/DataUploadService/{unique}/ResultAsEmail", json=payload)
    assert response.status_code == 400, response.text
    assert "EmailAddress" in response.json()["message"]
    invocation_id = response.headers["x-restate-id"]
    # Completed with a failure at the first attempt: a retried invocation would be `backing-off`.
    rows = admin.query(
        f"SELECT status, completion_result, completion_failure FROM sys_invocation WHERE id = '{invocation_id}'"
    )
    assert [(row["status"], row["completion_result"]) for row in rows] == [("completed", "failure")]
    assert rows[0]["completion_failure"].startswith("[400]")


def test_the_upload_step_creates_its_bucket_again_if_it_was_deleted_after_the_bucket_step(stack, unique, monkeypatch):
    # On AWS a bucket can be deleted while a workflow runs; the journal says "created", so only the step can fix it.
    # The step itself is called here, against the stack's S3, so that the deletion lands between the two steps.
    for name, value in {**stack.aws.function_environment(), "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    storage.s3_client.cache_clear()
    bucket = bucket_name(f"deleted-{unique}")
    storage.create_bucket(bucket)
    s3(stack).delete_bucket(Bucket=bucket)

    storage.upload_data(bucket, f"deleted-{unique}", seconds=0)

    assert object_keys(stack, bucket) == [OBJECT_KEY]
    storage.s3_client.cache_clear()


def test_the_email_step_run_again_after_its_result_was_lost_sends_no_second_email(stack, unique, monkeypatch):
    # What a Restate node dying after Lambda sent the email leaves behind: the step runs a second time.
    for name, value in {**stack.aws.function_environment(), "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    storage.s3_client.cache_clear()
    mailer.ses_client.cache_clear()
    mailer.ensure_sender_identity.cache_clear()
    upload_id, recipient = f"mailed-{unique}", f"mailed-{unique}@example.com"
    storage.create_bucket(bucket_name(upload_id))

    first = mailer.send_url_by_email(recipient, upload_id, "https://example.com/data")
    again = mailer.send_url_by_email(recipient, upload_id, "https://example.com/data")

    assert again == first
    assert len(emails_to(stack, recipient)) == 1
    storage.s3_client.cache_clear()
    mailer.ses_client.cache_clear()

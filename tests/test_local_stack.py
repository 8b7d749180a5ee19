"""The local stack's own behaviour, beyond what the pattern tests exercise."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import httpx
import pytest

from functions.catalog import PATTERNS, pattern_named
from functions.data_upload.service import bucket_name, uploaded_data
from local.aws_endpoint import LOCAL_CREDENTIALS
from local.stack import LocalStack, StackPorts, code_version, settings_from
from tests.polling import wait_until


def test_only_catalog_settings_are_taken_from_the_environment():
    environment = {"MACHINE_TRANSITION_SECONDS": "1", "PAYMENT_REMINDER_INTERVAL_SECONDS": "2", "HOME": "/root"}
    assert settings_from(environment) == {"MACHINE_TRANSITION_SECONDS": "1", "PAYMENT_REMINDER_INTERVAL_SECONDS": "2"}


def test_secret_settings_are_taken_by_value_locally():
    assert settings_from({"STRIPE_WEBHOOK_SECRET": "whsec_local"}) == {"STRIPE_WEBHOOK_SECRET": "whsec_local"}


def test_each_pattern_gets_its_own_code_version_shaped_like_a_lambda_alias():
    versions = {pattern.name: code_version(pattern.name) for pattern in PATTERNS}
    assert len(set(versions.values())) == len(PATTERNS)
    assert all(version.startswith("local-") and len(version) == 16 for version in versions.values())
    assert code_version("durable_rpc") == versions["durable_rpc"]


# --- restarts: what `make dev` promises (state survives), on a stack of its own -----------------------------


@pytest.fixture
def restartable(tmp_path) -> Iterator[Callable[[], LocalStack]]:
    """Starts the data_upload pattern's stack; each call stops the running one and starts it again, same state."""
    ports = StackPorts.random()
    settings = {"UPLOAD_MIN_SECONDS": "4", "UPLOAD_MAX_SECONDS": "4"}
    running: list[LocalStack] = []

    def start() -> LocalStack:
        if running:
            running.pop().stop()
        stack = LocalStack(
            state_dir=tmp_path,
            ports=ports,
            patterns=[pattern_named("data_upload")],
            with_kafka=False,
            function_settings=settings,
            http_apis=(),
        ).start()
        running.append(stack)
        return stack

    yield start
    for stack in running:
        stack.stop()


def bucket_exists(stack: LocalStack, bucket: str) -> bool:
    client = boto3.client("s3", endpoint_url=stack.aws.url, region_name="us-east-1", **boto3_credentials())
    try:
        client.head_bucket(Bucket=bucket)
    except client.exceptions.ClientError:
        return False
    return True


def boto3_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def test_an_upload_in_flight_when_the_stack_restarts_finishes_and_its_url_serves_the_data(restartable, unique):
    stack = restartable()
    upload_id = f"restart-{unique}"
    sent = httpx.post(f"{stack.ingress_url}/DataUploadService/{upload_id}/Run/send", timeout=30)
    assert sent.status_code == 202, sent.text
    # The bucket exists: the upload step (4 s, in one Lambda invocation) is now under way.
    wait_until(lambda: bucket_exists(stack, bucket_name(upload_id)), "the upload's bucket")

    # The stack's shutdown lets a running invocation finish; a crash does not. Both end in a restart here.
    for worker in stack.lambda_runtime.pools["data_upload"].live_workers():
        worker.kill()
    stack = restartable()

    attach = f"{stack.ingress_url}/restate/workflow/DataUploadService/{upload_id}/attach"
    url = httpx.get(attach, timeout=120).json()
    assert httpx.get(url, timeout=10).text == uploaded_data(upload_id)
    log = stack.lambda_runtime.log_path("data_upload").read_text(errors="replace")
    attempts = [line for line in log.splitlines() if f"to bucket {bucket_name(upload_id)} " in line]
    assert len(attempts) >= 2, "the upload step was interrupted and ran again"

    stack = restartable()  # and what was uploaded before a restart is still there after it
    assert httpx.get(url, timeout=10).text == uploaded_data(upload_id)

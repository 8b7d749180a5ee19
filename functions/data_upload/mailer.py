"""SES, which emails an upload's URL to whoever stopped waiting for it."""

from __future__ import annotations

import functools
import os
from typing import Any

from functions.data_upload.settings import Settings

EMAIL_SENDER = Settings.current().email_sender
REGION = os.environ.get("AWS_REGION")
USES_LOCAL_AWS_ENDPOINT = bool(os.environ.get("AWS_ENDPOINT_URL"))
"""True on the local stack and in tests, where boto3 talks to moto instead of AWS."""


# One client per execution environment, created (and boto3 imported) on first use, as storage.s3_client.
@functools.cache
def ses_client() -> Any:
    import boto3

    return boto3.client("ses", region_name=REGION)


@functools.cache
def ensure_sender_identity() -> None:
    """Register the sender with the local AWS endpoint, which starts out knowing no identities.

    On AWS the deployment owns the identity: verifying one takes a click on a mailed link or DNS
    records, so a function must not request it on every cold start.
    """
    if USES_LOCAL_AWS_ENDPOINT:
        ses_client().verify_email_identity(EmailAddress=EMAIL_SENDER)


def send_url_by_email(recipient: str, upload_id: str, url: str) -> str:
    ensure_sender_identity()
    response = ses_client().send_email(
        Source=EMAIL_SENDER,
        Destination={"ToAddresses": [recipient]},
        Message={
            "Subject": {"Data": f"Your upload {upload_id} is ready"},
            "Body": {"Text": {"Data": f"Download your data here (the link expires within 24 hours):\n{url}\n"}},
        },
    )
    message_id: str = response["MessageId"]
    return message_id

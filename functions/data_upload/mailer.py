"""SES, which emails an upload's URL to whoever stopped waiting for it."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from functions.data_upload.settings import Settings
from functions.data_upload.storage import bucket_name, s3_client

logger = logging.getLogger(__name__)
"""Plain, not replay-aware, as in storage.py: a step's action runs only when the step really executes."""

EMAIL_SENDER = Settings.current().email_sender
REGION = os.environ.get("AWS_REGION")
USES_LOCAL_AWS_ENDPOINT = bool(os.environ.get("AWS_ENDPOINT_URL"))
"""True on the local stack and in tests, where boto3 talks to moto instead of AWS."""
SENT_RECORDS = "sent-emails"
"""Where in an upload's bucket each email sent about it is recorded (beside ``data.txt``)."""


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


def sent_record_key(recipient: str) -> str:
    return f"{SENT_RECORDS}/{recipient}"


def already_sent(bucket: str, recipient: str) -> str | None:
    """The message id of the email this upload's URL went out in to ``recipient``, if it did."""
    from botocore.exceptions import ClientError

    try:
        record = s3_client().get_object(Bucket=bucket, Key=sent_record_key(recipient))
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    message_id: str = record["Body"].read().decode()
    return message_id


def send_url_by_email(recipient: str, upload_id: str, url: str) -> str:
    """Email ``url`` to ``recipient`` once per upload, however often this step runs; SES's message id.

    A journaled step runs again when its result was lost: Lambda sent the email, and Restate (a node
    that died, a connection cut) never heard of it. SES takes no idempotency key, so the upload's own
    bucket keeps a record of each email sent, and a step that finds it sends nothing again. Only a
    crash between the send and the record, inside one invocation, could still send twice.
    """
    bucket = bucket_name(upload_id)
    sent = already_sent(bucket, recipient)
    if sent is not None:
        logger.info("The URL of upload %s went to %s already (message %s): not sent again", upload_id, recipient, sent)
        return sent
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
    s3_client().put_object(Bucket=bucket, Key=sent_record_key(recipient), Body=message_id.encode())
    return message_id

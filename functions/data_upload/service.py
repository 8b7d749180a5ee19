"""Async data upload: start a slow task synchronously, and get its result by email if it takes too long.

``DataUploadService`` is a workflow keyed by upload id. ``Run`` does the upload and publishes the
download URL in the workflow's durable promise ``url``; ``ResultAsEmail`` is a shared handler that
anyone can call, before or after ``Run`` finished, to have that URL mailed::

    client --Run/send------------> Restate --> Run: create bucket -> upload (slow) -> presign URL
    client --attach, wait 5 s----> Restate         |                                      |
                                                   |                    resolve promise "url", return URL
    fast: the attach answers with the URL <--------+--------------------------------------+
    slow: the client stops waiting and calls
          --ResultAsEmail/send("jane@example.com")--> ResultAsEmail: await promise "url" -> send email

The client never has to choose up front: the upload keeps running durably whether or not anyone
waits for it, and the promise hands the result to whoever asks, however late.

Every AWS call is a journaled step (``ctx.run_typed``), so after a crash or a retry the workflow
resumes after the last finished step instead of creating the bucket or uploading again. A second
``Run`` with the same upload id does not run at all: a workflow runs once per key. Sent again, it is
answered ``PreviouslyAccepted`` and an attach returns the first run's URL; called again, it is
refused with 409.

The upload takes a random time between ``UPLOAD_MIN_SECONDS`` and ``UPLOAD_MAX_SECONDS`` (default
0-10 s, so the client's 5 s wait sees both outcomes). The duration comes from Restate's seeded
random generator, so a replay draws the same one. It is spent inside the upload step, not in a
durable sleep, because it stands for the transfer itself: a real transfer keeps the function busy
and cannot be suspended half-way. That is why the Lambda timeout must exceed the maximum.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
from typing import Any

import boto3
import restate
from botocore.config import Config
from botocore.exceptions import ClientError
from restate import TerminalError

from functions.common.logs import pattern_logger
from functions.common.validation import CHECKED_JSON, checked_input
from functions.data_upload.email_address import EmailAddress
from functions.data_upload.settings import Settings

logger = pattern_logger(__name__)
"""For handler code, which runs again on every replay: silent while replaying."""
step_logger = logging.getLogger(f"{__name__}.steps")
"""For step actions, which run only when the step really executes: every line is a real attempt."""

SETTINGS = Settings.from_environment()
UPLOAD_MIN_SECONDS = SETTINGS.upload_min_seconds.total_seconds()
UPLOAD_MAX_SECONDS = SETTINGS.upload_max_seconds.total_seconds()
EMAIL_SENDER = SETTINGS.email_sender
BUCKET_PREFIX = SETTINGS.bucket_prefix

REGION = os.environ.get("AWS_REGION")
USES_LOCAL_AWS_ENDPOINT = bool(os.environ.get("AWS_ENDPOINT_URL"))
"""True on the local stack and in tests, where boto3 talks to moto instead of AWS."""

URL_PROMISE = "url"
OBJECT_KEY = "data.txt"
URL_EXPIRY_SECONDS = 24 * 3600
"""A presigned URL also stops working when the credentials that signed it expire (Lambda role: hours)."""

MAX_BUCKET_NAME_LENGTH = 63


def bucket_name(upload_id: str, prefix: str = BUCKET_PREFIX) -> str:
    """A valid S3 bucket name for this upload: readable where the id allows, unique through a digest.

    S3 wants 3-63 lowercase letters, digits and hyphens; upload ids can be anything. The readable
    part keeps what is safe of the id; the digest of the full id keeps ``Data_1`` and ``data-1`` apart.
    """
    digest = hashlib.sha256(upload_id.encode()).hexdigest()[:12]
    readable = re.sub(r"[^a-z0-9]+", "-", upload_id.lower()).strip("-")
    room = MAX_BUCKET_NAME_LENGTH - len(prefix) - len(digest) - 2
    readable = readable[:room].strip("-")
    return "-".join(part for part in (prefix, readable, digest) if part)


# One boto3 client per execution environment: creating one costs tens of milliseconds, and a warm
# Lambda serves many invocations. Created on first use, so importing this module needs no AWS setup.
@functools.cache
def s3_client() -> Any:
    # SigV4: the only signature S3 accepts for presigned URLs in newer regions.
    return boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))


@functools.cache
def ses_client() -> Any:
    return boto3.client("ses", region_name=REGION)


def create_bucket(bucket: str) -> None:
    arguments: dict[str, Any] = {"Bucket": bucket}
    if REGION and REGION != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": REGION}
    try:
        s3_client().create_bucket(**arguments)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "BucketAlreadyOwnedByYou":
            return  # an earlier attempt of this step created it and crashed before it was journaled
        if code == "BucketAlreadyExists":
            # Retrying cannot help: another AWS account owns the name.
            raise TerminalError(
                f"bucket {bucket} belongs to another AWS account; choose another UPLOAD_BUCKET_PREFIX", status_code=409
            ) from None
        raise


def upload_data(bucket: str, upload_id: str, seconds: float) -> None:
    step_logger.info("Uploading the data of upload %s to bucket %s (takes %.1f s)", upload_id, bucket, seconds)
    time.sleep(seconds)  # the transfer time of a real upload
    upload = {
        "Bucket": bucket,
        "Key": OBJECT_KEY,
        "Body": uploaded_data(upload_id).encode(),
        "ContentType": "text/plain",
    }
    try:
        s3_client().put_object(**upload)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
        # The bucket this workflow created in an earlier step is gone (deleted meanwhile, by a person or a
        # lifecycle rule): the journal cannot bring it back, so create it again rather than fail every retry.
        step_logger.warning("Bucket %s is gone; creating it again for upload %s", bucket, upload_id)
        create_bucket(bucket)
        s3_client().put_object(**upload)


def uploaded_data(upload_id: str) -> str:
    return f"The data of upload {upload_id}\n"


def presigned_url(bucket: str) -> str:
    url: str = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": OBJECT_KEY}, ExpiresIn=URL_EXPIRY_SECONDS
    )
    return url


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


data_upload_service = restate.Workflow("DataUploadService")


@data_upload_service.main("Run")
async def run(ctx: restate.WorkflowContext) -> str:
    """Create the bucket, upload, publish the download URL in promise ``url`` and return it."""
    upload_id = ctx.key()
    bucket = bucket_name(upload_id)
    # Restate seeds this generator per invocation, so every replay draws the same duration.
    upload_seconds = ctx.random().uniform(UPLOAD_MIN_SECONDS, UPLOAD_MAX_SECONDS)
    url_promise = ctx.promise(URL_PROMISE, type_hint=str)
    try:
        await ctx.run_typed("create bucket", create_bucket, bucket=bucket)
        await ctx.run_typed("upload data", upload_data, bucket=bucket, upload_id=upload_id, seconds=upload_seconds)
        url = await ctx.run_typed("presign URL", presigned_url, bucket=bucket)
    except TerminalError as error:
        # Whoever waits for the URL by email must hear that it will never come.
        await url_promise.reject(error.message, error.status_code)
        raise
    await url_promise.resolve(url)
    logger.info("Upload %s is done: %s", upload_id, url)
    return url


@data_upload_service.handler("ResultAsEmail", input_serde=CHECKED_JSON)
@checked_input
async def result_as_email(ctx: restate.WorkflowSharedContext, email: EmailAddress) -> None:
    """Wait until ``Run`` has published the URL (or return at once if it has) and email it."""
    recipient = email.root
    url = await ctx.promise(URL_PROMISE, type_hint=str).value()
    await ctx.run_typed("send email", send_url_by_email, recipient=recipient, upload_id=ctx.key(), url=url)
    logger.info("Emailed the URL of upload %s to %s", ctx.key(), recipient)


app = restate.app(services=[data_upload_service])

"""Async data upload: start a slow task synchronously, and get its result by email if it takes too long.

``DataUploadService`` is a workflow keyed by upload id. ``Run`` does the upload and publishes the
download URL in the workflow's durable promise ``url``; ``ResultAsEmail`` is a shared handler that
anyone can call, before or after ``Run`` finished, to have that URL mailed::

    client --Run/send------------> Restate --> Run: create bucket -> upload (slow) -> presign URL
    client --attach, short wait--> Restate         |                                      |
                                                   |                    resolve promise "url", return URL
    fast: the attach answers with the URL <--------+--------------------------------------+
    slow: the client stops waiting and calls
          --ResultAsEmail/send("jane@example.com")--> ResultAsEmail: await promise "url" -> send email

The client never has to choose up front: the upload keeps running durably whether or not anyone
waits for it, and the promise hands the result to whoever asks, however late.

Every AWS call is a journaled step (``ctx.run_typed``), so after a crash or a retry the workflow
resumes after the last finished step instead of creating the bucket or uploading again. The calls
themselves are in ``storage.py`` (S3) and ``mailer.py`` (SES). A second
``Run`` with the same upload id does not run at all: a workflow runs once per key. Sent again, it is
answered ``PreviouslyAccepted`` and an attach returns the first run's URL; called again, it is
refused with 409.

The upload takes a random time between ``UPLOAD_MIN_SECONDS`` and ``UPLOAD_MAX_SECONDS``
(settings.py; by default a range around the client's wait, so it sees both outcomes). The duration
comes from Restate's seeded random generator, so a replay draws the same one. It is spent inside
the upload step, not in a durable sleep, because it stands for the transfer itself: a real
transfer keeps the function busy and cannot be suspended half-way. That is why the Lambda timeout
must exceed the maximum.
"""

from __future__ import annotations

import restate
from restate import TerminalError

from functions.common.logs import pattern_logger
from functions.common.validation import pattern_app, typed_handler
from functions.data_upload.email_address import EmailAddress
from functions.data_upload.mailer import send_url_by_email
from functions.data_upload.settings import Settings
from functions.data_upload.storage import bucket_name, create_bucket, presigned_url, upload_data

logger = pattern_logger(__name__)

SETTINGS = Settings.current()
UPLOAD_MIN_SECONDS = SETTINGS.upload_min_seconds.total_seconds()
UPLOAD_MAX_SECONDS = SETTINGS.upload_max_seconds.total_seconds()

URL_PROMISE = "url"


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


@typed_handler(data_upload_service.handler, "ResultAsEmail")
async def result_as_email(ctx: restate.WorkflowSharedContext, email: EmailAddress) -> None:
    """Wait until ``Run`` has published the URL (or return at once if it has) and email it."""
    recipient = email.root
    url = await ctx.promise(URL_PROMISE, type_hint=str).value()
    await ctx.run_typed("send email", send_url_by_email, recipient=recipient, upload_id=ctx.key(), url=url)
    logger.info("Emailed the URL of upload %s to %s", ctx.key(), recipient)


app = pattern_app([data_upload_service])

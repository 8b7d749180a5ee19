"""S3, where an upload's data goes: one bucket per upload, the data in it, a presigned URL to it.

Each function here is the action of one journaled step of ``DataUploadService/Run``, so it must be
safe to run again: a step that did its work and crashed before Restate journaled its result is
retried from the start.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
from typing import Any

from restate import TerminalError

from functions.data_upload.settings import Settings

logger = logging.getLogger(__name__)
"""Plain, not replay-aware: step actions run only when the step really executes, so every line is a real attempt."""

BUCKET_PREFIX = Settings.current().bucket_prefix
REGION = os.environ.get("AWS_REGION")

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
# Lambda serves many invocations. Created on first use, and boto3 imported only then: importing it
# takes longer than the rest of the function's cold start, which the Run handler's first steps
# (before any AWS call) and every other handler should not pay.
@functools.cache
def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # SigV4: the only signature S3 accepts for presigned URLs in newer regions.
    return boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))


def create_bucket(bucket: str) -> None:
    from botocore.exceptions import ClientError

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
    from botocore.exceptions import ClientError

    logger.info("Uploading the data of upload %s to bucket %s (takes %.1f s)", upload_id, bucket, seconds)
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
        logger.warning("Bucket %s is gone; creating it again for upload %s", bucket, upload_id)
        create_bucket(bucket)
        s3_client().put_object(**upload)


def uploaded_data(upload_id: str) -> str:
    return f"The data of upload {upload_id}\n"


def presigned_url(bucket: str) -> str:
    url: str = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": OBJECT_KEY}, ExpiresIn=URL_EXPIRY_SECONDS
    )
    return url

"""Start an upload and wait a little for its URL; if it takes too long, have the URL emailed instead.

    python -m local.clients.data_upload --id upload-1 --email jane@example.com
    python -m local.clients.data_upload --id upload-2 --email jane@example.com --wait 1

The upload id is the workflow key: the upload runs once per id, so use a new id for each upload.
Running the client again with a used id gets that upload's URL, without uploading again.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

import httpx

from functions.data_upload.email_address import looks_like_an_email_address
from functions.front_door.flows import DEFAULT_UPLOAD_WAIT_SECONDS, UploadOutcome
from local.clients import IngressError, add_ingress_arguments, checked, ingress_client


def upload_data(
    ingress_url: str,
    upload_id: str,
    email: str,
    wait_seconds: float = DEFAULT_UPLOAD_WAIT_SECONDS,
    token: str | None = None,
) -> UploadOutcome:
    workflow = f"/DataUploadService/{quote(upload_id, safe='')}"
    with ingress_client(ingress_url, token) as client:
        # Send, then attach: the upload runs on in Restate however long this client is willing to wait.
        submission = checked(client.post(f"{workflow}/Run/send")).json()
        already_started = submission["status"] == "PreviouslyAccepted"
        url = attach_within(client, f"/restate/workflow{workflow}/attach", wait_seconds)
        if url is not None:
            return UploadOutcome(upload_id, url=url, emailed_to=None, already_started=already_started)
        email_request = checked(client.post(f"{workflow}/ResultAsEmail/send", json=email)).json()
    return UploadOutcome(
        upload_id,
        url=None,
        emailed_to=email,
        already_started=already_started,
        email_invocation_id=email_request["invocationId"],
    )


def attach_within(client: httpx.Client, attach_path: str, wait_seconds: float) -> str | None:
    """The workflow's result if it comes within ``wait_seconds``, else None (the workflow runs on)."""
    if wait_seconds <= 0:
        return None  # httpx reads a zero timeout as "fail at once", even before connecting
    try:
        attached = client.get(attach_path, timeout=wait_seconds)
    except httpx.TimeoutException:
        return None
    url: str = checked(attached).json()
    return url


def email_argument(value: str) -> str:
    # Checked up front: the service would refuse it only once the upload turned out slow.
    try:
        return looks_like_an_email_address(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds_argument(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("use a number of seconds, e.g. 5 or 0.5") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("the wait cannot be negative")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--id", required=True, help="upload id (the workflow key); a new one for each upload")
    parser.add_argument(
        "--email", required=True, type=email_argument, help="where to send the URL if the upload is slow"
    )
    parser.add_argument(
        "--wait",
        type=seconds_argument,
        default=DEFAULT_UPLOAD_WAIT_SECONDS,
        help="seconds to wait for the URL before asking for an email (default %(default)g)",
    )
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    try:
        outcome = upload_data(args.ingress, args.id, args.email, args.wait, args.token)
    except (IngressError, httpx.HTTPError, OSError) as error:
        sys.exit(f"upload failed: {error}")
    print(outcome.describe(args.wait))


if __name__ == "__main__":
    main()

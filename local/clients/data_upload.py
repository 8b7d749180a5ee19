"""Start an upload and wait a little for its URL; if it takes too long, have the URL emailed instead.

    python -m local.clients.data_upload --id upload-1 --email jane@example.com
    python -m local.clients.data_upload --id upload-2 --email jane@example.com --wait 1

The upload id is the workflow key: the upload runs once per id, so use a new id for each upload.
Running the client again with a used id gets that upload's URL, without uploading again.
"""

from __future__ import annotations

import argparse

from functions.data_upload.email_address import looks_like_an_email_address
from functions.front_door.flows import DEFAULT_UPLOAD_WAIT_SECONDS, UploadOutcome
from local.clients import Ingress, add_ingress_arguments, checked_as, exit_when_a_call_fails, run_flow


def upload_data(
    ingress: Ingress,
    upload_id: str,
    email: str,
    wait_seconds: float = DEFAULT_UPLOAD_WAIT_SECONDS,
    token: str | None = None,
) -> UploadOutcome:
    """Start the upload (or find a used id's) and wait up to ``wait_seconds`` for its URL, else have it emailed."""
    return run_flow(ingress, token, lambda flows: flows.upload(upload_id, email, wait_seconds))


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
        "--email",
        required=True,
        type=checked_as(looks_like_an_email_address),
        help="where to send the URL if the upload is slow",
    )
    parser.add_argument(
        "--wait",
        type=seconds_argument,
        default=DEFAULT_UPLOAD_WAIT_SECONDS,
        help="seconds to wait for the URL before asking for an email (default %(default)g)",
    )
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    with exit_when_a_call_fails("upload"):
        outcome = upload_data(args.ingress, args.id, args.email, args.wait, args.token)
    print(outcome.describe(args.wait))


if __name__ == "__main__":
    main()

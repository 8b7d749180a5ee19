"""The upload scenario, as `make demo` runs it: one upload, fast (URL) or slow (email), both are fine."""

from __future__ import annotations

import uuid

import httpx

from functions.front_door.flows import DEFAULT_UPLOAD_WAIT_SECONDS
from local.clients import Ingress, attach_to_invocation
from local.clients.data_upload import upload_data

DEMO_EMAIL = "demo@example.com"


def run_demo(ingress: Ingress) -> str:
    upload_id = f"upload-{uuid.uuid4().hex[:8]}"
    # The upload takes a random time (0-10 s by default), so either path may come up.
    outcome = upload_data(ingress, upload_id, DEMO_EMAIL, DEFAULT_UPLOAD_WAIT_SECONDS)
    if outcome.already_started:
        raise AssertionError(f"the fresh upload id {upload_id} was reported as used before")
    if outcome.url is not None:
        downloaded = httpx.get(outcome.url, timeout=30)
        if downloaded.status_code != 200 or upload_id not in downloaded.text:
            raise AssertionError(f"the URL should serve the uploaded data; got HTTP {downloaded.status_code}")
        return f"fast upload: the URL came within {DEFAULT_UPLOAD_WAIT_SECONDS:g} s and serves the data"
    if outcome.emailed_to != DEMO_EMAIL or outcome.email_invocation_id is None:
        raise AssertionError(f"a slow upload should request an email to {DEMO_EMAIL}, got {outcome}")
    # Wait for the email to be out, so that the demo leaves no work behind.
    attach_to_invocation(ingress, outcome.email_invocation_id, timeout=60)
    return f"slow upload: no URL within {DEFAULT_UPLOAD_WAIT_SECONDS:g} s, so it was emailed to {DEMO_EMAIL} when ready"

"""Webhook callbacks: what is checked without a stack (the rest: tests/stack/test_webhook_callbacks.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.webhook_callbacks.stripe_signature import SignatureError, signature_header, verify_signature

SECRET = "whsec_test_0123456789abcdef"
TOLERANCE_SECONDS = 300


def test_signature_round_trip_tolerance_edges_and_odd_input():
    body = b'{"id": "evt_1"}'
    header = signature_header(SECRET, body, 1_700_000_000)
    tolerance = timedelta(seconds=TOLERANCE_SECONDS)
    assert verify_signature(header, body, SECRET, now=1_700_000_000 + TOLERANCE_SECONDS, tolerance=tolerance) == (
        1_700_000_000
    )
    with pytest.raises(SignatureError, match="old"):
        verify_signature(header, body, SECRET, now=1_700_000_000 + TOLERANCE_SECONDS + 1, tolerance=tolerance)
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_signature(header, body, "whsec_other", now=1_700_000_000, tolerance=tolerance)
    # compare_digest refuses non-ASCII str; a forged header must still be a SignatureError (a 400).
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_signature(header.replace("v1=", "v1=é"), body, SECRET, now=1_700_000_000, tolerance=tolerance)

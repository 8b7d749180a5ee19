"""Stripe's webhook signature scheme: sign and verify ``Stripe-Signature`` headers.

Stripe signs each delivery with the endpoint's signing secret and sends::

    Stripe-Signature: t=1700000000,v1=5257a869...,v1=...

where every ``v1`` is the hex HMAC-SHA256 of ``"<t>.<raw request body>"`` (several ``v1`` entries
appear while a secret is being rolled). The signature covers the exact bytes that were sent, so it
must be checked against the raw body, before any JSON parsing could reorder or reformat it. The
timestamp is signed too, which lets the receiver refuse an old delivery that someone replays.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta

SIGNATURE_HEADER = "Stripe-Signature"
SIGNATURE_SCHEME = "v1"


class SignatureError(ValueError):
    """The request is not a genuine, fresh Stripe delivery; the message says why."""


def expected_signature(secret: str, body: bytes, timestamp: int) -> str:
    signed_payload = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` value Stripe would send for ``body`` signed at ``timestamp``."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={expected_signature(secret, body, timestamp)}"


def signature_header_of(headers: Mapping[str, str]) -> str | None:
    """The request's ``Stripe-Signature``, whatever spelling of the name the proxies on the way chose."""
    for name, value in headers.items():
        if name.lower() == SIGNATURE_HEADER.lower():
            return value
    return None


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures; other schemes (Stripe's test-only ``v0``) are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, separator, value = item.strip().partition("=")
        if not separator:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Stripe-Signature has a non-numeric timestamp") from None
        elif name == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp (t=...)")
    if not signatures:
        raise SignatureError(f"Stripe-Signature has no {SIGNATURE_SCHEME} signature")
    return timestamp, signatures


def verify_signature(header: str | None, body: bytes, secret: str, now: float, tolerance: timedelta) -> int:
    """Check ``header`` against the raw ``body``; returns the signing timestamp or raises SignatureError."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp, signatures = parse_signature_header(header)
    expected = expected_signature(secret, body, timestamp)
    # compare_digest takes the same time whatever the first differing character, so response
    # times do not reveal how much of a forged signature was right.
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures):
        raise SignatureError("no v1 signature in Stripe-Signature matches the request body")
    age = now - timestamp
    if abs(age) > tolerance.total_seconds():
        when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
        raise SignatureError(
            f"Stripe-Signature timestamp is {when}, outside the tolerance of {tolerance.total_seconds():.0f} s"
        )
    return timestamp

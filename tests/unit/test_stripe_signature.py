"""Our Stripe-Signature scheme, cross-checked against Stripe's own library.

``functions/webhook_callbacks/stripe_signature.py`` signs (for the client in
``local/clients/webhook_callbacks.py``) and verifies (in the router) without Stripe's SDK, which the
function does not ship. The ``stripe`` package (a development requirement only) is the reference:
what it signs we accept, what we sign it accepts, and what one refuses the other refuses too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from functions.webhook_callbacks.settings import Settings
from functions.webhook_callbacks.stripe_signature import (
    SignatureError,
    expected_signature,
    signature_header,
    verify_signature,
)
from local.clients.webhook_callbacks import WEBHOOK_PATH, post_stripe_event, stripe_event

SECRET = "whsec_unit_4f8a2c9e1b7d3f6a0c5e8b2d"
OTHER_SECRET = "whsec_unit_rolled_0a1b2c3d4e5f6a7b8c9d"
TOLERANCE = timedelta(seconds=stripe.Webhook.DEFAULT_TOLERANCE)
BODY = json.dumps(stripe_event("invoice.payment_failed", "in_1Pq2Rs3Tu4Vw5Xy6", "cus_Q7r8S9t0U1v2W3")).encode()
COMPACT_BODY = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
"""The same event in other bytes: what a receiver that re-serialized the JSON would check."""
TOO_OLD = int(TOLERANCE.total_seconds()) + 30


def signed_at(timestamp: int) -> str:
    return signature_header(SECRET, BODY, timestamp)


def ours_accepts(header: str, body: bytes = BODY, secret: str = SECRET) -> bool:
    try:
        verify_signature(header, body, secret, now=time.time(), tolerance=TOLERANCE)
    except SignatureError:
        return False
    return True


def stripes_accepts(header: str, body: bytes = BODY, secret: str = SECRET) -> bool:
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=int(TOLERANCE.total_seconds()))
    except stripe.SignatureVerificationError:
        return False
    return True


def test_the_router_s_default_tolerance_is_stripe_s():
    assert Settings.environment_defaults()["STRIPE_WEBHOOK_TOLERANCE_SECONDS"] == str(stripe.Webhook.DEFAULT_TOLERANCE)


def test_a_header_stripe_signs_is_accepted_by_ours():
    now = int(time.time())
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=now)
    assert verify_signature(header, BODY, SECRET, now=now + 1, tolerance=TOLERANCE) == now


def test_a_header_we_sign_is_accepted_by_stripe_and_builds_its_event():
    header = signed_at(int(time.time()))
    assert stripes_accepts(header)
    event = stripe.Webhook.construct_event(BODY, header, SECRET)
    assert (event.id, event.type) == (json.loads(BODY)["id"], "invoice.payment_failed")


def test_both_write_the_same_header_for_the_same_body_secret_and_time():
    body = '{"id": "evt_1", "note": "caf\u00e9 \u2615"}'  # the HMAC covers UTF-8 bytes, not characters
    assert signature_header(SECRET, body.encode(), 1_770_000_000) == (
        stripe.WebhookSignature.generate_signature_header(body, SECRET, timestamp=1_770_000_000)
    )


@pytest.mark.parametrize(
    ("make_header", "body", "checked_with"),
    [
        pytest.param(signed_at, BODY.replace(b"failed", b"succeeded"), SECRET, id="body changed"),
        pytest.param(signed_at, COMPACT_BODY, SECRET, id="body reformatted"),
        pytest.param(lambda now: signature_header(OTHER_SECRET, BODY, now), BODY, SECRET, id="signed with another"),
        pytest.param(signed_at, BODY, OTHER_SECRET, id="checked with another"),
        pytest.param(lambda now: signed_at(now)[:-1] + "x", BODY, SECRET, id="signature edited"),
        pytest.param(lambda now: signed_at(now).replace(f"t={now}", f"t={now - 1}"), BODY, SECRET, id="time edited"),
        pytest.param(lambda now: signed_at(now - TOO_OLD), BODY, SECRET, id="too old"),
        pytest.param(lambda now: signed_at(now).replace("v1=", "v0="), BODY, SECRET, id="v0 only"),
        pytest.param(lambda now: signed_at(now).split(",", 1)[1], BODY, SECRET, id="no timestamp"),
    ],
)
def test_what_stripe_refuses_ours_refuses(make_header, body, checked_with):
    header = make_header(int(time.time()))
    assert not stripes_accepts(header, body, checked_with), "the reference accepts it: the case is wrong"
    assert not ours_accepts(header, body, checked_with)


def test_while_a_secret_is_rolled_either_signature_is_enough_for_both():
    """During a roll Stripe signs with the old and the new secret: one v1 entry each."""
    now = int(time.time())
    rolled = f"{signature_header(OTHER_SECRET, BODY, now)},v1={expected_signature(SECRET, BODY, now)}"
    assert stripes_accepts(rolled) and ours_accepts(rolled)
    assert stripes_accepts(rolled, secret=OTHER_SECRET) and ours_accepts(rolled, secret=OTHER_SECRET)


def test_a_v0_entry_beside_a_valid_v1_is_ignored_by_both():
    now = int(time.time())
    header = f"{signed_at(now)},v0={expected_signature(OTHER_SECRET, BODY, now)}"
    assert stripes_accepts(header) and ours_accepts(header)


def test_ours_also_refuses_a_timestamp_from_the_future_which_stripe_lets_through():
    """Stripe checks only the age; a clock far ahead is as suspicious as one far behind."""
    future = signed_at(int(time.time()) + TOO_OLD)
    assert stripes_accepts(future)
    assert not ours_accepts(future)


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    """A loopback endpoint recording what the client sends where the ingress would receive it."""
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append((self.path, {name.lower(): value for name, value in self.headers.items()}, body))
            receipt = json.dumps({"event_id": json.loads(body)["id"], "type": "", "routed_to": None}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(receipt)))
            self.end_headers()
            self.wfile.write(receipt)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_s_delivery_verifies_in_stripe_over_the_bytes_it_sent(webhook_receiver):
    url, received = webhook_receiver
    post_stripe_event(url, BODY, signing_secret=SECRET)
    ((path, headers, body),) = received
    assert path == WEBHOOK_PATH and body == BODY
    event: Any = stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)
    assert event.type == "invoice.payment_failed"

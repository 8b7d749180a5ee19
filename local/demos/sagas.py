"""The booking scenario, as `make demo` runs it: a refused payment rolled back, then a booked trip."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from functions.common.restate_errors import restate_message
from local.clients import REPEATABLE, Ingress, ingress_client

EXAMPLE_REQUEST: dict[str, Any] = {
    "flights": {"flight_id": "12345", "passenger_name": "John Doe"},
    "car": {"pickup_location": "Airport", "rental_date": "2024-12-16"},
    "payment_info": {"card_number": "4111111111111111", "amount": 1500},
}
"""The booking of Restate's own sagas example (Go, "patterns-use-cases"): 1500 is over the provider's limit."""

ROLLED_BACK = re.compile(
    r"Undone: refunded payment (?P<payment>\S+), cancelled car booking (?P<car>\S+), "
    r"cancelled flight booking (?P<flight>\S+)$"
)
"""The end of the terminal error's message: the compensations that ran, in the order they ran."""


def book_trip(ingress: Ingress, trip_id: str, request: dict[str, Any], token: str | None = None) -> httpx.Response:
    """Start the booking workflow for ``trip_id`` and wait for its outcome (summary or terminal error).

    Sent, then attached to, rather than called: on a cluster either may go to another node when its
    node is gone (the workflow runs once per trip id, and a repeated send is ``PreviouslyAccepted``),
    where a repeated call would be refused as a second run (409). A trip id used before gets the
    outcome of its first booking.
    """
    trip = quote(trip_id, safe="")
    with ingress_client(ingress, token) as client:
        sent = client.post(f"/BookingWorkflow/{trip}/Run/send", json=request, extensions={REPEATABLE: True})
        if sent.is_error:
            return sent
        return client.get(f"/restate/workflow/BookingWorkflow/{trip}/attach")


def with_amount(amount: int) -> dict[str, Any]:
    request = copy.deepcopy(EXAMPLE_REQUEST)
    request["payment_info"]["amount"] = amount
    return request


def run_demo(ingress: Ingress) -> str:
    run = uuid.uuid4().hex[:8]

    refused = book_trip(ingress, f"trip-{run}-1500", EXAMPLE_REQUEST)
    if refused.status_code != 402:
        raise AssertionError(f"1500 should be refused with HTTP 402, got {refused.status_code}: {refused.text}")
    message = restate_message(refused.text)
    if "over the limit of 1000" not in message or not ROLLED_BACK.search(message):
        raise AssertionError(f"expected a refusal undone by refund, car and flight cancellation, got: {message}")

    booked = book_trip(ingress, f"trip-{run}-1000", with_amount(1000))
    if booked.status_code != 200:
        raise AssertionError(f"1000 should be booked, got HTTP {booked.status_code}: {booked.text}")
    summary = booked.json()
    if summary.get("amount_charged") != "1000" or not all(
        summary.get(field) for field in ("flight_booking_id", "car_booking_id", "payment_id")
    ):
        raise AssertionError(f"expected a booking summary charging 1000, got {summary}")

    return "1500 refused and rolled back (refund, car, flight); 1000 booked and confirmed"

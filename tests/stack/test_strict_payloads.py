"""A misspelled field is a terminal 400 naming it, in every pattern that takes a body, as at the front door.

Without it a typo such as ``descripton`` would be dropped in silence, and the handler would run on
whatever the rest of the body held. Stripe's events are the exception: they carry many more fields
than the handlers read, and refusing those would refuse every real delivery.
"""

from __future__ import annotations

from typing import Any

import pytest

BOOKING: dict[str, Any] = {
    "flights": {"flight_id": "12345", "passenger_name": "John Doe"},
    "car": {"pickup_location": "Airport", "rental_date": "2024-12-16"},
    "payment_info": {"card_number": "4111111111111111", "amount": 1000},
}


def misspelled_booking(part: str, field: str, misspelling: str) -> dict[str, Any]:
    request = {name: dict(value) for name, value in BOOKING.items()}
    request[part][misspelling] = request[part].pop(field)
    return request


@pytest.mark.parametrize(
    ("path", "body", "misspelled"),
    [
        pytest.param("/AsyncTaskWorker/RunTask", {"id": "t", "descripton": "x"}, "descripton", id="delayed_queue"),
        pytest.param(
            "/BookingWorkflow/{key}/Run",
            misspelled_booking("payment_info", "amount", "amout"),
            "payment_info.amout",
            id="sagas",
        ),
        pytest.param(
            "/Flights/Reserve", {"flight_id": "12345", "passanger_name": "J"}, "passanger_name", id="sagas-flights"
        ),
        pytest.param(
            "/UserFeed/{key}/ProcessPost", {"content": "Hi!", "metdata": "public"}, "metdata", id="event_transactions"
        ),
        pytest.param(
            "/PackageTracker/{key}/RegisterPackage",
            {"finalDestinaton": "Bridge 6, Amsterdam"},
            "finalDestinaton",
            id="event_enrichment",
        ),
        pytest.param(
            "/PackageTracker/{key}/UpdateLocation",
            {"timestamp": "2024-10-10 13:00", "locaton": "Paris"},
            "locaton",
            id="event_enrichment-update",
        ),
        pytest.param("/FanOutWorker/Run", {"descriptions": "a,b"}, "descriptions", id="parallelize_work"),
        pytest.param("/FanOutWorker/RunSubtask", {"descripton": "a"}, "descripton", id="parallelize_work-subtask"),
    ],
)
def test_a_misspelled_field_is_a_400_naming_it(ingress, unique, path, body, misspelled):
    response = ingress.post(path.format(key=unique), json=body)
    assert response.status_code == 400, response.text
    assert f"{misspelled}: Extra inputs are not permitted" in response.json()["message"]


def stripe_event(event_id: str, event_type: str, invoice_id: str) -> dict[str, Any]:
    """An event with some of the many fields Stripe sends besides the ones the handlers read."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "livemode": False,
        "type": event_type,
        "created": 1735689600,
        "data": {"object": {"id": invoice_id, "object": "invoice", "customer": "cus_1", "amount_due": 1500}},
    }


def test_stripe_events_are_read_for_what_the_handlers_need_and_their_other_fields_are_left_alone(ingress, unique):
    invoice = f"in_{unique}"
    ignored = ingress.post(
        "/WebhookCallbackRouter/OnStripeEvent", json=stripe_event(f"evt_{unique}", "invoice.finalized", invoice)
    )
    assert ignored.status_code == 200, ignored.text
    assert ignored.json()["routed_to"] is None

    paid = ingress.post(
        f"/PaymentTracker/{invoice}/OnPaymentSuccess",
        json=stripe_event(f"evt_{unique}_paid", "invoice.payment_succeeded", invoice),
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["paid"] is True

"""BookingWorkflow, Flights and CarRentals through Restate -> local Lambda runtime -> functions/sagas.

What the simulated systems did is read from the function's log: each of them logs one line per
request, naming the booking or payment id. Tests pick the lines of their own ids, so tests that
share the stack do not see each other's bookings.

Failures are injected with the payment provider's test cards (see payment_provider.py): card
``40000000000000CR`` loses the provider's answer to the first C charges and R refunds of a payment,
after doing the work. TEST_SETTINGS allow the charge 3 attempts.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from local.demos.sagas import EXAMPLE_REQUEST, ROLLED_BACK, book_trip, run_demo
from tests.stack_setup import TEST_SETTINGS

CHARGE_MAX_ATTEMPTS = int(TEST_SETTINGS["BOOKING_CHARGE_MAX_ATTEMPTS"])


def trip_request(unique: str, amount: int | str, card_number: str = "4111111111111111") -> dict[str, Any]:
    request = copy.deepcopy(EXAMPLE_REQUEST)
    request["flights"]["flight_id"] = f"F-{unique}"
    request["car"]["pickup_location"] = f"Airport {unique}"
    request["payment_info"] = {"card_number": card_number, "amount": amount}
    return request


def flaky_card(lost_charge_answers: int, lost_refund_answers: int) -> str:
    return f"40000000000000{lost_charge_answers}{lost_refund_answers}"


def sagas_log(stack) -> list[str]:
    """The messages the pattern's loggers wrote, in the order they were written."""
    messages = []
    for line in stack.lambda_runtime.log_path("sagas").read_text(errors="replace").splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[2].startswith("functions.sagas."):
            messages.append(fields[3])
    return messages


def lines_about(stack, *ids: str) -> list[str]:
    """The log messages naming any of ``ids``, each shortened to the part before a " (" detail."""
    return [message.split(" (")[0] for message in sagas_log(stack) if any(i in message for i in ids)]


def flight_booking_of(stack, unique: str) -> str:
    reserved = [m for m in sagas_log(stack) if m.startswith("Flight reserved: ") and f"flight F-{unique} " in m]
    assert len(reserved) == 1, reserved
    return reserved[0].removeprefix("Flight reserved: ").split(" ")[0]


def rolled_back_ids(response) -> tuple[str, str, str]:
    match = ROLLED_BACK.search(response.json()["message"])
    assert match, response.json()["message"]
    return match["payment"], match["car"], match["flight"]


def workflow_invocation(admin, trip_id: str) -> dict[str, Any]:
    rows = admin.query(
        "SELECT status, completion_result, completion_failure FROM sys_invocation "
        f"WHERE target_service_name = 'BookingWorkflow' AND target_service_key = '{trip_id}'"
    )
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row


def test_the_examples_1500_is_refused_and_compensated_in_reverse_order(stack, admin, unique):
    trip = f"trip-{unique}"
    response = book_trip(stack.ingress_url, trip, trip_request(unique, 1500))

    assert response.status_code == 402, response.text
    message = response.json()["message"]
    assert message.startswith(f"Trip {trip} was not booked: payment ")
    assert "1500 is over the limit of 1000" in message
    payment, car, flight = rolled_back_ids(response)
    assert flight == flight_booking_of(stack, unique)
    assert lines_about(stack, payment, car, flight) == [
        f"Flight reserved: {flight}",
        f"Car reserved: {car}",
        f"Payment refused: {payment}",
        f"Trip {trip} failed",
        # The refund runs although nothing was charged: the saga cannot know, the provider can.
        f"Nothing to refund for payment {payment}: its charge was refused",
        f"Car cancelled: {car}",
        f"Flight cancelled: {flight}",
    ]
    row = workflow_invocation(admin, trip)
    assert (row["status"], row["completion_result"]) == ("completed", "failure")
    assert row["completion_failure"].startswith("[402]")


def test_1000_is_booked_and_confirmed(stack, unique):
    trip = f"trip-{unique}"
    response = book_trip(stack.ingress_url, trip, trip_request(unique, 1000))

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["trip_id"] == trip and summary["amount_charged"] == "1000"
    flight, car, payment = summary["flight_booking_id"], summary["car_booking_id"], summary["payment_id"]
    assert flight == flight_booking_of(stack, unique)
    lines = lines_about(stack, payment, car, flight)
    assert lines[:3] == [f"Flight reserved: {flight}", f"Car reserved: {car}", f"Charged payment: {payment}"]
    # The two confirmations run at once, in either order.
    assert sorted(lines[3:]) == sorted([f"Flight confirmed: {flight}", f"Car confirmed: {car}"])
    assert f"Trip {trip} booked" in sagas_log(stack)


def test_transient_charge_failures_are_retried_and_nothing_is_compensated(stack, unique):
    lost = CHARGE_MAX_ATTEMPTS - 1
    response = book_trip(stack.ingress_url, f"trip-{unique}", trip_request(unique, 1000, flaky_card(lost, 0)))

    assert response.status_code == 200, response.text
    summary = response.json()
    flight, car, payment = summary["flight_booking_id"], summary["car_booking_id"], summary["payment_id"]
    lines = lines_about(stack, payment, car, flight)
    assert lines[:-2] == [
        f"Flight reserved: {flight}",
        f"Car reserved: {car}",
        # The charge step ran three times with the same payment id; the provider charged once.
        f"Charged payment: {payment}",
        f"Lost the answer to charge request 1 of payment {payment}",
        f"Repeated charge of payment {payment}: already charged, nothing charged again",
        f"Lost the answer to charge request 2 of payment {payment}",
        f"Repeated charge of payment {payment}: already charged, nothing charged again",
    ]
    assert sorted(lines[-2:]) == sorted([f"Flight confirmed: {flight}", f"Car confirmed: {car}"])


def test_a_charge_that_never_answers_is_given_up_then_refunded_exactly_once(stack, unique):
    trip = f"trip-{unique}"
    card = flaky_card(CHARGE_MAX_ATTEMPTS, 1)
    response = book_trip(stack.ingress_url, trip, trip_request(unique, 1000, card))

    assert response.status_code == 500, response.text
    assert response.json()["message"].startswith(f"Trip {trip} was not booked: ")
    payment, car, flight = rolled_back_ids(response)
    repeated_charge = f"Repeated charge of payment {payment}: already charged, nothing charged again"
    assert lines_about(stack, payment, car, flight) == [
        f"Flight reserved: {flight}",
        f"Car reserved: {car}",
        # The charge went through at the first attempt, but the saga never heard of it...
        f"Charged payment: {payment}",
        f"Lost the answer to charge request 1 of payment {payment}",
        repeated_charge,
        f"Lost the answer to charge request 2 of payment {payment}",
        repeated_charge,
        f"Lost the answer to charge request 3 of payment {payment}",
        f"Trip {trip} failed",
        # ...so the refund registered before the charge finds it and gives the money back, once,
        # although its own first answer was lost and it was asked twice.
        f"Refunded payment: {payment}",
        f"Lost the answer to refund request 1 of payment {payment}",
        f"Repeated refund of payment {payment}: already refunded, nothing refunded again",
        f"Car cancelled: {car}",
        f"Flight cancelled: {flight}",
    ]


def test_a_trip_runs_once_and_its_outcome_stays_available_without_charging_again(stack, ingress, unique):
    trip = f"trip-{unique}"
    first = book_trip(stack.ingress_url, trip, trip_request(unique, 1000))
    again = ingress.post(f"/BookingWorkflow/{trip}/Run", json=trip_request(unique, 1000))
    booked_again = book_trip(stack.ingress_url, trip, trip_request(unique, 1000))
    attached = ingress.get(f"/restate/workflow/BookingWorkflow/{trip}/attach")

    assert first.status_code == 200, first.text
    # A workflow runs once per key: Restate refuses a second Run and keeps the first one's outcome.
    assert again.status_code == 409, again.text
    assert attached.status_code == 200 and attached.json() == first.json()
    assert booked_again.status_code == 200 and booked_again.json() == first.json()
    payment = first.json()["payment_id"]
    assert lines_about(stack, payment) == [f"Charged payment: {payment}"]


def test_the_demo_passes(stack):
    assert "rolled back" in run_demo(stack.ingress_url)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["flights"].pop("flight_id"), "flights.flight_id"),
        (lambda r: r["flights"].update(passenger_name=""), "flights.passenger_name"),
        (lambda r: r["car"].update(rental_date="16/12/2024"), "car.rental_date"),
        (lambda r: r["payment_info"].update(amount=-5), "payment_info.amount"),
        (lambda r: r["payment_info"].update(amount="lots"), "payment_info.amount"),
        (lambda r: r["payment_info"].update(card_number="4111-1111"), "payment_info.card_number"),
        (lambda r: r.pop("car"), "car"),
    ],
)
def test_bad_input_is_a_terminal_400_naming_the_field_and_books_nothing(stack, admin, unique, change, field):
    request = trip_request(unique, 1000)
    change(request)
    trip = f"trip-{unique}"
    response = book_trip(stack.ingress_url, trip, request)

    assert response.status_code == 400, response.text
    assert re.search(rf"\b{re.escape(field)}:", response.json()["message"]), response.json()["message"]
    row = workflow_invocation(admin, trip)
    # Failed at its first attempt (a retried invocation would be backing off), before any step.
    assert (row["status"], row["completion_result"]) == ("completed", "failure")
    assert row["completion_failure"].startswith("[400]")
    assert not any(f"F-{unique}" in message for message in sagas_log(stack))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/Flights/Reserve", {"flight_id": "1"}, "passenger_name"),
        ("/CarRentals/Reserve", {"pickup_location": "Airport", "rental_date": "soon"}, "rental_date"),
        ("/Flights/Cancel", 5, "BookingId"),
        ("/CarRentals/Confirm", "", "BookingId"),
    ],
)
def test_bad_input_to_flights_and_car_rentals_is_a_terminal_400(ingress, path, body, field):
    response = ingress.post(path, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]

"""Sagas: book a trip across three systems, and undo what was done when a step fails for good.

``BookingWorkflow/<trip id>/Run`` reserves a flight and a rental car, charges the payment and
then confirms both reservations. Every step that takes effect somewhere else comes with a
*compensation*, the action that undoes it, pushed onto a list. When a step fails with a terminal
error, the workflow runs the list backwards and then ends with a terminal error itself::

    Run(trip)
      flight = Flights.Reserve(flights)             push  Flights.Cancel(flight)
      car    = CarRentals.Reserve(car)              push  CarRentals.Cancel(car)
      payment id = ctx.uuid()                       push  refund(payment id)     <- before the charge
      charge(payment id, card, amount)              a journaled step (ctx.run)
      Flights.Confirm(flight) and CarRentals.Confirm(car), together
      -> booking summary

    a terminal error in any step, e.g. the charge refused:
      refund(payment id) -> CarRentals.Cancel(car) -> Flights.Cancel(flight)
      -> terminal error "Trip <id> was not booked: <why>. Undone: <what>"

The airline and the car rental company (``travel_partners.py``) and the payment provider
(``payment_provider.py``) are simulated beside this module.

On Lambda each awaited call or step ends the workflow's invocation until a result is in: a booked
trip is ten Lambda invocations (six of the workflow, one per reservation and per confirmation). The
two confirmations are independent, so they run at the same time; awaiting them together does not
save an invocation (Restate resumes the workflow when the first answer comes, and it suspends again
for the second), but the trip is booked as soon as the slower of the two is confirmed.
The reservations stay one after the other on purpose: a flight that cannot be reserved then never
leaves a car reservation behind to cancel.

Restate makes this short: every step is journaled (an RPC or ``ctx.run``), so a retry replays
finished steps from the journal instead of repeating them and rebuilds the same list of
compensations, and once the compensations have started they run to the end, even across crashes.

When to push a compensation:

* Flights and car rentals are two-phase: ``Reserve`` returns a booking id and nothing is final
  until ``Confirm``. Cancelling needs the booking id, so the compensation is pushed right after
  ``Reserve`` returns it; a failed ``Reserve`` left nothing that would ever be confirmed.
* The payment goes through in one call. If that call fails, say with a time out, nobody knows
  whether the money moved. So the refund is pushed *before* the charge, and both carry the same
  payment id, which the provider uses as idempotency key: however often the charge is retried it
  takes effect once, and the refund returns exactly what was charged (nothing if the charge never
  went through). The id comes from ``ctx.uuid()``, which is seeded by the invocation, so every
  retry and replay of the workflow uses the same payment id.

Transient errors are not the saga's business: they are retried, and nothing is undone. Flights and
CarRentals run as invocations of their own, which Restate retries; the workflow only ever sees
their final answer. The charge is attempted up to ``BOOKING_CHARGE_MAX_ATTEMPTS`` times
(settings.py), with a growing back-off in between; then the SDK turns its last error into a
terminal one and the saga compensates, refunding the payment if it did go through after all.
Compensations have no attempt limit of their own: they are retried with the invocation's retry
policy, so each must be idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, NamedTuple

import restate
from pydantic import BaseModel, ConfigDict, Field
from restate import RunOptions, TerminalError

from functions.common.logs import pattern_logger
from functions.common.validation import pattern_app, typed_handler
from functions.sagas import payment_provider
from functions.sagas.settings import Settings
from functions.sagas.travel_partners import (
    BookingId,
    CarRequest,
    FlightRequest,
    cancel_car,
    cancel_flight,
    car_rentals,
    confirm_car,
    confirm_flight,
    flights,
    reserve_car,
    reserve_flight,
)

logger = pattern_logger(__name__)

CHARGE_MAX_ATTEMPTS = Settings.current().charge_max_attempts
PAYMENT_REFUSED = 402


class PaymentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: Annotated[str, Field(pattern=r"^[0-9]{12,19}$")]
    amount: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flights: FlightRequest
    car: CarRequest
    payment_info: PaymentInfo


class BookingSummary(BaseModel):
    trip_id: str
    flight_booking_id: str
    car_booking_id: str
    payment_id: str
    amount_charged: Decimal


# --- The payment steps: the provider's answers turned into Restate's terminal / transient errors. ---


def charge_payment(payment_id: str, payment: PaymentInfo) -> None:
    try:
        payment_provider.charge(payment_id, payment.card_number, payment.amount)
    except payment_provider.PaymentRefused as refusal:
        # Asking again would get the same answer: terminal. A ProviderUnavailable stays an
        # ordinary exception, which the step retries.
        raise TerminalError(str(refusal), status_code=PAYMENT_REFUSED) from None


def refund_payment(payment_id: str) -> None:
    payment_provider.refund(payment_id)


# --- The saga. ---


class Compensation(NamedTuple):
    description: str
    undo: Callable[[], Awaitable[object]]


booking_workflow = restate.Workflow("BookingWorkflow")


@typed_handler(booking_workflow.main, "Run")
async def run(ctx: restate.WorkflowContext, booking: BookingRequest) -> BookingSummary:
    trip_id = ctx.key()
    compensations: list[Compensation] = []
    try:
        flight_booking_id = await ctx.service_call(reserve_flight, booking.flights)
        compensations.append(
            Compensation(
                f"cancelled flight booking {flight_booking_id}",
                lambda: ctx.service_call(cancel_flight, BookingId(flight_booking_id)),
            )
        )

        car_booking_id = await ctx.service_call(reserve_car, booking.car)
        compensations.append(
            Compensation(
                f"cancelled car booking {car_booking_id}",
                lambda: ctx.service_call(cancel_car, BookingId(car_booking_id)),
            )
        )

        payment_id = str(ctx.uuid())
        # Pushed before charging: a charge that fails may still have gone through.
        compensations.append(
            Compensation(
                f"refunded payment {payment_id}",
                lambda: ctx.run_typed("refund", refund_payment, payment_id=payment_id),
            )
        )
        await ctx.run_typed(
            "charge",
            charge_payment,
            RunOptions(max_attempts=CHARGE_MAX_ATTEMPTS),
            payment_id=payment_id,
            payment=booking.payment_info,
        )

        # Both confirmations at once: they are independent, so the trip waits for the slower one only.
        confirmations = [
            ctx.service_call(confirm_flight, BookingId(flight_booking_id)),
            ctx.service_call(confirm_car, BookingId(car_booking_id)),
        ]
        await restate.gather(*confirmations)
        for confirmation in confirmations:
            await confirmation  # raises the terminal error of a confirmation that failed
    except TerminalError as error:
        logger.warning("Trip %s failed (%s); undoing %d steps", trip_id, error.message, len(compensations))
        for compensation in reversed(compensations):
            await compensation.undo()
        undone = ", ".join(compensation.description for compensation in reversed(compensations)) or "nothing"
        raise TerminalError(
            f"Trip {trip_id} was not booked: {error.message}. Undone: {undone}", status_code=error.status_code
        ) from None

    logger.info("Trip %s booked", trip_id)
    return BookingSummary(
        trip_id=trip_id,
        flight_booking_id=flight_booking_id,
        car_booking_id=car_booking_id,
        payment_id=payment_id,
        amount_charged=booking.payment_info.amount,
    )


app = pattern_app([booking_workflow, flights, car_rentals])

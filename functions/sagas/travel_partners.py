"""The airline and the car rental company the saga books with: simulated, two-phase, and they only log.

``Reserve`` returns a booking id and holds the seat or the car; nothing is final until ``Confirm``,
and ``Cancel`` lets it go. Both take the booking id as their body (a JSON string). They are Restate
services of their own, so every call from the workflow is a journaled RPC that Restate retries
until it has an answer.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import restate
from pydantic import BaseModel, ConfigDict, Field, RootModel

from functions.common.logs import pattern_logger
from functions.common.validation import TypedHandler, typed_handler

logger = pattern_logger(__name__)

NonEmpty = Annotated[str, Field(min_length=1)]


class FlightRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flight_id: NonEmpty
    passenger_name: NonEmpty


class CarRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_location: NonEmpty
    rental_date: date


class BookingId(RootModel[NonEmpty]):
    """The body of Confirm and Cancel: the booking id Reserve returned, as a JSON string."""


def new_booking(ctx: restate.Context, booking: str, details: str) -> str:
    """A booking id for what ``Reserve`` holds: ``ctx.uuid()`` gives the same one when Restate retries the call."""
    booking_id = str(ctx.uuid())
    logger.info("%s reserved: %s (%s)", booking, booking_id, details)
    return booking_id


SettleBooking = TypedHandler[restate.Context, BookingId, None]
"""``Confirm`` or ``Cancel``: takes the booking id, answers nothing."""


def settlement_handlers(partner: restate.Service, booking: str) -> tuple[SettleBooking, SettleBooking]:
    """``partner``'s ``Confirm`` and ``Cancel``, the same for both partners: they log the ``booking`` they settle."""

    @typed_handler(partner.handler, "Confirm")
    async def confirm(ctx: restate.Context, booking_id: BookingId) -> None:
        logger.info("%s confirmed: %s", booking, booking_id.root)

    @typed_handler(partner.handler, "Cancel")
    async def cancel(ctx: restate.Context, booking_id: BookingId) -> None:
        logger.info("%s cancelled: %s", booking, booking_id.root)

    return confirm, cancel


flights = restate.Service("Flights")


@typed_handler(flights.handler, "Reserve")
async def reserve_flight(ctx: restate.Context, request: FlightRequest) -> str:
    return new_booking(ctx, "Flight", f"flight {request.flight_id} for {request.passenger_name}")


confirm_flight, cancel_flight = settlement_handlers(flights, "Flight")

car_rentals = restate.Service("CarRentals")


@typed_handler(car_rentals.handler, "Reserve")
async def reserve_car(ctx: restate.Context, request: CarRequest) -> str:
    return new_booking(ctx, "Car", f"at {request.pickup_location} on {request.rental_date}")


confirm_car, cancel_car = settlement_handlers(car_rentals, "Car")

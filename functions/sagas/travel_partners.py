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
from functions.common.validation import typed_handler

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


flights = restate.Service("Flights")


@typed_handler(flights.handler, "Reserve")
async def reserve_flight(ctx: restate.Context, request: FlightRequest) -> str:
    booking_id = str(ctx.uuid())
    logger.info("Flight reserved: %s (flight %s for %s)", booking_id, request.flight_id, request.passenger_name)
    return booking_id


@typed_handler(flights.handler, "Confirm")
async def confirm_flight(ctx: restate.Context, booking_id: BookingId) -> None:
    logger.info("Flight confirmed: %s", booking_id.root)


@typed_handler(flights.handler, "Cancel")
async def cancel_flight(ctx: restate.Context, booking_id: BookingId) -> None:
    logger.info("Flight cancelled: %s", booking_id.root)


car_rentals = restate.Service("CarRentals")


@typed_handler(car_rentals.handler, "Reserve")
async def reserve_car(ctx: restate.Context, request: CarRequest) -> str:
    booking_id = str(ctx.uuid())
    logger.info("Car reserved: %s (at %s on %s)", booking_id, request.pickup_location, request.rental_date)
    return booking_id


@typed_handler(car_rentals.handler, "Confirm")
async def confirm_car(ctx: restate.Context, booking_id: BookingId) -> None:
    logger.info("Car confirmed: %s", booking_id.root)


@typed_handler(car_rentals.handler, "Cancel")
async def cancel_car(ctx: restate.Context, booking_id: BookingId) -> None:
    logger.info("Car cancelled: %s", booking_id.root)

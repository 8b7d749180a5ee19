"""Sagas: BookingWorkflow with Flights, CarRentals and a simulated payment provider."""

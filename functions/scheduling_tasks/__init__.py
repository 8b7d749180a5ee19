"""Scheduling tasks: PaymentTracker, a reminder loop built from delayed self-calls."""

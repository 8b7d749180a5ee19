"""Stateful actors and durable state machines: MachineOperator."""

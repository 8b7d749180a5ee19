"""Parallelizing work (fan-out, fan-in): FanOutWorker."""

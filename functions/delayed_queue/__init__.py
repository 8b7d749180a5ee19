"""(Delayed) message queue: AsyncTaskWorker."""

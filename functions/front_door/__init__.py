"""Front door: the pattern clients' flows as one HTTP API (FastAPI + Mangum behind a Lambda Function URL)."""

"""Lambda handlers that exist only to test the local Lambda runtime and Restate's retries."""

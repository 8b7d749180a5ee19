"""Durable RPC with idempotency: ProductService."""

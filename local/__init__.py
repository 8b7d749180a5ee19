"""Helpers for running the project's backing services locally (no Docker)."""

"""Local stack: what is checked without a stack (the rest: tests/stack/test_local_stack.py)."""

from __future__ import annotations

from functions.catalog import PATTERNS
from local.stack import code_version, settings_from


def test_only_catalog_settings_are_taken_from_the_environment():
    environment = {"MACHINE_TRANSITION_SECONDS": "1", "PAYMENT_REMINDER_INTERVAL_SECONDS": "2", "HOME": "/root"}
    assert settings_from(environment) == {"MACHINE_TRANSITION_SECONDS": "1", "PAYMENT_REMINDER_INTERVAL_SECONDS": "2"}


def test_secret_settings_are_taken_by_value_locally():
    assert settings_from({"STRIPE_WEBHOOK_SECRET": "whsec_local"}) == {"STRIPE_WEBHOOK_SECRET": "whsec_local"}


def test_each_pattern_gets_its_own_code_version_shaped_like_a_lambda_alias():
    versions = {pattern.name: code_version(pattern.name) for pattern in PATTERNS}
    assert len(set(versions.values())) == len(PATTERNS)
    assert all(version.startswith("local-") and len(version) == 16 for version in versions.values())
    assert code_version("durable_rpc") == versions["durable_rpc"]

"""Pattern settings fail at cold start, naming the setting, when a value is malformed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from functions.common.settings import (
    probability_setting,
    seconds_setting,
    secret_arn_variable,
    secret_setting,
    whole_number_setting,
)


def test_unset_or_empty_settings_take_their_defaults(monkeypatch):
    monkeypatch.setenv("SOME_SECONDS", "")
    monkeypatch.delenv("SOME_COUNT", raising=False)
    assert seconds_setting("SOME_SECONDS", 5) == timedelta(seconds=5)
    assert whole_number_setting("SOME_COUNT", 3) == 3
    assert probability_setting("SOME_COUNT", 0.4) == 0.4


def test_given_settings_are_parsed(monkeypatch):
    monkeypatch.setenv("SOME_SECONDS", "0.25")
    monkeypatch.setenv("SOME_COUNT", "7")
    monkeypatch.setenv("SOME_PROBABILITY", "1")
    assert seconds_setting("SOME_SECONDS", 5) == timedelta(milliseconds=250)
    assert whole_number_setting("SOME_COUNT", 3, minimum=1) == 7
    assert probability_setting("SOME_PROBABILITY", 0.4) == 1.0


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_malformed_seconds_name_the_setting(monkeypatch, value):
    monkeypatch.setenv("SOME_SECONDS", value)
    with pytest.raises(ValueError, match="SOME_SECONDS"):
        seconds_setting("SOME_SECONDS", 5)


@pytest.mark.parametrize("value", ["many", "1.5", "-2", "0"])
def test_malformed_whole_numbers_name_the_setting(monkeypatch, value):
    monkeypatch.setenv("SOME_COUNT", value)
    with pytest.raises(ValueError, match="SOME_COUNT must be a whole number, at least 1"):
        whole_number_setting("SOME_COUNT", 3, minimum=1)


@pytest.mark.parametrize("value", ["often", "1.5", "-0.1"])
def test_probabilities_are_between_0_and_1(monkeypatch, value):
    monkeypatch.setenv("MACHINE_CRASH_PROBABILITY", value)
    with pytest.raises(ValueError, match="MACHINE_CRASH_PROBABILITY must be a probability between 0 and 1"):
        probability_setting("MACHINE_CRASH_PROBABILITY", 0.4)


# --- secret settings: the value itself locally, a Secrets Manager secret on AWS ---------------------


@pytest.fixture
def secrets(monkeypatch) -> Iterator[dict[str, str]]:
    """Secret ARNs by name, in an in-process moto, in the region a Lambda function reads from AWS_REGION."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SOME_TOKEN", raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        yield {
            name: client.create_secret(Name=f"patterns/{name}", SecretString=value)["ARN"]
            for name, value in {"whsec": "whsec_from_secrets_manager\n", "empty": " "}.items()
        }


def test_a_secret_setting_s_value_in_the_environment_wins(monkeypatch, secrets):
    monkeypatch.setenv("SOME_TOKEN", "whsec_local")
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets["whsec"])
    assert secret_setting("SOME_TOKEN") == "whsec_local"


@pytest.mark.parametrize("by", ["arn", "name"])
def test_a_secret_setting_is_read_from_the_secret_its_arn_names(monkeypatch, secrets, by):
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets["whsec"] if by == "arn" else "patterns/whsec")
    assert secret_setting("SOME_TOKEN") == "whsec_from_secrets_manager"


def test_a_secret_settings_arn_variable_does_not_double_a_trailing_secret():
    assert secret_arn_variable("SOME_TOKEN") == "SOME_TOKEN_SECRET_ARN"
    assert secret_arn_variable("STRIPE_WEBHOOK_SECRET") == "STRIPE_WEBHOOK_SECRET_ARN"


def test_a_secret_setting_given_neither_way_is_empty(monkeypatch):
    monkeypatch.setenv("SOME_TOKEN", "")
    monkeypatch.delenv("SOME_TOKEN_SECRET_ARN", raising=False)
    assert secret_setting("SOME_TOKEN") == ""


def test_an_unreadable_secret_is_an_error_naming_it(monkeypatch, secrets):
    missing = secrets["whsec"].replace("patterns/whsec", "patterns/missing")
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", missing)
    with pytest.raises(RuntimeError, match=f"cannot read SOME_TOKEN_SECRET_ARN={missing} from Secrets Manager"):
        secret_setting("SOME_TOKEN")


def test_an_empty_secret_is_an_error_not_a_silently_missing_setting(monkeypatch, secrets):
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets["empty"])
    with pytest.raises(RuntimeError, match="SOME_TOKEN_SECRET_ARN"):
        secret_setting("SOME_TOKEN")

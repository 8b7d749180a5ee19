"""Pattern settings: one model per pattern holds the defaults, and a malformed value fails at cold start naming it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import Field

from functions.catalog import HTTP_APIS, PATTERNS, HttpApi, Pattern
from functions.common import secrets
from functions.common.settings import (
    Names,
    PatternSettings,
    Probability,
    Seconds,
    secret_arn_variable,
    secret_setting,
)
from functions.data_upload.settings import Settings as DataUploadSettings
from functions.front_door.settings import Settings as FrontDoorSettings


class SomeSettings(PatternSettings):
    wait: Seconds = Field(timedelta(seconds=5), alias="SOME_SECONDS")
    count: int = Field(3, ge=1, alias="SOME_COUNT")
    probability: Probability = Field(0.4, alias="SOME_PROBABILITY")
    names: Names = Field(frozenset(), alias="SOME_NAMES")


def test_unset_or_empty_variables_take_their_defaults():
    assert SomeSettings.from_environment({"SOME_SECONDS": "", "HOME": "/root"}) == SomeSettings.model_validate({})
    assert SomeSettings.from_environment({}).wait == timedelta(seconds=5)


def test_given_variables_are_parsed():
    given = {"SOME_SECONDS": "0.25", "SOME_COUNT": "7", "SOME_PROBABILITY": "1", "SOME_NAMES": "a, b,,c"}
    settings = SomeSettings.from_environment(given)
    assert settings.wait == timedelta(milliseconds=250)
    assert settings.count == 7
    assert settings.probability == 1.0
    assert settings.names == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SOME_SECONDS", "soon"),
        ("SOME_SECONDS", "-1"),
        ("SOME_COUNT", "many"),
        ("SOME_COUNT", "1.5"),
        ("SOME_COUNT", "0"),
        ("SOME_PROBABILITY", "often"),
        ("SOME_PROBABILITY", "1.5"),
        ("SOME_PROBABILITY", "-0.1"),
    ],
)
def test_a_malformed_value_is_an_error_naming_the_variable_and_the_value(variable, value):
    with pytest.raises(ValueError, match=f"^{variable}='{value}' is not a valid setting: "):
        SomeSettings.from_environment({variable: value})


def test_the_defaults_are_written_as_the_environment_carries_them():
    assert SomeSettings.environment_defaults() == {
        "SOME_SECONDS": "5",
        "SOME_COUNT": "3",
        "SOME_PROBABILITY": "0.4",
        "SOME_NAMES": "",
    }


CATALOG_ENTRIES: list[Pattern | HttpApi] = [*PATTERNS, *HTTP_APIS]


@pytest.mark.parametrize(
    "entry", [entry for entry in CATALOG_ENTRIES if entry.settings_model], ids=lambda entry: entry.name
)
def test_the_catalog_s_settings_are_the_model_s_defaults_and_read_back_as_them(entry):
    model = entry.settings_model
    assert model is not None
    assert dict(entry.settings) == model.environment_defaults()
    assert tuple(entry.settings) == model.variables()
    assert model.from_environment(entry.settings) == model.from_environment({})


def test_the_front_door_s_settings_come_from_its_model():
    assert [api.settings_model for api in HTTP_APIS if api.name == "front_door"] == [FrontDoorSettings]


def test_a_setting_across_variables_is_checked_at_cold_start_too():
    with pytest.raises(ValueError, match=r"UPLOAD_MAX_SECONDS \(1\) is below UPLOAD_MIN_SECONDS \(4\)"):
        DataUploadSettings.from_environment({"UPLOAD_MIN_SECONDS": "4", "UPLOAD_MAX_SECONDS": "1"})


def test_an_upload_wait_above_the_longest_a_request_may_ask_for_fails_the_cold_start():
    expected = r"FRONT_DOOR_UPLOAD_WAIT_SECONDS \(30\) is above FRONT_DOOR_MAX_UPLOAD_WAIT_SECONDS \(25\)"
    with pytest.raises(ValueError, match=expected):
        FrontDoorSettings.from_environment({"FRONT_DOOR_UPLOAD_WAIT_SECONDS": "30"})


# --- secret settings: the value itself locally, a Secrets Manager secret on AWS ---------------------


@pytest.fixture
def secrets_in_moto(monkeypatch) -> Iterator[dict[str, str]]:
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


def test_a_secret_setting_s_value_in_the_environment_wins(monkeypatch, secrets_in_moto):
    monkeypatch.setenv("SOME_TOKEN", "whsec_local")
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets_in_moto["whsec"])
    assert secret_setting("SOME_TOKEN") == "whsec_local"


@pytest.mark.parametrize("by", ["arn", "name"])
def test_a_secret_setting_is_read_from_the_secret_its_arn_names(monkeypatch, secrets_in_moto, by):
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets_in_moto["whsec"] if by == "arn" else "patterns/whsec")
    assert secret_setting("SOME_TOKEN") == "whsec_from_secrets_manager"


def test_a_secret_settings_arn_variable_does_not_double_a_trailing_secret():
    assert secret_arn_variable("SOME_TOKEN") == "SOME_TOKEN_SECRET_ARN"
    assert secret_arn_variable("STRIPE_WEBHOOK_SECRET") == "STRIPE_WEBHOOK_SECRET_ARN"


def test_a_secret_setting_given_neither_way_is_empty(monkeypatch):
    monkeypatch.setenv("SOME_TOKEN", "")
    monkeypatch.delenv("SOME_TOKEN_SECRET_ARN", raising=False)
    assert secret_setting("SOME_TOKEN") == ""


def test_an_unreadable_secret_is_an_error_naming_it(monkeypatch, secrets_in_moto):
    missing = secrets_in_moto["whsec"].replace("patterns/whsec", "patterns/missing")
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", missing)
    expected = f"^SOME_TOKEN_SECRET_ARN: cannot read secret {re.escape(missing)} from Secrets Manager"
    with pytest.raises(RuntimeError, match=expected):
        secret_setting("SOME_TOKEN")


def test_an_empty_secret_is_an_error_not_a_silently_missing_setting(monkeypatch, secrets_in_moto):
    monkeypatch.setenv("SOME_TOKEN_SECRET_ARN", secrets_in_moto["empty"])
    with pytest.raises(RuntimeError, match="SOME_TOKEN_SECRET_ARN"):
        secret_setting("SOME_TOKEN")


def test_secrets_manager_is_asked_with_short_timeouts(monkeypatch):
    """A stuck call must not use up a cold start's init phase, or a registration, at botocore's 60 s reads."""
    asked: dict[str, Any] = {}

    class Client:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's naming
            return {"SecretString": " value "}

    def client(service: str, **options: Any) -> Client:
        asked.update(options, service=service)
        return Client()

    monkeypatch.setattr(boto3, "client", client)
    assert secrets.read_secret("some/secret") == "value"
    config = asked["config"]
    assert asked["service"] == "secretsmanager"
    assert (config.connect_timeout, config.read_timeout) == (3, 5)
    assert config.retries == {"max_attempts": 3, "mode": "standard"}

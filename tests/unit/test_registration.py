"""The registration custom resource's own logic, on CloudFormation's events, without a Restate.

What needs Restate to answer - registering, re-registering with force, pruning - is tested against
real restate-servers in tests/cdk/test_registration.py and tests/cdk/test_lifecycle.py. Here: what
the handler reads from the events, what it decides before it calls anything, and the one answer
that must fail it at once, a 401/403 from an authorizing proxy in front of the admin API
(``RecordingProxy`` answering every path itself, so nothing is behind it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from restate_lambda.local.processes import free_port
from restate_lambda.registration.admin import (
    UNAUTHORIZED,
    AdminApiUnreachable,
    RestateAdmin,
    SubscriptionSpec,
    parse_version,
)
from restate_lambda.registration.custom_resource import (
    DEPLOYMENT_RESOURCE,
    MINIMUM_RESTATE_VERSIONS,
    RegistrationFailed,
    handler,
    registration_metadata,
    subscription_id,
    subscription_spec,
)

from functions.catalog import pattern_named, subscription_options
from tests.cdk_support import TOKEN, RecordingProxy, lambda_context
from tests.events import load_event
from tests.stack_setup import UNREACHABLE_PORT

NOTHING_BEHIND = f"http://127.0.0.1:{UNREACHABLE_PORT.getsockname()[1]}"


@pytest.fixture(scope="module")
def proxy() -> Iterator[RecordingProxy]:
    # One for the module: stopping a server waits out its half-second poll.
    with RecordingProxy(NOTHING_BEHIND) as started:
        yield started


@pytest.fixture
def refusing_proxy(proxy: RecordingProxy, request: pytest.FixtureRequest) -> RecordingProxy:
    """An authorizing proxy that refuses every request with the status the test names (401 unless told)."""
    proxy.canned = {"/": (getattr(request, "param", 401), {"message": "Unauthorized"})}
    proxy.paths.clear()
    proxy.authorizations.clear()
    return proxy


def pointed_at(event: dict[str, Any], admin_url: str, token_secret: str = "") -> dict[str, Any]:
    """The event with the admin URL (and token secret) replaced: the captured ones name Restate Cloud and AWS."""
    for properties in (event["ResourceProperties"], event.get("OldResourceProperties")):
        if properties is not None:
            properties["AdminUrl"] = admin_url
            properties["AuthTokenSecretId"] = token_secret
    return event


# --- what the handler reads from the events ---------------------------------------------------------


def test_the_metadata_names_the_stack_the_resource_and_the_code():
    event = load_event("cloudformation_deployment_create")
    assert registration_metadata(event) == {
        "registered-by": "cloudformation",
        "cloudformation-stack": event["StackId"],
        "cloudformation-resource": "Registration",
        "code-hash": event["ResourceProperties"]["CodeHash"],
    }


def test_an_update_records_the_new_code_and_the_same_stack_and_resource_as_the_create():
    created = registration_metadata(load_event("cloudformation_deployment_create"))
    update = load_event("cloudformation_deployment_update")
    updated = registration_metadata(update)
    assert updated["code-hash"] == update["ResourceProperties"]["CodeHash"] != created["code-hash"]
    assert {key: value for key, value in updated.items() if key != "code-hash"} == {
        key: value for key, value in created.items() if key != "code-hash"
    }


def test_a_stack_created_again_is_told_apart_by_its_stack_id():
    """A re-created stack's function numbers its versions from 1 again: same ARNs, new stack id."""
    before = load_event("cloudformation_deployment_create")
    after = load_event("cloudformation_deployment_create")
    after["StackId"] = after["StackId"].rsplit("/", 1)[0] + "/0b1c2d3e-36f2-11f1-9a8b-0c1d2e3f4a5b"
    assert registration_metadata(before)["cloudformation-stack"] != registration_metadata(after)["cloudformation-stack"]


def test_a_subscription_event_names_its_source_sink_and_the_catalog_s_options():
    properties = load_event("cloudformation_subscription_create")["ResourceProperties"]
    pattern = pattern_named("event_transactions")
    (subscription,) = pattern.subscriptions
    spec = subscription_spec(properties)
    assert spec == SubscriptionSpec(
        source="kafka://my-cluster/social-media-posts",
        sink=subscription.sink,
        options=subscription_options("restate-patterns", pattern.name, subscription),
    )
    assert subscription_id(spec) == "kafka://my-cluster/social-media-posts -> service://UserFeed/ProcessPost"


# --- decided before calling anything ----------------------------------------------------------------


def test_deleting_a_retained_deployment_contacts_nothing(refusing_proxy):
    event = pointed_at(load_event("cloudformation_deployment_delete"), refusing_proxy.url)
    answer = handler(event, lambda_context(60))
    assert answer == {"PhysicalResourceId": event["PhysicalResourceId"], "Data": {"Removed": ""}}
    assert refusing_proxy.paths == []


def test_deleting_after_a_failed_create_contacts_nothing_even_with_the_destroy_policy(refusing_proxy):
    """A Create that failed has no ARN as its physical id: nothing was registered under it."""
    event = pointed_at(load_event("cloudformation_deployment_delete"), refusing_proxy.url)
    event["ResourceProperties"]["RemovalPolicy"] = "destroy"
    event["PhysicalResourceId"] = event["RequestId"]
    assert handler(event, lambda_context(60))["Data"] == {"Removed": ""}
    assert refusing_proxy.paths == []


def test_deleting_a_subscription_that_was_never_created_contacts_nothing(refusing_proxy):
    event = pointed_at(load_event("cloudformation_subscription_create"), refusing_proxy.url)
    event["RequestType"] = "Delete"
    event["PhysicalResourceId"] = event["RequestId"]
    assert handler(event, lambda_context(60)) == {"PhysicalResourceId": event["RequestId"], "Data": {}}
    assert refusing_proxy.paths == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ResourceType", "Custom::RestateSomethingElse", "unknown resource type Custom::RestateSomethingElse"),
        ("RequestType", "Replace", "unknown request type Replace"),
    ],
)
def test_an_unknown_resource_or_request_type_fails_saying_which(refusing_proxy, field, value, message):
    event = pointed_at(load_event("cloudformation_deployment_create"), refusing_proxy.url)
    event[field] = value
    with pytest.raises(RegistrationFailed, match=message):
        handler(event, lambda_context(60))
    assert refusing_proxy.paths == []


# --- Restate's version --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "version"),
    [
        ("1.7.12", (1, 7, 12)),
        ("1.6", (1, 6, 0)),
        ("v1.7.0", (1, 7, 0)),
        ("1.7.0-rc.1", (1, 7, 0)),
        (" 2.0.3\n", (2, 0, 3)),
        ("1.10.0+build.5", (1, 10, 0)),
    ],
)
def test_versions_are_read_as_numbers(reported, version):
    assert parse_version(reported) == version


@pytest.mark.parametrize("reported", ["", "unknown", "1", "latest-1.7", "one.seven"])
def test_a_string_that_is_no_version_is_refused(reported):
    with pytest.raises(ValueError, match="not a version"):
        parse_version(reported)


def test_versions_compare_by_number_not_by_text():
    assert parse_version("1.10.0") > parse_version("1.9.9") > parse_version("1.9")
    assert parse_version("1.7.0-rc.1") >= parse_version(MINIMUM_RESTATE_VERSIONS[DEPLOYMENT_RESOURCE])
    assert parse_version("1.5.6") < parse_version(MINIMUM_RESTATE_VERSIONS[DEPLOYMENT_RESOURCE])


def test_the_events_minimum_versions_are_the_handler_s_own():
    for name in ("cloudformation_deployment_create", "cloudformation_subscription_create"):
        event = load_event(name)
        assert event["ResourceProperties"]["MinimumRestateVersion"] == MINIMUM_RESTATE_VERSIONS[event["ResourceType"]]


# --- refused credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "refusing_proxy"),
    [("cloudformation_deployment_create", 401), ("cloudformation_deployment_update", 403)],
    indirect=["refusing_proxy"],
)
def test_refused_credentials_fail_at_once_after_one_request_carrying_the_token(refusing_proxy, token_secret, name):
    event = pointed_at(load_event(name), refusing_proxy.url, token_secret)
    started = time.monotonic()
    with pytest.raises(RegistrationFailed) as failed:
        # The registration function's whole default timeout: waiting for health must not use it up.
        handler(event, lambda_context(300))
    assert time.monotonic() - started < 5
    assert UNAUTHORIZED in str(failed.value) and refusing_proxy.url in str(failed.value)
    assert refusing_proxy.paths == ["/health"]
    assert refusing_proxy.authorizations == [f"Bearer {TOKEN}"]


def test_unreachable_admin_api_fails_within_the_deadline_with_a_clear_reason():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(AdminApiUnreachable) as unreachable:
        RestateAdmin(url).wait_until_healthy(timeout=0.5)
    assert time.monotonic() - started < 5
    assert url in str(unreachable.value) and "not healthy after 0.5 s" in str(unreachable.value)

"""The registration client against a real restate-server (and, for Kafka, a real broker)."""

from __future__ import annotations

import httpx
import pytest
from restate_lambda.registration.admin import (
    AdminApiError,
    RestateAdmin,
    SubscriptionSpec,
)

from functions.catalog import CONSUMER_GROUP_OPTION, PATTERNS
from local.stack import KAFKA_CLUSTER, LocalStack, subscription_spec
from tests.cdk_support import RecordingProxy


def test_every_catalog_function_is_registered_by_its_arn(stack, admin):
    registered = {deployment.get("arn"): deployment for deployment in admin.deployments()}
    for pattern in PATTERNS:
        deployment = registered[stack.function_arn(pattern.name)]
        assert {service["name"] for service in deployment["services"]} >= set(pattern.services)


def test_registering_a_new_arn_creates_it_and_registering_again_is_a_no_op(stack, admin, unique):
    arn = stack.lambda_runtime.function_arn("crash_once", f"v{unique}")
    first = admin.register_lambda(arn, metadata={"test": unique})
    again = admin.register_lambda(arn, metadata={"test": unique})
    assert first.created and not again.created
    assert first.id == again.id and first.services == again.services == ("CrashOnce",)
    assert [deployment["id"] for deployment in admin.deployments_of_arn(arn)] == [first.id]


def test_the_stack_registering_again_changes_nothing(stack, admin):
    before = sorted(deployment["id"] for deployment in admin.deployments())
    stack.register()
    assert sorted(deployment["id"] for deployment in admin.deployments()) == before


def test_an_arn_restate_cannot_invoke_is_refused_with_the_reason(stack, admin):
    arn = stack.lambda_runtime.function_arn("not_a_function", "1")
    with pytest.raises(AdminApiError) as refused:
        admin.register_lambda(arn)
    assert refused.value.status == 500
    assert str(refused.value).startswith(f"POST {stack.admin_url}/deployments failed with HTTP 500")
    assert f"ResourceNotFoundException: Function not found: {arn}" in refused.value.message


def test_a_bearer_token_is_sent_and_the_admin_api_answers_through_a_proxy_that_reads_it(stack):
    # The local server accepts any token, so a proxy in front of it records what the client sent.
    with RecordingProxy(stack.admin_url) as proxy:
        RestateAdmin(proxy.url, token="secret-token").wait_until_healthy(timeout=5)
    assert proxy.authorizations and set(proxy.authorizations) == {"Bearer secret-token"}


@pytest.mark.kafka
def test_reconciling_the_catalog_twice_leaves_exactly_the_catalog_subscriptions(kafka_stack: LocalStack):
    admin = kafka_stack.admin()
    catalog = [subscription_spec(pattern, sub) for pattern in PATTERNS for sub in pattern.subscriptions]
    assert catalog, "the catalog declares Kafka subscriptions"
    # The stack reconciled once while starting (as `make dev` does each time); twice more changes nothing.
    for _ in range(2):
        assert admin.reconcile_subscriptions(catalog).created == ()
    pairs = [(sub["source"], sub["sink"]) for sub in admin.subscriptions()]
    assert sorted(pairs) == sorted((spec.source, spec.sink) for spec in catalog)
    by_pair = {(sub["source"], sub["sink"]): sub["options"] for sub in admin.subscriptions()}
    # Each with the catalog's consumer options and a consumer group of its own that outlives it.
    assert all(by_pair[(spec.source, spec.sink)].items() >= spec.options.items() for spec in catalog)
    assert len({spec.options[CONSUMER_GROUP_OPTION] for spec in catalog}) == len(catalog)


@pytest.mark.kafka
def test_kafka_cluster_update_and_a_new_subscription_are_idempotent(kafka_stack: LocalStack, unique):
    admin = kafka_stack.admin()
    clusters_created = admin.ensure_kafka_cluster(KAFKA_CLUSTER, {"bootstrap.servers": kafka_stack.kafka_bootstrap})
    assert clusters_created is False  # the stack already created it; this is an update
    extra = SubscriptionSpec(
        source=f"kafka://{KAFKA_CLUSTER}/test-{unique}",
        sink="service://ProductService/Reserve",
        options={"auto.offset.reset": "earliest"},
    )
    first = admin.reconcile_subscriptions([extra])
    second = admin.reconcile_subscriptions([extra])
    try:
        assert len(first.created) == 1 and second.created == () and second.existing == first.created
        matching = [sub for sub in admin.subscriptions() if (sub["source"], sub["sink"]) == (extra.source, extra.sink)]
        assert [sub["id"] for sub in matching] == list(first.created)
    finally:
        for subscription_id in first.created:
            admin.delete_subscription(subscription_id)


def test_every_handler_that_takes_input_publishes_its_json_schema(stack):
    """What the Restate UI's playground and the per-service OpenAPI show comes from discovery."""
    without_schema = []
    for pattern in PATTERNS:
        for service in pattern.services:
            described = httpx.get(f"{stack.admin_url}/services/{service}", timeout=30).json()
            for handler in described["handlers"]:
                # A handler that takes raw bytes publishes `true` (anything goes), which tells a reader nothing.
                schema = handler.get("input_json_schema")
                if handler.get("input_description") != "none" and not (isinstance(schema, dict) and schema):
                    without_schema.append(f"{service}/{handler['name']}")
            openapi = httpx.get(f"{stack.admin_url}/services/{service}/openapi", timeout=30)
            assert openapi.status_code == 200, service
    assert without_schema == []
    booking = httpx.get(f"{stack.admin_url}/services/BookingWorkflow", timeout=30).json()
    run = next(handler for handler in booking["handlers"] if handler["name"] == "Run")
    assert set(run["input_json_schema"]["required"]) == {"flights", "car", "payment_info"}

"""The registration custom resource handler, driven with CloudFormation events against real Restate servers.

The admin token comes from a Secrets Manager secret in moto (in-process ``mock_aws``), as it comes
from Secrets Manager in AWS. Functions are the session stack's local Lambda functions, registered
under fresh version qualifiers (the local runtime serves any qualifier), so tests never share state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import httpx
import pytest
from restate_lambda.registration.admin import AdminApiError, RestateAdmin
from restate_lambda.registration.custom_resource import RegistrationFailed, handler
from restate_lambda.registration.secrets import secret_text

from functions.catalog import SUBSCRIPTION_OPTIONS, pattern_named
from local.lambda_runtime import specs_for_patterns
from local.processes import free_port
from tests.cdk_support import TOKEN, PrivateRestate, RecordingProxy, cfn_event, lambda_context, private_restate
from tests.polling import wait_until

DEPLOYMENT = "Custom::RestateDeployment"
KAFKA_CLUSTER = "Custom::RestateKafkaCluster"
SUBSCRIPTION = "Custom::RestateSubscription"


def deployment_properties(admin_url: str, arn: str, secret: str, **overrides: object) -> dict[str, object]:
    return {
        "AdminUrl": admin_url,
        "AuthTokenSecretId": secret,
        "FunctionVersionArn": arn,
        "AssumeRoleArn": "",  # the session's restate-server invokes the local runtime with its own credentials
        "Services": ["ProductService"],
        "PrivateServices": [],
        "RemovalPolicy": "retain",
        "PruneOldDeployments": False,
        **overrides,
    }


def test_create_registers_the_version_and_creating_again_changes_nothing(stack, admin, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("durable_rpc", f"cr-{unique}")
    event = cfn_event("Create", DEPLOYMENT, deployment_properties(stack.admin_url, arn, token_secret))

    first = handler(event, lambda_context(60))
    again = handler(event, lambda_context(60))

    assert first["PhysicalResourceId"] == again["PhysicalResourceId"] == arn
    assert first["Data"]["Created"] == "true" and again["Data"]["Created"] == "false"
    assert first["Data"]["DeploymentId"] == again["Data"]["DeploymentId"]
    assert first["Data"]["Services"] == "ProductService"
    registered = admin.deployments_of_arn(arn)
    assert [deployment["id"] for deployment in registered] == [first["Data"]["DeploymentId"]]


def test_the_token_is_read_from_the_secret_and_sent_to_the_admin_api(stack, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("durable_rpc", f"token-{unique}")
    with RecordingProxy(stack.admin_url) as proxy:
        handler(
            cfn_event("Create", DEPLOYMENT, deployment_properties(proxy.url, arn, token_secret)), lambda_context(60)
        )
    assert proxy.authorizations and set(proxy.authorizations) == {f"Bearer {TOKEN}"}


def test_a_secret_made_with_the_console_key_value_editor_works_too(token_secret):
    boto3.client("secretsmanager").create_secret(Name="restate/as-json", SecretString='{"apiKey": "key_123"}')
    assert secret_text("restate/as-json") == "key_123"
    assert secret_text(token_secret) == TOKEN


def test_a_missing_secret_fails_the_resource(stack, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("durable_rpc", f"nosecret-{unique}")
    properties = deployment_properties(stack.admin_url, arn, "restate/does-not-exist")
    with pytest.raises(RegistrationFailed, match=r"cannot read secret restate/does-not-exist.*ResourceNotFound"):
        handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(60))
    assert RestateAdmin(stack.admin_url).deployments_of_arn(arn) == []


def test_an_update_to_a_new_version_registers_it_and_retain_keeps_the_old_one(stack, admin, token_secret, unique):
    old_arn = stack.lambda_runtime.function_arn("durable_rpc", f"old-{unique}")
    new_arn = stack.lambda_runtime.function_arn("durable_rpc", f"new-{unique}")
    old_properties = deployment_properties(stack.admin_url, old_arn, token_secret)
    new_properties = deployment_properties(stack.admin_url, new_arn, token_secret)
    handler(cfn_event("Create", DEPLOYMENT, old_properties), lambda_context(60))

    updated = handler(
        cfn_event("Update", DEPLOYMENT, new_properties, physical_id=old_arn, old_properties=old_properties),
        lambda_context(60),
    )
    # A new physical id makes CloudFormation delete the old resource after the update.
    assert updated["PhysicalResourceId"] == new_arn
    handler(cfn_event("Delete", DEPLOYMENT, old_properties, physical_id=old_arn), lambda_context(60))

    assert len(admin.deployments_of_arn(new_arn)) == 1
    assert len(admin.deployments_of_arn(old_arn)) == 1, "retain must keep the deployment in-flight work runs on"


def test_delete_with_the_destroy_policy_removes_the_deployment(stack, admin, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("durable_rpc", f"destroy-{unique}")
    properties = deployment_properties(stack.admin_url, arn, token_secret, RemovalPolicy="destroy")
    created = handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(60))

    deleted = handler(cfn_event("Delete", DEPLOYMENT, properties, physical_id=arn), lambda_context(60))
    deleted_again = handler(cfn_event("Delete", DEPLOYMENT, properties, physical_id=arn), lambda_context(60))

    assert deleted["Data"]["Removed"] == created["Data"]["DeploymentId"]
    assert deleted_again["Data"]["Removed"] == ""
    assert admin.deployments_of_arn(arn) == []
    # The service itself stays available, served by the deployment registered before.
    response = httpx.post(f"{stack.ingress_url}/ProductService/{unique}/Reserve", headers={"idempotency-key": "1"})
    assert response.status_code == 200 and response.json() is True


def test_a_version_that_does_not_serve_the_expected_services_fails_with_the_reason(stack, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("crash_once", f"wrong-{unique}")
    properties = deployment_properties(stack.admin_url, arn, token_secret, Services=["ProductService"])
    with pytest.raises(RegistrationFailed, match=r"does not serve \['ProductService'\].*CrashOnce"):
        handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(60))


def test_private_services_are_hidden_from_the_ingress(stack, admin, token_secret, unique):
    arn = stack.lambda_runtime.function_arn("crash_once", f"private-{unique}")
    private = deployment_properties(
        stack.admin_url, arn, token_secret, Services=["CrashOnce"], PrivateServices=["CrashOnce"]
    )
    handler(cfn_event("Create", DEPLOYMENT, private), lambda_context(60))
    assert httpx.get(f"{stack.admin_url}/services/CrashOnce").json()["public"] is False
    assert httpx.post(f"{stack.ingress_url}/CrashOnce/{unique}/Run").status_code == 400

    public = {**private, "PrivateServices": []}
    handler(cfn_event("Update", DEPLOYMENT, public, physical_id=arn, old_properties=private), lambda_context(60))
    assert httpx.get(f"{stack.admin_url}/services/CrashOnce").json()["public"] is True


def test_an_unreachable_admin_api_fails_within_the_lambdas_time_with_a_clear_reason(token_secret):
    url = f"http://127.0.0.1:{free_port()}"
    properties = deployment_properties(url, "arn:aws:lambda:us-east-1:000000000000:function:x:1", token_secret)
    started = time.monotonic()
    with pytest.raises(RegistrationFailed) as failed:
        handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(8))
    elapsed = time.monotonic() - started
    assert elapsed < 8, "the handler must answer before Lambda would kill it"
    assert url in str(failed.value) and "not healthy" in str(failed.value)


def test_deleting_when_restate_is_gone_does_not_block_the_stack(token_secret):
    url = f"http://127.0.0.1:{free_port()}"
    arn = "arn:aws:lambda:us-east-1:000000000000:function:x:1"
    properties = deployment_properties(url, arn, token_secret, RemovalPolicy="destroy")
    answer = handler(cfn_event("Delete", DEPLOYMENT, properties, physical_id=arn), lambda_context(8))
    assert answer["PhysicalResourceId"] == arn and answer["Data"]["Removed"] == ""


# --- pruning: on a Restate of its own, because it removes every idle older deployment of a service ----


@pytest.fixture(scope="module")
def machines(tmp_path_factory, stack) -> Iterator[PrivateRestate]:
    """A private Restate with the stateful_actors function, whose transitions are durable sleeps."""
    settings = {"MACHINE_TRANSITION_SECONDS": "3", "MACHINE_CRASH_MODE": "random", "MACHINE_CRASH_PROBABILITY": "0"}
    functions = specs_for_patterns([pattern_named("stateful_actors")], settings)
    with private_restate(functions, tmp_path_factory.mktemp("machines"), stack.aws.url) as restate:
        yield restate


def unfinished(admin: RestateAdmin, deployment_id: str) -> int:
    try:
        return admin.unfinished_invocations(deployment_id)
    except AdminApiError:  # the query engine answers only once every partition has a leader
        return 0


def test_pruning_removes_older_idle_deployments_and_keeps_those_with_unfinished_invocations(machines, token_secret):
    admin = machines.server.admin()
    ingress = machines.server.ingress_url

    def version(name: str, prune: bool) -> dict[str, str]:
        arn = machines.runtime.function_arn("stateful_actors", name)
        properties = deployment_properties(
            machines.server.admin_url, arn, token_secret, Services=["MachineOperator"], PruneOldDeployments=prune
        )
        answer = handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(120))
        return answer["Data"]  # type: ignore[no-any-return]

    busy = version("1", prune=False)
    # SetUp sleeps durably for 3 s: its invocation stays pinned to version 1, unfinished, meanwhile.
    sent = httpx.post(f"{ingress}/MachineOperator/m1/SetUp/send").json()
    wait_until(lambda: unfinished(admin, busy["DeploymentId"]), "SetUp to be pinned to version 1", timeout=20)
    idle = version("2", prune=False)
    current = version("3", prune=True)

    assert current["PrunedDeployments"] == idle["DeploymentId"]
    remaining = {deployment["id"] for deployment in admin.deployments()}
    assert remaining == {busy["DeploymentId"], current["DeploymentId"]}

    # Once the pinned invocation has finished, its deployment is idle too and the next registration prunes it.
    attach = httpx.get(f"{ingress}/restate/invocation/{sent['invocationId']}/attach", timeout=30)
    assert attach.json() == "m1 is now up"
    again = version("3", prune=True)
    assert again["PrunedDeployments"] == busy["DeploymentId"]
    assert {deployment["id"] for deployment in admin.deployments()} == {current["DeploymentId"]}


def test_a_revision_history_limit_keeps_the_newest_superseded_deployments(machines, token_secret):
    admin = machines.server.admin()

    def version(name: str, **options: object) -> str:
        arn = machines.runtime.function_arn("stateful_actors", name)
        properties = deployment_properties(
            machines.server.admin_url, arn, token_secret, Services=["MachineOperator"], **options
        )
        answer = handler(cfn_event("Create", DEPLOYMENT, properties), lambda_context(120))
        return answer["Data"]["DeploymentId"]  # type: ignore[no-any-return]

    older = [version(name, PruneOldDeployments=False) for name in ("4", "5", "6")]
    current = version("7", PruneOldDeployments=True, RevisionHistoryLimit="2")

    listed = admin.deployments()
    assert all(deployment.get("created_at") for deployment in listed), "the handler orders them by created_at"
    remaining = {deployment["id"] for deployment in listed}
    # Version 3 of the test above, and 4, go; the two newest before the current one stay for a rollback.
    assert remaining == {older[1], older[2], current}


# --- Kafka cluster and subscriptions ---------------------------------------------------------------------


@pytest.mark.kafka
def test_kafka_cluster_and_subscription_resources_are_idempotent(kafka_stack, token_secret, unique):
    admin = kafka_stack.admin()
    cluster = {
        "AdminUrl": kafka_stack.admin_url,
        "AuthTokenSecretId": token_secret,
        "ClusterName": f"cluster-{unique}",
        "BootstrapServers": kafka_stack.kafka_bootstrap,
        "Properties": {"client.id": "restate-patterns"},
        "SaslSecretId": "",
    }
    subscription = {
        "AdminUrl": kafka_stack.admin_url,
        "AuthTokenSecretId": token_secret,
        "ClusterName": cluster["ClusterName"],
        "Topic": f"topic-{unique}",
        "Service": "ProductService",
        "Handler": "Reserve",
        "Options": dict(SUBSCRIPTION_OPTIONS),
    }
    source, sink = f"kafka://cluster-{unique}/topic-{unique}", "service://ProductService/Reserve"

    def cluster_properties() -> dict[str, str]:
        answer = httpx.get(f"{kafka_stack.admin_url}/kafka-clusters/cluster-{unique}")
        return answer.json()["properties"] if answer.status_code == 200 else {}

    assert handler(cfn_event("Create", KAFKA_CLUSTER, cluster), lambda_context(60))["PhysicalResourceId"] == (
        f"cluster-{unique}"
    )
    handler(cfn_event("Create", KAFKA_CLUSTER, cluster), lambda_context(60))
    assert cluster_properties()["bootstrap.servers"] == kafka_stack.kafka_bootstrap
    changed = {**cluster, "Properties": {"client.id": "renamed"}}
    handler(
        cfn_event("Update", KAFKA_CLUSTER, changed, physical_id=f"cluster-{unique}", old_properties=cluster),
        lambda_context(60),
    )
    assert cluster_properties()["client.id"] == "renamed"

    created = handler(cfn_event("Create", SUBSCRIPTION, subscription), lambda_context(60))
    again = handler(cfn_event("Create", SUBSCRIPTION, subscription), lambda_context(60))
    assert created["Data"]["SubscriptionId"] == again["Data"]["SubscriptionId"]
    assert [sub["id"] for sub in admin.subscriptions() if (sub["source"], sub["sink"]) == (source, sink)] == [
        created["Data"]["SubscriptionId"]
    ]
    found = admin.find_subscription(source, sink)
    assert found is not None and found["options"]["auto.offset.reset"] == "earliest"

    latest = {**subscription, "Options": {**SUBSCRIPTION_OPTIONS, "auto.offset.reset": "latest"}}
    physical_id = created["PhysicalResourceId"]
    recreated = handler(
        cfn_event("Update", SUBSCRIPTION, latest, physical_id=physical_id, old_properties=subscription),
        lambda_context(60),
    )
    assert recreated["PhysicalResourceId"] == physical_id
    found = admin.find_subscription(source, sink)
    assert found is not None and found["options"]["auto.offset.reset"] == "latest"

    for _ in range(2):  # deleting what is already gone succeeds too
        handler(cfn_event("Delete", SUBSCRIPTION, latest, physical_id=physical_id), lambda_context(60))
        handler(cfn_event("Delete", KAFKA_CLUSTER, changed, physical_id=f"cluster-{unique}"), lambda_context(60))
    assert admin.find_subscription(source, sink) is None
    assert cluster_properties() == {}


@pytest.mark.kafka
def test_removing_a_cluster_removes_the_subscriptions_still_reading_from_it_first(kafka_stack, token_secret, unique):
    admin = kafka_stack.admin()
    common = {"AdminUrl": kafka_stack.admin_url, "AuthTokenSecretId": token_secret, "ClusterName": f"going-{unique}"}
    cluster = {**common, "BootstrapServers": kafka_stack.kafka_bootstrap, "Properties": {}, "SaslSecretId": ""}
    subscription = {
        **common,
        "Topic": f"topic-{unique}",
        "Service": "ProductService",
        "Handler": "Reserve",
        "Options": dict(SUBSCRIPTION_OPTIONS),
    }
    handler(cfn_event("Create", KAFKA_CLUSTER, cluster), lambda_context(60))
    created = handler(cfn_event("Create", SUBSCRIPTION, subscription), lambda_context(60))

    # Kafka switched off: the shared stack's update deletes the cluster before the pattern stacks' updates
    # delete their subscriptions.
    removed = handler(cfn_event("Delete", KAFKA_CLUSTER, cluster, physical_id=f"going-{unique}"), lambda_context(60))

    assert removed["Data"]["DeletedSubscriptions"] == created["Data"]["SubscriptionId"]
    assert not [sub for sub in admin.subscriptions() if sub["source"].startswith(f"kafka://going-{unique}/")]
    assert httpx.get(f"{kafka_stack.admin_url}/kafka-clusters/going-{unique}").status_code == 404
    # The subscription's own Delete comes later and finds it gone.
    handler(
        cfn_event("Delete", SUBSCRIPTION, subscription, physical_id=created["PhysicalResourceId"]), lambda_context(60)
    )

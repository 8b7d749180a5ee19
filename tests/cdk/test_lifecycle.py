"""The registration through a deploy's whole lifecycle: CloudFormation's real event sequences, real Restate.

Each test drives the registration handler the way CloudFormation drives one ``Custom::RestateDeployment``
across deploys, against a restate-server of its own and a local Lambda runtime that publishes numbered
versions of a test function (``tests/lambda_functions/versioned.py``), each with its own code version.
After each step the test asks Restate to invoke the service and checks which code answered, so what
is checked is what a user's next call would meet, not what the admin API says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from restate_lambda.registration.custom_resource import RegistrationFailed, handler

from functions.catalog import Subscription, subscription_options
from local.lambda_runtime import FunctionSpec, LocalLambdaRuntime, VersionExists
from local.produce import ensure_topics, produce
from local.stack import KAFKA_CLUSTER
from tests.cdk_support import (
    PrivateRestate,
    RecordingProxy,
    cfn_event,
    lambda_context,
    new_stack_id,
    private_restate,
)
from tests.polling import wait_until

DEPLOYMENT = "Custom::RestateDeployment"
KAFKA_CLUSTER_RESOURCE = "Custom::RestateKafkaCluster"
SUBSCRIPTION = "Custom::RestateSubscription"
VERSIONED_HANDLER = "tests.lambda_functions.versioned.app"
REGISTRATION_SECONDS = 120.0
"""The registration function's remaining time in these tests (the default timeout is 300 s)."""


@pytest.fixture(scope="module")
def restate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRestate]:
    # No invoker role to assume here (AssumeRoleArn is empty), so no STS endpoint either.
    with private_restate((), tmp_path_factory.mktemp("lifecycle")) as private:
        yield private


class DeployedFunction:
    """One pattern stack's function and its ``Custom::RestateDeployment``, deployed the way CloudFormation does.

    ``publish`` is a deploy that changed the code (a new Lambda version); ``create``, ``update`` and
    ``delete`` send the events CloudFormation sends for the registration resource.
    """

    def __init__(
        self, runtime: LocalLambdaRuntime, admin_url: str, token_secret: str, name: str, removal: str = "retain"
    ) -> None:
        self.runtime = runtime
        self.admin_url = admin_url
        self.token_secret = token_secret
        self.name = name
        self.removal = removal
        self.stack_id = new_stack_id(name)
        self.code_of: dict[str, str] = {}

    def publish(self, code_version: str, description: str = "") -> str:
        spec = FunctionSpec(
            self.name, VERSIONED_HANDLER, environment={"CODE_VERSION": code_version}, description=description
        )
        arn = self.runtime.publish_version(spec)
        self.code_of[arn] = code_version
        return arn

    def properties(self, arn: str) -> dict[str, Any]:
        return {
            "AdminUrl": self.admin_url,
            "AuthTokenSecretId": self.token_secret,
            "FunctionVersionArn": arn,
            "AssumeRoleArn": "",
            "Services": ["Versioned", "Tally"],
            "PrivateServices": [],
            "RemovalPolicy": self.removal,
            "PruneOldDeployments": False,
            "MinimumRestateVersion": "1.6",
            "CodeHash": f"hash-of-{self.code_of[arn]}",
            "AllowBreakingChanges": False,
        }

    def _send(self, request: str, arn: str, **extra: Any) -> dict[str, Any]:
        event = cfn_event(request, DEPLOYMENT, self.properties(arn), stack_id=self.stack_id, **extra)
        answer: dict[str, Any] = handler(event, lambda_context(REGISTRATION_SECONDS))
        return answer

    def create(self, arn: str) -> dict[str, Any]:
        return self._send("Create", arn)

    def update(self, current_arn: str, wanted_arn: str) -> dict[str, Any]:
        """An Update from ``current_arn`` to ``wanted_arn``: a deploy, or a rollback when ``wanted_arn`` is older."""
        return self._send("Update", wanted_arn, physical_id=current_arn, old_properties=self.properties(current_arn))

    def delete(self, arn: str) -> dict[str, Any]:
        return self._send("Delete", arn, physical_id=arn)


def which_code(restate: PrivateRestate) -> str:
    """The code version that answers a new call now."""
    response = httpx.post(f"{restate.server.ingress_url}/Versioned/Which", timeout=30)
    response.raise_for_status()
    answer: str = response.json()
    return answer


def pinned_deployment(restate: PrivateRestate, invocation_id: str) -> str | None:
    rows = restate.server.admin().query(f"SELECT pinned_deployment_id FROM sys_invocation WHERE id = '{invocation_id}'")
    return rows[0].get("pinned_deployment_id") if rows else None  # absent until an attempt starts


@pytest.fixture
def deployed(restate: PrivateRestate, token_secret: str, unique: str) -> DeployedFunction:
    return DeployedFunction(restate.runtime, restate.server.admin_url, token_secret, f"versioned-{unique}")


def test_a_rollback_puts_the_previous_version_back_in_front_and_in_flight_calls_finish_on_theirs(
    restate: PrivateRestate, deployed: DeployedFunction
):
    v1, v2 = deployed.publish("v1"), deployed.publish("v2")
    deployed.create(v1)
    assert which_code(restate) == "v1"
    upgraded = deployed.update(v1, v2)
    assert upgraded["PhysicalResourceId"] == v2 and which_code(restate) == "v2"

    # A call that suspends on a durable sleep stays pinned to v2's deployment while the stack rolls back.
    sent = httpx.post(f"{restate.server.ingress_url}/Versioned/WhichAfter/send", json=3, timeout=30).json()
    wait_until(
        lambda: pinned_deployment(restate, sent["invocationId"]),
        "the in-flight call to be pinned to v2",
        accept=lambda pinned: pinned == upgraded["Data"]["DeploymentId"],
    )

    # A later resource of the stack failed: CloudFormation sends the previous properties back as an Update.
    rolled_back = deployed.update(v2, v1)
    assert rolled_back["PhysicalResourceId"] == v1
    assert which_code(restate) == "v1", "Restate keeps v2 in front unless v1 is registered with force"
    assert rolled_back["Data"]["Forced"] == "true"
    # Then it deletes the resource it replaced, v2's (retained: the in-flight call still runs there).
    deployed.delete(v2)

    attached = httpx.get(f"{restate.server.ingress_url}/restate/invocation/{sent['invocationId']}/attach", timeout=60)
    assert attached.json() == "v2", "an invocation finishes on the version it started on"
    assert which_code(restate) == "v1"


def test_a_function_created_again_reuses_version_arns_and_its_new_code_serves(
    restate: PrivateRestate, deployed: DeployedFunction, token_secret: str
):
    old_v1 = deployed.publish("old-1")
    deployed.create(old_v1)
    old_v2 = deployed.publish("old-2")
    deployed.update(old_v1, old_v2)
    assert which_code(restate) == "old-2"

    # cdk destroy (retain: Restate keeps the deployments), then cdk deploy: a new stack, a new function.
    deployed.delete(old_v2)
    deployed.runtime.delete_function(deployed.name)
    again = DeployedFunction(deployed.runtime, deployed.admin_url, token_secret, deployed.name)
    new_v1 = again.publish("new-1")
    assert new_v1 == old_v1, "Lambda numbers a re-created function's versions from 1 again"

    old_deployment = restate.server.admin().deployments_of_arn(old_v1)[0]["id"]
    created = again.create(new_v1)
    # Restate answered 200 with the old function's deployment; idle, it was deleted and the ARN registered anew.
    assert created["Data"]["Replaced"] == old_deployment and created["Data"]["Forced"] == "false"
    assert created["Data"]["DeploymentId"] != old_deployment
    assert which_code(restate) == "new-1"

    # A delete sent for the old stack's resource (same ARN) leaves the deployment the new stack took over.
    deployed.removal = "destroy"
    assert deployed.delete(old_v1)["Data"]["Removed"] == ""
    assert which_code(restate) == "new-1"


def test_a_reused_arn_whose_old_deployment_still_has_invocations_fails_saying_how_many(
    restate: PrivateRestate, deployed: DeployedFunction, token_secret: str
):
    old_v1 = deployed.publish("old-1")
    registered = deployed.create(old_v1)
    ingress = restate.server.ingress_url
    sent = httpx.post(f"{ingress}/Versioned/WhichAfter/send", json=3, timeout=30).json()
    wait_until(
        lambda: pinned_deployment(restate, sent["invocationId"]),
        "the call to be pinned to the old function's deployment",
        accept=lambda pinned: pinned == registered["Data"]["DeploymentId"],
    )
    deployed.delete(old_v1)
    deployed.runtime.delete_function(deployed.name)
    again = DeployedFunction(deployed.runtime, deployed.admin_url, token_secret, deployed.name)
    new_v1 = again.publish("new-1")

    with pytest.raises(RegistrationFailed, match=r"1 unfinished invocation\(s\) are pinned to"):
        again.create(new_v1)

    # Nothing was taken over: the old deployment is still there, and the call finishes (on the ARN's code now).
    assert [d["id"] for d in restate.server.admin().deployments_of_arn(old_v1)] == [registered["Data"]["DeploymentId"]]
    attached = httpx.get(f"{ingress}/restate/invocation/{sent['invocationId']}/attach", timeout=60)
    assert attached.status_code == 200
    # Once it has, the same deploy goes through.
    assert again.create(new_v1)["Data"]["Replaced"] == registered["Data"]["DeploymentId"]


def test_a_deploy_retried_after_a_failed_registration_publishes_anew_with_a_version_nonce(
    restate: PrivateRestate, deployed: DeployedFunction
):
    v1 = deployed.publish("v1")
    deployed.create(v1)
    # The deploy of v2 published its version, then its registration failed: the rollback kept that
    # version (DeletionPolicy Retain) and left v1 registered.
    failed = deployed.publish("v2")
    assert which_code(restate) == "v1"

    # Deploying the same code again: Lambda will not publish what its latest version already is.
    with pytest.raises(VersionExists, match="A version for this Lambda function exists"):
        deployed.publish("v2")

    # -c lambda:versionNonce=<new> changes the function's description (tests/cdk/test_template.py):
    # a configuration change, so the same code becomes a new version, and the retry goes through.
    retried = deployed.publish("v2", description="Versioned (deploy 1765000000)")
    assert retried != failed
    assert deployed.update(v1, retried)["PhysicalResourceId"] == retried
    assert which_code(restate) == "v2"


def test_the_same_create_sent_twice_makes_one_deployment(restate: PrivateRestate, deployed: DeployedFunction):
    v1 = deployed.publish("v1")
    first = deployed.create(v1)
    retried = deployed.create(v1)  # CloudFormation retries a Create whose answer it did not get

    assert first["Data"]["DeploymentId"] == retried["Data"]["DeploymentId"]
    assert (first["Data"]["Created"], retried["Data"]["Created"]) == ("true", "false")
    assert retried["Data"]["Forced"] == "false"
    assert [d["id"] for d in restate.server.admin().deployments_of_arn(v1)] == [first["Data"]["DeploymentId"]]
    assert which_code(restate) == "v1"


def test_an_admin_api_answering_401_fails_at_once_saying_why(
    restate: PrivateRestate, deployed: DeployedFunction, token_secret: str
):
    v1 = deployed.publish("v1")
    with RecordingProxy(restate.server.admin_url, canned={"/": (401, {"message": "Unauthorized"})}) as proxy:
        deployed.admin_url = proxy.url
        started = time.monotonic()
        with pytest.raises(RegistrationFailed, match="the API key is wrong or lacks the admin role"):
            handler(
                cfn_event("Create", DEPLOYMENT, deployed.properties(v1), stack_id=deployed.stack_id),
                lambda_context(300),  # the registration function's whole default timeout: it must not wait it out
            )
        assert time.monotonic() - started < 10
    assert restate.server.admin().deployments_of_arn(v1) == []


@pytest.mark.parametrize(
    ("resource_type", "reported", "needed"),
    [(DEPLOYMENT, "1.5.6", "1.6"), (KAFKA_CLUSTER_RESOURCE, "1.6.2", "1.7"), (SUBSCRIPTION, "1.6.2", "1.7")],
)
def test_a_restate_too_old_for_the_resource_fails_before_changing_anything(
    restate: PrivateRestate, deployed: DeployedFunction, resource_type: str, reported: str, needed: str
):
    v1 = deployed.publish("v1")
    properties = {
        **deployed.properties(v1),
        "ClusterName": "old-restate",
        "BootstrapServers": "127.0.0.1:9",
        "Topic": "t",
        "Service": "Tally",
        "Handler": "Add",
    }
    del properties["MinimumRestateVersion"]  # each resource type knows its own minimum
    with RecordingProxy(restate.server.admin_url, canned={"/version": (200, {"version": reported})}) as proxy:
        properties["AdminUrl"] = proxy.url
        with pytest.raises(RegistrationFailed, match=rf"version {reported}; this app needs {needed} or newer"):
            handler(cfn_event("Create", resource_type, properties), lambda_context(60))
    assert not [path for path in proxy.paths if not path.startswith(("/health", "/version"))]


@pytest.mark.kafka
def test_a_subscription_recreated_with_new_options_resumes_without_processing_a_record_twice(
    kafka_stack: Any, token_secret: str, unique: str
):
    function = DeployedFunction(kafka_stack.lambda_runtime, kafka_stack.admin_url, token_secret, f"tally-{unique}")
    function.create(function.publish("v1"))
    topic = f"tallies-{unique}"
    ensure_topics(kafka_stack.kafka_bootstrap, [topic])
    subscription = Subscription(topic=topic, service="Tally", handler="Add")
    properties = {
        "AdminUrl": kafka_stack.admin_url,
        "AuthTokenSecretId": token_secret,
        "MinimumRestateVersion": "1.7",
        "ClusterName": KAFKA_CLUSTER,
        "Topic": topic,
        "Service": subscription.service,
        "Handler": subscription.handler,
        "Options": subscription_options("lifecycle-test", "versioned", subscription),
    }

    def seen() -> list[str]:
        response = httpx.post(f"{kafka_stack.ingress_url}/Tally/{unique}/Seen", timeout=30)
        response.raise_for_status()
        records: list[str] = response.json()
        return records

    created = handler(cfn_event("Create", SUBSCRIPTION, properties), lambda_context(60))
    produce(kafka_stack.kafka_bootstrap, topic, [(unique, f'"r{n}"') for n in range(1, 6)])
    wait_until(seen, "the first five records", accept=lambda records: len(records) >= 5)

    # A deploy that changes the subscription's options makes Restate drop it and create a new one.
    changed = {**properties, "Options": {**properties["Options"], "session.timeout.ms": "12000"}}
    handler(
        cfn_event(
            "Update", SUBSCRIPTION, changed, physical_id=created["PhysicalResourceId"], old_properties=properties
        ),
        lambda_context(60),
    )
    produce(kafka_stack.kafka_bootstrap, topic, [(unique, f'"r{n}"') for n in range(6, 11)])
    # Records of one key are processed in order, so a replay of r1..r5 would come before r10.
    records = wait_until(seen, "the next five records", accept=lambda records: "r10" in records, timeout=60)
    assert records == [f"r{n}" for n in range(1, 11)]

    handler(cfn_event("Delete", SUBSCRIPTION, changed, physical_id=created["PhysicalResourceId"]), lambda_context(60))

"""The CloudFormation custom resources that connect a deployed stack to Restate.

The CDK Provider framework invokes :func:`handler` with CloudFormation's Create / Update / Delete
events and turns its return value (or exception) into the response CloudFormation waits for.
Three resource types, each idempotent against the admin API, so that CloudFormation retries and
re-deploys never duplicate anything:

``Custom::RestateDeployment`` (one per published function version)
    Waits for ``/health``, refuses a Restate older than ``MinimumRestateVersion``, registers the
    version's ARN (``force: false``, with the invoker role to assume) and then checks that what
    Restate answered is what this resource meant: Restate matches Lambda deployments by ARN alone,
    and an ARN comes back in two ways that ``force: false`` cannot see.

    * A function deleted and created again (``cdk destroy`` and deploy, a first deploy that rolled
      back) numbers its versions from 1 again: Restate answers 200 with the deployment of the
      *old* function (:func:`earlier_registration`: its metadata names another stack, resource
      or code). Forcing over it would rewrite that deployment in place, so invocations still
      pinned to it would resume on the new code, and ``force`` would accept breaking changes too.
      So the old deployment is deleted and the version registered anew, if nothing runs on it; if
      invocations do, the resource fails saying how many.
    * A rollback sends an Update back to the previous version's ARN: Restate answers 200 with that
      deployment, but the newer one stays the latest of its services (:func:`not_in_front`). The
      same code is registered again with ``force: true``, which puts it back in front;
      invocations already running stay on the deployment they started on.

    Then every expected service must have come back, services are made public or
    private as the catalog says, and older deployments of the same services are optionally pruned
    once nothing is pinned to them. The physical id is the version ARN, so a new version is a
    replacement: CloudFormation then deletes the old resource, and that delete follows
    ``RemovalPolicy`` (``retain`` keeps the old deployment, which in-flight invocations still run on).
``Custom::RestateKafkaCluster``
    Creates or updates the cluster's properties (SASL credentials read from a secret).
``Custom::RestateSubscription``
    One catalog subscription: created if missing, re-created if its options changed. Its options
    carry a stable ``group.id``, so a re-created subscription resumes where the old one stopped.

Every wait is bounded by the Lambda's own remaining time (minus a margin to report a failure), so
an unreachable admin API fails the resource with a reason instead of timing out the function; a
401/403 fails it at once. Tokens and passwords come from Secrets Manager at run time and are
never logged or returned.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from restate_lambda.registration.admin import (
    UNAUTHORIZED,
    AdminApiError,
    AdminApiUnauthorized,
    AdminApiUnreachable,
    Deployment,
    RestateAdmin,
    SubscriptionSpec,
    parse_version,
    tls_context,
)
from restate_lambda.registration.secrets import SecretUnavailable, secret_json, secret_text

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

REPORTING_MARGIN_SECONDS = 5.0
"""Kept back from the Lambda's remaining time, so the handler always returns before it is killed."""
MAX_REQUEST_SECONDS = 30.0
"""One admin API call; discovery (Restate invoking the function once) fits well within it."""
DELETE_PATIENCE_SECONDS = 60.0
"""Deletes are best effort: a stack whose Restate environment is gone must still delete quickly."""
REGISTRATION_RESERVE_SECONDS = 60.0
"""Of the Lambda's time, what waiting for ``/health`` leaves for the registration itself (discovery
invokes the function, maybe cold, and a forced re-registration discovers it once more)."""
MIN_HEALTH_WAIT_SECONDS = 10.0
PRUNE_RESERVE_SECONDS = 15.0
"""Pruning stops when less than this is left, so the registration still answers in time."""
MAX_PRUNED_PER_RUN = 5
"""Deletes per registration at most; the next deploy prunes the rest."""

DEPLOYMENT_RESOURCE = "Custom::RestateDeployment"
KAFKA_CLUSTER_RESOURCE = "Custom::RestateKafkaCluster"
SUBSCRIPTION_RESOURCE = "Custom::RestateSubscription"
MINIMUM_RESTATE_VERSIONS = {
    # Re-registering a known ARN answers 200 (idempotent) from 1.6 on; before, a conflict, which
    # would fail every CloudFormation retry. /kafka-clusters exists from 1.7 on.
    DEPLOYMENT_RESOURCE: "1.6",
    KAFKA_CLUSTER_RESOURCE: "1.7",
    SUBSCRIPTION_RESOURCE: "1.7",
}

T = TypeVar("T")


class LambdaContext(Protocol):
    """What the handler reads of Lambda's context object (``local.lambda_worker.LambdaContext`` locally)."""

    def get_remaining_time_in_millis(self) -> int: ...


class RegistrationFailed(Exception):
    """The resource cannot be brought to the wanted state; the message is what CloudFormation shows."""


class Deadline:
    """The point in time by which this invocation must have answered."""

    def __init__(self, context: LambdaContext, margin: float = REPORTING_MARGIN_SECONDS) -> None:
        self.at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


def _flag(value: Any) -> bool:
    # CloudFormation hands every property over as a string.
    return str(value).strip().lower() == "true"


def _names(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [name for name in value.split(",") if name]
    return [str(name) for name in value]


def connect(properties: Mapping[str, Any], deadline: Deadline, patience: float | None = None) -> RestateAdmin:
    """An admin client for the resource's Restate, once its admin API answers ``/health``.

    Waits (a Restate Cloud environment may be waking up) until about a minute before the deadline,
    leaving that for the work itself, or ``patience`` seconds if that is sooner.
    """
    admin_url = str(properties["AdminUrl"])
    token_secret = str(properties.get("AuthTokenSecretId") or "")
    try:
        token = secret_text(token_secret) if token_secret else None
    except SecretUnavailable as problem:
        raise RegistrationFailed(str(problem)) from None
    try:
        tls = tls_context(str(properties.get("CaBundle") or "") or None, _flag(properties.get("Insecure")))
    except ssl.SSLError as problem:
        raise RegistrationFailed(f"CaBundle is no usable PEM certificate bundle: {problem}") from None
    admin = RestateAdmin(admin_url, token=token, tls=tls)
    bound_requests(admin, deadline)
    remaining = deadline.remaining()
    health_wait = max(remaining - REGISTRATION_RESERVE_SECONDS, min(remaining, MIN_HEALTH_WAIT_SECONDS))
    try:
        admin.wait_until_healthy(timeout=min(health_wait, patience or health_wait))
    except AdminApiUnauthorized as problem:
        raise RegistrationFailed(str(problem)) from None
    except AdminApiUnreachable as problem:
        raise RegistrationFailed(f"{problem} (gave up within the registration function's timeout)") from None
    return admin


def require_version(admin: RestateAdmin, minimum: str) -> str:
    """Restate's version, if it is at least ``minimum``; else the resource fails saying why."""
    try:
        reported = admin.server_version()
        version = parse_version(reported)
    except AdminApiError as error:
        if error.unauthorized:
            raise RegistrationFailed(f"GET {admin.admin_url}/version: HTTP {error.status}: {UNAUTHORIZED}") from None
        raise RegistrationFailed(
            f"cannot tell the version of Restate at {admin.admin_url} ({error}); these resources need "
            f"Restate {minimum} or newer"
        ) from None
    except ValueError:
        raise RegistrationFailed(f"Restate at {admin.admin_url} reports no usable version: {reported!r}") from None
    if version < parse_version(minimum):
        raise RegistrationFailed(
            f"Restate at {admin.admin_url} is version {reported}; this app needs {minimum} or newer (1.6 for "
            "idempotent re-registration of function versions, 1.7 for Kafka clusters): upgrade Restate"
        )
    return reported


def connect_for_changes(event: Mapping[str, Any], deadline: Deadline) -> RestateAdmin:
    """:func:`connect`, then the version check: what Creates and Updates go through before changing anything."""
    properties = event["ResourceProperties"]
    admin = connect(properties, deadline)
    minimum = str(properties.get("MinimumRestateVersion") or MINIMUM_RESTATE_VERSIONS[event["ResourceType"]])
    require_version(admin, minimum)
    return admin


def bound_requests(admin: RestateAdmin, deadline: Deadline) -> None:
    """No single admin call may run past the deadline."""
    admin.request_timeout = max(1.0, min(MAX_REQUEST_SECONDS, deadline.remaining()))


def with_retries(admin: RestateAdmin, action: Callable[[], T], what: str, deadline: Deadline) -> T:
    """Run ``action``, retrying while Restate answers 5xx or nothing answers, until the deadline.

    Discovery of a freshly created function or invoker policy can fail for a few seconds while
    IAM and Lambda propagate; a 4xx is Restate refusing the request, and retrying cannot help.
    """
    delay = 1.0
    while True:
        bound_requests(admin, deadline)
        try:
            return action()
        except AdminApiError as error:
            if error.unauthorized:
                raise RegistrationFailed(f"{what}: HTTP {error.status}: {UNAUTHORIZED}") from None
            if error.status < 500 or deadline.remaining() < delay:
                raise RegistrationFailed(f"{what}: {error}") from None
            logger.warning("%s failed, retrying in %.0f s: %s", what, delay, error)
        except AdminApiUnreachable as error:
            if deadline.remaining() < delay:
                raise RegistrationFailed(f"{what}: {error}") from None
            logger.warning("%s failed, retrying in %.0f s: %s", what, delay, error)
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


# --- Custom::RestateDeployment ---------------------------------------------------------------


def registration_metadata(event: Mapping[str, Any]) -> dict[str, str]:
    """What this resource records on the deployment it registers, to recognise it later."""
    return {
        "registered-by": "cloudformation",
        "cloudformation-stack": str(event.get("StackId", "")),
        "cloudformation-resource": str(event.get("LogicalResourceId", "")),
        "code-hash": str(event["ResourceProperties"].get("CodeHash") or ""),
    }


def earlier_registration(admin: RestateAdmin, deployment: Deployment, metadata: Mapping[str, str]) -> str | None:
    """How ``deployment`` was registered, if by another resource or for other code than this one; else None."""
    recorded = admin.deployment(deployment.id).get("metadata") or {}
    differing = sorted(key for key, value in metadata.items() if recorded.get(key) != value)
    if differing:
        return (
            f"{deployment.id} was registered for {', '.join(f'{key}={recorded.get(key)!r}' for key in differing)} "
            "(a function deleted and created again numbers its versions from 1, reusing the old ARNs)"
        )
    return None


def not_in_front(admin: RestateAdmin, deployment: Deployment) -> str | None:
    """Which of ``deployment``'s services another deployment serves now, if any (a rollback to it)."""
    for service in deployment.services:
        latest = admin.latest_deployment_of(service)
        if latest != deployment.id:
            return f"{service} runs on {latest}, not on {deployment.id} (a rollback to this version)"
    return None


def register_deployment(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    arn = str(properties["FunctionVersionArn"])
    expected = _names(properties.get("Services"))
    private = set(_names(properties.get("PrivateServices")))
    metadata = registration_metadata(event)
    admin = connect_for_changes(event, deadline)

    def register(force: bool) -> Deployment:
        return with_retries(
            admin,
            lambda: admin.register_lambda(
                arn,
                assume_role_arn=str(properties.get("AssumeRoleArn") or "") or None,
                metadata=metadata,
                force=force,
                breaking=_flag(properties.get("AllowBreakingChanges")),
            ),
            f"registering {arn}{' with force' if force else ''}",
            deadline,
        )

    def checked(what: str, check: Callable[[], T]) -> T:
        return with_retries(admin, check, f"{what} {arn}", deadline)

    deployment = register(force=False)
    replaced = ""
    earlier = checked("checking", lambda: earlier_registration(admin, deployment, metadata))
    if earlier is not None:
        pinned = checked("counting the invocations of", lambda: admin.unfinished_invocations(deployment.id))
        if pinned:
            raise RegistrationFailed(
                f"{arn} is registered already: {earlier}. {pinned} unfinished invocation(s) are pinned to "
                f"{deployment.id} and would resume on this code if it took the deployment over: let them "
                "finish, or cancel them (restate invocations cancel), and deploy again"
            )
        logger.info("Deleting %s, idle, to register %s anew: %s", deployment.id, arn, earlier)
        replaced = deployment.id
        checked("deleting the earlier deployment of", lambda: admin.delete_deployment(deployment.id, force=True))
        deployment = register(force=False)
        earlier = checked("checking", lambda: earlier_registration(admin, deployment, metadata))
        if earlier is not None:
            raise RegistrationFailed(f"{arn} is still another registration's after registering it anew: {earlier}")
    reason = checked("checking", lambda: not_in_front(admin, deployment))
    forced = reason is not None
    if reason is not None:
        logger.info("Registering %s again with force: %s", arn, reason)
        deployment = register(force=True)
        reason = checked("checking", lambda: not_in_front(admin, deployment))
        if reason is not None:
            raise RegistrationFailed(f"{arn} is still not current after registering it with force: {reason}")
    missing = sorted(set(expected) - set(deployment.services))
    if missing:
        raise RegistrationFailed(
            f"{arn} was registered as {deployment.id} but does not serve {missing} "
            f"(it serves {list(deployment.services)}): is the handler the right module?"
        )
    for service in expected:
        set_visibility(admin, service, service not in private, deadline)
    logger.info(
        "%s %s as %s, serving %s",
        "Re-registered" if forced else "Registered" if deployment.created or replaced else "Already registered",
        arn,
        deployment.id,
        ", ".join(deployment.services),
    )
    pruned = []
    if _flag(properties.get("PruneOldDeployments")):
        keep = int(properties.get("RevisionHistoryLimit") or 0)
        pruned = prune_deployments(admin, deployment.id, set(deployment.services), deadline, keep=keep)
    return {
        "PhysicalResourceId": arn,
        "Data": {
            "DeploymentId": deployment.id,
            "Services": ",".join(deployment.services),
            "Created": str(deployment.created).lower(),
            "Forced": str(forced).lower(),
            "Replaced": replaced,
            "PrunedDeployments": ",".join(pruned),
        },
    }


def set_visibility(admin: RestateAdmin, service: str, public: bool, deadline: Deadline) -> None:
    """Public services are callable through the ingress; private ones only by other services."""
    with_retries(
        admin,
        lambda: admin.set_service_public(service, public=public),
        f"making {service} {'public' if public else 'private'}",
        deadline,
    )


def removable(admin: RestateAdmin, deployment_id: str) -> bool:
    """True when no unfinished invocation is pinned to the deployment (unknown counts as no)."""
    try:
        unfinished = admin.unfinished_invocations(deployment_id)
    except (AdminApiError, AdminApiUnreachable, ValueError) as error:
        logger.warning("Keeping %s: cannot tell whether invocations still run on it: %s", deployment_id, error)
        return False
    if unfinished:
        logger.info("Keeping %s: %d unfinished invocations are pinned to it", deployment_id, unfinished)
    return unfinished == 0


def prune_deployments(
    admin: RestateAdmin, current_id: str, services: set[str], deadline: Deadline, keep: int = 0
) -> list[str]:
    """Delete the deployments that ``current_id`` supersedes for all their services and that are idle,
    but the newest ``keep`` of them (the revision history, for a quick rollback).

    A deployment that also serves a service the current one does not is kept: removing it would
    remove that service. Best effort: a failure is logged, never fails the registration. At most
    :data:`MAX_PRUNED_PER_RUN` per run and never close to the deadline; the next deploy goes on.
    """
    pruned: list[str] = []
    try:
        deployments = admin.deployments()
    except (AdminApiError, AdminApiUnreachable) as error:
        logger.warning("Not pruning: cannot list deployments: %s", error)
        return pruned
    superseded = []
    for deployment in deployments:
        deployment_id = str(deployment.get("id", ""))
        served = {str(service.get("name")) for service in deployment.get("services", [])}
        if deployment_id != current_id and served and served <= services:
            superseded.append(deployment)
    # Restate's timestamps are RFC 3339 in UTC, so they sort as text.
    superseded.sort(key=lambda deployment: str(deployment.get("created_at", "")), reverse=True)
    for deployment in superseded[keep:]:
        deployment_id = str(deployment.get("id", ""))
        if len(pruned) >= MAX_PRUNED_PER_RUN or deadline.remaining() < PRUNE_RESERVE_SECONDS:
            logger.info("Pruned %d this time; later deploys prune the rest", len(pruned))
            break
        if not removable(admin, deployment_id):
            continue
        try:
            # Restate removes deployments only with force; the check above is what makes it safe.
            admin.delete_deployment(deployment_id, force=True)
        except (AdminApiError, AdminApiUnreachable) as error:
            logger.warning("Could not prune %s: %s", deployment_id, error)
            continue
        logger.info("Pruned %s (%s), superseded by %s", deployment_id, deployment.get("arn"), current_id)
        pruned.append(deployment_id)
    return pruned


def remove_deployment(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    physical_id = str(event.get("PhysicalResourceId", ""))
    policy = str(properties.get("RemovalPolicy", "retain")).lower()
    answer: dict[str, Any] = {"PhysicalResourceId": physical_id, "Data": {"Removed": ""}}
    # A failed Create leaves a request id as the physical id: nothing was registered under it.
    if policy != "destroy" or not physical_id.startswith("arn:"):
        logger.info("Leaving the Restate deployment of %s in place (removal policy %s)", physical_id, policy)
        return answer
    removed: list[str] = []
    try:
        admin = connect(properties, deadline, patience=DELETE_PATIENCE_SECONDS)
        stack = str(event.get("StackId", ""))
        for deployment in admin.deployments_of_arn(physical_id):
            registered_by = (deployment.get("metadata") or {}).get("cloudformation-stack", stack)
            if registered_by != stack:
                # The ARN was reused by a function of another stack, whose registration took it over.
                logger.info("Leaving %s: it was registered by %s", deployment["id"], registered_by)
                continue
            if removable(admin, deployment["id"]):
                admin.delete_deployment(deployment["id"], force=True)
                removed.append(deployment["id"])
    except (RegistrationFailed, AdminApiError, AdminApiUnreachable) as error:
        # Best effort: a stack must stay deletable when its Restate environment is already gone.
        logger.warning("Could not remove the deployment of %s: %s", physical_id, error)
    logger.info("Removed %s for %s", removed or "nothing", physical_id)
    answer["Data"]["Removed"] = ",".join(removed)
    return answer


# --- Custom::RestateKafkaCluster -------------------------------------------------------------


def kafka_properties(properties: Mapping[str, Any]) -> dict[str, str]:
    merged = {str(key): str(value) for key, value in dict(properties.get("Properties") or {}).items()}
    merged["bootstrap.servers"] = str(properties["BootstrapServers"])
    sasl_secret = str(properties.get("SaslSecretId") or "")
    if sasl_secret:
        try:
            credentials = secret_json(sasl_secret)
            merged["sasl.username"] = str(credentials["username"])
            merged["sasl.password"] = str(credentials["password"])
        except SecretUnavailable as problem:
            raise RegistrationFailed(str(problem)) from None
        except KeyError as missing:
            raise RegistrationFailed(f"secret {sasl_secret} has no {missing} entry") from None
    return merged


def ensure_cluster(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    name = str(properties["ClusterName"])
    wanted = kafka_properties(properties)
    admin = connect_for_changes(event, deadline)
    created = with_retries(
        admin, lambda: admin.ensure_kafka_cluster(name, wanted), f"creating Kafka cluster {name}", deadline
    )
    logger.info("%s Kafka cluster %s (%s)", "Created" if created else "Updated", name, wanted["bootstrap.servers"])
    return {"PhysicalResourceId": name, "Data": {"ClusterName": name}}


def remove_cluster(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    """Delete the cluster, and first the subscriptions still reading from it.

    A cluster goes when Kafka is switched off or the cluster is renamed, and its subscriptions are
    resources of their own, often of other stacks, which CloudFormation may delete later: left in
    place, they would keep a consumer on a cluster Restate no longer knows. Their own Deletes then
    find them gone, which they accept.
    """
    name = str(event.get("PhysicalResourceId", ""))
    answer: dict[str, Any] = {"PhysicalResourceId": name, "Data": {"DeletedSubscriptions": ""}}
    if name != str(event["ResourceProperties"].get("ClusterName")):
        return answer  # a failed Create: no cluster was made under this id
    try:
        admin = connect(event["ResourceProperties"], deadline, DELETE_PATIENCE_SECONDS)
        readers = [sub for sub in admin.subscriptions() if str(sub.get("source", "")).startswith(f"kafka://{name}/")]
        for subscription in readers:
            admin.delete_subscription(str(subscription["id"]))
            logger.info(
                "Deleted subscription %s (%s), which read from %s", subscription["id"], subscription["source"], name
            )
        answer["Data"]["DeletedSubscriptions"] = ",".join(str(sub["id"]) for sub in readers)
        admin.delete_kafka_cluster(name)
        logger.info("Deleted Kafka cluster %s", name)
    except (RegistrationFailed, AdminApiError, AdminApiUnreachable) as error:
        if not (isinstance(error, AdminApiError) and error.status == 404):
            logger.warning("Could not delete Kafka cluster %s: %s", name, error)
    return answer


# --- Custom::RestateSubscription -------------------------------------------------------------


def subscription_spec(properties: Mapping[str, Any]) -> SubscriptionSpec:
    return SubscriptionSpec(
        source=f"kafka://{properties['ClusterName']}/{properties['Topic']}",
        sink=f"service://{properties['Service']}/{properties['Handler']}",
        options={str(key): str(value) for key, value in dict(properties.get("Options") or {}).items()},
    )


def subscription_id(spec: SubscriptionSpec) -> str:
    return f"{spec.source} -> {spec.sink}"


def ensure_subscription(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    spec = subscription_spec(event["ResourceProperties"])
    admin = connect_for_changes(event, deadline)
    existing = admin.find_subscription(spec.source, spec.sink)
    if existing is not None:
        current = existing.get("options") or {}
        if all(current.get(key) == value for key, value in spec.options.items()):
            logger.info("Subscription %s already exists as %s", subscription_id(spec), existing["id"])
            return {"PhysicalResourceId": subscription_id(spec), "Data": {"SubscriptionId": existing["id"]}}
        # Restate cannot change a subscription's options in place: replace the subscription.
        logger.info("Re-creating subscription %s with options %s", existing["id"], dict(spec.options))
        admin.delete_subscription(existing["id"])
    created = with_retries(
        admin, lambda: admin.create_subscription(spec), f"subscribing {subscription_id(spec)}", deadline
    )
    logger.info("Created subscription %s as %s", subscription_id(spec), created)
    return {"PhysicalResourceId": subscription_id(spec), "Data": {"SubscriptionId": created}}


def remove_subscription(event: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    spec = subscription_spec(event["ResourceProperties"])
    physical_id = str(event.get("PhysicalResourceId", ""))
    answer: dict[str, Any] = {"PhysicalResourceId": physical_id, "Data": {}}
    if physical_id != subscription_id(spec):
        return answer  # a failed Create: nothing was subscribed under this id
    try:
        admin = connect(event["ResourceProperties"], deadline, DELETE_PATIENCE_SECONDS)
        existing = admin.find_subscription(spec.source, spec.sink)
        if existing is not None:
            admin.delete_subscription(existing["id"])
            logger.info("Deleted subscription %s (%s)", physical_id, existing["id"])
    except (RegistrationFailed, AdminApiError, AdminApiUnreachable) as error:
        if not (isinstance(error, AdminApiError) and error.status == 404):
            logger.warning("Could not delete subscription %s: %s", physical_id, error)
    return answer


Operation = Callable[[Mapping[str, Any], Deadline], dict[str, Any]]
HANDLERS: Mapping[str, tuple[Operation, Operation]] = {
    # resource type: (create or update, delete); both take the event
    DEPLOYMENT_RESOURCE: (register_deployment, remove_deployment),
    KAFKA_CLUSTER_RESOURCE: (ensure_cluster, remove_cluster),
    SUBSCRIPTION_RESOURCE: (ensure_subscription, remove_subscription),
}


def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Provider framework's onEvent handler for every Restate custom resource."""
    deadline = Deadline(context)
    request, resource_type = event["RequestType"], event["ResourceType"]
    logger.info("%s %s %s", request, resource_type, event.get("PhysicalResourceId", event.get("LogicalResourceId")))
    if resource_type not in HANDLERS:
        raise RegistrationFailed(f"unknown resource type {resource_type}; known: {', '.join(HANDLERS)}")
    upsert, remove = HANDLERS[resource_type]
    if request in ("Create", "Update"):
        return upsert(event, deadline)
    if request == "Delete":
        return remove(event, deadline)
    raise RegistrationFailed(f"unknown request type {request}")

"""The pattern catalog: the one place that lists every pattern.

The CDK app builds one Lambda function per entry, registers it with Restate and wires its Kafka
subscriptions; the local stack serves the same entries from the local Lambda runtime and
registers them the same way. Adding a pattern is a folder in ``functions/`` plus one entry here;
its settings, if it has any, are declared in the folder's ``settings.py`` (see :func:`settings_model_of`).
``HTTP_APIS`` lists the functions that are no Restate deployment but HTTP APIs calling the ingress.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.common.settings import PatternSettings


@dataclass(frozen=True)
class Subscription:
    """Restate consumes ``topic`` and invokes ``service/handler`` once per record (key = record key)."""

    topic: str
    service: str
    handler: str

    @property
    def sink(self) -> str:
        return f"service://{self.service}/{self.handler}"


SUBSCRIPTION_OPTIONS: Mapping[str, str] = {
    # A new subscription reads its topic from the start, so records produced before it existed count.
    "auto.offset.reset": "earliest",
    # Long enough that a broker restart does not time the session out on the consumer's side: after
    # such a timeout restate-server 1.7.12's consumer revoked its partitions and never joined again
    # (seen with 10 s, the broker down for 6 s and then loading its groups). Short enough that a
    # consumer restate-server started anew after a transport error is not kept waiting for librdkafka's
    # default 45 s until the group lets its dead predecessor go.
    "session.timeout.ms": "30000",
    "heartbeat.interval.ms": "1000",
    # Topics created after the subscription are noticed within seconds, not at the 5 min default.
    "topic.metadata.refresh.interval.ms": "5000",
}
"""Consumer settings of every subscription (librdkafka properties), locally and on AWS."""

CONSUMER_GROUP_OPTION = "group.id"


def consumer_group_id(app_name: str, pattern_name: str, subscription: Subscription) -> str:
    """The Kafka consumer group of one subscription, stable for as long as the app, pattern and topic are.

    Without it Restate uses the subscription's id, which is new whenever the subscription is
    re-created (its options changed, its stack was re-created): a new group with
    ``auto.offset.reset: earliest`` replays the whole topic into the handlers. With a group that
    outlives the subscription, the new one resumes at the offsets the old one committed.
    """
    return f"{app_name}.{pattern_name}.{subscription.topic}.{subscription.service}.{subscription.handler}"


def subscription_options(app_name: str, pattern_name: str, subscription: Subscription) -> dict[str, str]:
    """:data:`SUBSCRIPTION_OPTIONS` plus the subscription's own stable consumer group."""
    return {**SUBSCRIPTION_OPTIONS, CONSUMER_GROUP_OPTION: consumer_group_id(app_name, pattern_name, subscription)}


SHARED_REQUIREMENTS = "requirements.txt"
"""What every bundle installs (relative to ``functions/``). A function that needs more names its own
file, which includes this one with ``-r ../requirements.txt``, so that its extra packages do not land
in every other bundle and a change to them publishes a new version of that function only."""


def code_sources(folder: str) -> tuple[str, ...]:
    """The parts of the ``functions`` package a function of ``functions/<folder>`` runs, from the project root.

    The one statement of it: the CDK app bundles these (stacks/bundling.py), and the local stack
    hashes them into the code version it registers (local/stack.py), so a change to any of them is
    a new version in both places and a change elsewhere is one in neither.
    """
    return ("functions/__init__.py", "functions/catalog.py", "functions/common", f"functions/{folder}")


@dataclass(frozen=True)
class AwsAccess:
    """AWS API calls a pattern's own code makes; the CDK app grants exactly these to its function.

    Resources are ARN templates. Besides ``{partition}``, ``{region}`` and ``{account}`` they may
    name any of the pattern's settings, and ``{<SETTING>_DOMAIN}`` for a setting that holds an
    email address, so the grant follows the configured values.
    """

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    why_wildcards: str = ""
    """Why a resource needs a ``*`` (names only known at run time); required when one has one."""


def settings_model_of(folder: str) -> type[PatternSettings] | None:
    """``Settings`` in ``functions/<folder>/settings.py``, if the folder has that module.

    Imported only when asked for, so that the catalog stays importable in a bundle that holds one
    function's folder and no other's.
    """
    module = f"functions.{folder}.settings"
    if importlib.util.find_spec(module) is None:
        return None
    model: type[PatternSettings] = importlib.import_module(module).Settings
    return model


def settings_of(folder: str) -> Mapping[str, str]:
    """Every variable of the folder's settings model with its default; none without a model."""
    model = settings_model_of(folder)
    return model.environment_defaults() if model is not None else {}


class HasSettingsFolder:
    """A catalog entry whose settings model lives in ``functions/<name>/settings.py``."""

    name: str

    @property
    def settings_model(self) -> type[PatternSettings] | None:
        """``Settings`` in the entry's ``settings`` module, if it has one."""
        return settings_model_of(self.name)

    @property
    def settings(self) -> Mapping[str, str]:
        """Environment variables (with their defaults) the function reads; CDK and the local stack set them."""
        return settings_of(self.name)


@dataclass(frozen=True)
class Pattern(HasSettingsFolder):
    name: str
    """Folder in ``functions/``, Lambda function name, test module ``tests/test_<name>.py``."""
    title: str
    services: tuple[str, ...]
    """Every Restate service the function serves; registration checks they all came back."""
    subscriptions: tuple[Subscription, ...] = ()
    secret_settings: tuple[str, ...] = ()
    """Settings whose value is a secret, read with ``functions.common.settings.secret_setting``.

    They have no default and are not in ``settings``: on AWS the deployer names a Secrets Manager secret
    per setting (context ``patterns:settingSecrets``) and the function gets ``<NAME>_SECRET_ARN`` (a
    trailing ``_SECRET`` not doubled: ``STRIPE_WEBHOOK_SECRET_ARN``) and reads the value itself, so it
    never shows in the function's configuration; locally (and in tests) ``<NAME>`` itself may be set.
    Unset, the setting reads as empty.
    """
    timeout_seconds: int = 60
    """Lambda timeout: longer than the longest single step (durable sleeps suspend the function)."""
    memory_mb: int = 512
    private_services: tuple[str, ...] = ()
    """Services only other services may call (not exposed on the ingress)."""
    aws_access: tuple[AwsAccess, ...] = ()
    requirements: str = SHARED_REQUIREMENTS
    """pip requirements of the function's bundle, relative to ``functions/`` (see :data:`SHARED_REQUIREMENTS`)."""

    @property
    def handler(self) -> str:
        """The Lambda handler string: every pattern exposes ``app`` from its ``service`` module."""
        return f"functions.{self.name}.service.app"


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        name="durable_rpc",
        title="Durable RPC, idempotency and concurrency",
        services=("ProductService",),
    ),
    Pattern(
        name="delayed_queue",
        title="(Delayed) message queue",
        services=("AsyncTaskWorker",),
    ),
    Pattern(
        name="sagas",
        title="Sagas",
        services=("BookingWorkflow", "Flights", "CarRentals"),
    ),
    Pattern(
        name="event_transactions",
        title="Transactional event processing",
        services=("UserFeed",),
        subscriptions=(Subscription(topic="social-media-posts", service="UserFeed", handler="ProcessPost"),),
    ),
    Pattern(
        name="event_enrichment",
        title="Event enrichment / joins",
        services=("PackageTracker",),
        subscriptions=(
            Subscription(topic="package-location-updates", service="PackageTracker", handler="UpdateLocation"),
        ),
    ),
    Pattern(
        name="data_upload",
        title="Async data upload: turn a slow sync task into an async one",
        services=("DataUploadService",),
        # The upload's duration is spent inside one step (it stands for the transfer), so the
        # function must outlive UPLOAD_MAX_SECONDS plus the S3 calls around it.
        timeout_seconds=30,
        aws_access=(
            AwsAccess(
                # ListBucket: so that a missing object (no email sent yet, see mailer.py) is a 404, not a 403.
                actions=("s3:CreateBucket", "s3:ListBucket"),
                resources=("arn:{partition}:s3:::{UPLOAD_BUCKET_PREFIX}-*",),
                why_wildcards="Each upload gets its own bucket, named from the prefix and the upload id at run time.",
            ),
            AwsAccess(
                actions=("s3:PutObject", "s3:GetObject"),
                resources=("arn:{partition}:s3:::{UPLOAD_BUCKET_PREFIX}-*/*",),
                why_wildcards="The objects live in the per-upload buckets named from the prefix at run time.",
            ),
            AwsAccess(
                actions=("ses:SendEmail",),
                # SES authorizes the sender's address identity, or its domain's when the domain is verified.
                resources=(
                    "arn:{partition}:ses:{region}:{account}:identity/{UPLOAD_EMAIL_SENDER}",
                    "arn:{partition}:ses:{region}:{account}:identity/{UPLOAD_EMAIL_SENDER_DOMAIN}",
                ),
            ),
        ),
        # Its code is built on S3 and SES calls (presigned URLs among them): it ships the boto3 it was
        # tested with rather than the runtime's.
        requirements="data_upload/requirements.txt",
    ),
    Pattern(
        name="webhook_callbacks",
        title="Webhook callbacks",
        services=("WebhookCallbackRouter",),
        # The endpoint's Stripe signing secret (whsec_...); unset accepts unsigned events.
        secret_settings=("STRIPE_WEBHOOK_SECRET",),
    ),
    Pattern(
        name="scheduling_tasks",
        title="Scheduling tasks",
        services=("PaymentTracker",),
    ),
    Pattern(
        name="stateful_actors",
        title="Stateful actors and durable state machines",
        services=("MachineOperator",),
    ),
    Pattern(
        name="parallelize_work",
        title="Parallelizing work (fan-out, fan-in)",
        services=("FanOutWorker",),
    ),
)


INGRESS_URL_VARIABLE = "RESTATE_INGRESS_URL"
"""Where an HTTP API finds the Restate ingress (the same variable the command-line clients read)."""
INGRESS_KEY_SECRET_VARIABLE = "RESTATE_INGRESS_KEY_SECRET_ARN"
"""On AWS: the Secrets Manager secret whose SecretString is the Restate API key, read once per cold start."""
INGRESS_KEY_VARIABLE = "RESTATE_INGRESS_KEY"
"""Elsewhere: the API key itself, or unset (the local ingress needs none)."""


@dataclass(frozen=True)
class HttpApi(HasSettingsFolder):
    """A plain HTTP API in front of the Restate ingress: one Lambda function behind a Function URL.

    Unlike a :class:`Pattern` it is no Restate deployment - it serves no services, nothing registers
    it - but a *client* of the ingress. It finds the ingress through ``INGRESS_URL_VARIABLE`` and its
    key through ``INGRESS_KEY_SECRET_VARIABLE`` (AWS) or ``INGRESS_KEY_VARIABLE``; the CDK app sets them and
    gives the function a Function URL, the local stack serves it on a loopback port.
    """

    name: str
    """Folder in ``functions/``, Lambda function name, test module ``tests/test_<name>.py``."""
    title: str
    timeout_seconds: int = 60
    """Lambda timeout: longer than the longest request (the API waits for Restate within it)."""
    memory_mb: int = 512
    function_url_auth: str = "AWS_IAM"
    """Function URL auth type: ``AWS_IAM`` (SigV4-signed callers only) or ``NONE`` (public)."""
    requirements: str = SHARED_REQUIREMENTS
    """pip requirements of the function's bundle, relative to ``functions/``, as for patterns."""

    @property
    def handler(self) -> str:
        """The Lambda handler string: every HTTP API exposes its Mangum ``handler`` from its ``api`` module."""
        return f"functions.{self.name}.api.handler"


HTTP_APIS: tuple[HttpApi, ...] = (
    HttpApi(
        name="front_door",
        title="Front door: the clients' flows as one HTTP API",
        requirements="front_door/requirements.txt",
    ),
)


def pattern_named(name: str) -> Pattern:
    for pattern in PATTERNS:
        if pattern.name == name:
            return pattern
    known = ", ".join(p.name for p in PATTERNS)
    raise KeyError(f"no pattern named {name!r}; the catalog has: {known}")


def all_subscriptions() -> tuple[Subscription, ...]:
    return tuple(sub for pattern in PATTERNS for sub in pattern.subscriptions)


def http_api_named(name: str) -> HttpApi:
    for api in HTTP_APIS:
        if api.name == name:
            return api
    known = ", ".join(api.name for api in HTTP_APIS)
    raise KeyError(f"no HTTP API named {name!r}; the catalog has: {known}")

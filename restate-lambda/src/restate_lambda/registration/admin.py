"""A small client for Restate's admin API: what registering the patterns needs, nothing more.

Used by the CDK custom resource that registers each deployed function version, and by local
stacks and tests, so it depends on the standard library only (it runs in a Lambda bundle too)
and every failure says which call failed and why.

* :meth:`RestateAdmin.wait_until_healthy` - poll ``/health`` until a deadline, backing off; a
  401/403 fails at once (waiting cannot fix a wrong key).
* :meth:`RestateAdmin.server_version` - ``GET /version``, to refuse a Restate too old for what we need.
* :meth:`RestateAdmin.register_lambda` - ``POST /deployments`` with the function version's ARN and
  ``force: false``, so registering the same ARN again changes nothing, and registering an ARN whose
  services changed incompatibly is refused instead of silently breaking in-flight invocations.
  Restate matches a Lambda deployment by ARN alone, so a 200 may be *another* function's deployment
  under a reused ARN: callers check :meth:`RestateAdmin.deployment` and :meth:`RestateAdmin.latest_deployment_of`.
* :meth:`RestateAdmin.ensure_kafka_cluster` - create the cluster or update its properties.
* :meth:`RestateAdmin.reconcile_subscriptions` - the admin API has no upsert, so list, match, and
  create only the missing ones.
* :meth:`RestateAdmin.unfinished_invocations` - whether a deployment still has work pinned to it
  (admin SQL on ``sys_invocation``), before anything removes it.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class AdminApiError(Exception):
    """The admin API answered with an error status."""

    def __init__(self, method: str, url: str, status: int, message: str) -> None:
        super().__init__(f"{method} {url} failed with HTTP {status}: {message}")
        self.status = status
        self.message = message

    @property
    def unauthorized(self) -> bool:
        return self.status in (401, 403)


class AdminApiUnreachable(Exception):
    """Nothing answered at the admin URL before the deadline."""


class AdminApiUnauthorized(AdminApiUnreachable):
    """The admin API refused our credentials: no amount of waiting helps."""


def restate_message(body: str) -> str:
    """Restate's own words from an error body (``{"code": ..., "message": ...}``), else the body as it is."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return body


UNAUTHORIZED = "the API key is wrong or lacks the admin role"
"""What a 401 or 403 of the admin API means, said wherever one fails a call."""
HEALTH_POLL_MAX_SECONDS = 5.0
"""The longest pause between two ``/health`` polls (they start at 0.2 s and double)."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.7.12"`` (or ``"1.7.0-rc.1"``) as ``(1, 7, 12)``; :class:`ValueError` if it is no version."""
    match = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True)
class Deployment:
    id: str
    services: tuple[str, ...]
    created: bool
    """False when Restate already had this exact deployment (re-registration is a no-op)."""


@dataclass(frozen=True)
class SubscriptionSpec:
    source: str
    """``kafka://<cluster>/<topic>``"""
    sink: str
    """``service://<service>/<handler>``"""
    options: Mapping[str, str]


@dataclass(frozen=True)
class ReconcileResult:
    created: tuple[str, ...]
    """Ids of subscriptions created now."""
    existing: tuple[str, ...]
    """Ids of subscriptions that already matched."""


def tls_context(ca_bundle: str | None = None, insecure: bool = False) -> ssl.SSLContext | None:
    """How to trust an HTTPS admin API: the system's CAs (None), a private CA's PEM bundle, or nothing at all."""
    if insecure:
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        return unverified
    if ca_bundle:
        return ssl.create_default_context(cadata=ca_bundle)
    return None


class RestateAdmin:
    def __init__(
        self,
        admin_url: str,
        token: str | None = None,
        request_timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.token = token
        self.request_timeout = request_timeout
        self.tls = tls

    def _request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        url = f"{self.admin_url}{path}"
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.request_timeout, context=self.tls) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            message = restate_message(error.read().decode(errors="replace")) or str(error.reason)
            raise AdminApiError(method, url, error.code, message) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AdminApiUnreachable(f"{method} {url}: {reason}") from None

    def wait_until_healthy(self, timeout: float) -> None:
        """Return once ``/health`` answers 200; raise :class:`AdminApiUnreachable` after ``timeout`` s.

        Polls back off (a Restate Cloud environment waking up takes seconds, not milliseconds), and a
        401 or 403 raises :class:`AdminApiUnauthorized` at once.
        """
        deadline = time.monotonic() + timeout
        last_problem = "no attempt made"
        pause = 0.2
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AdminApiUnreachable(
                    f"Restate admin API at {self.admin_url} not healthy after {timeout:g} s: {last_problem}"
                )
            try:
                self._request("GET", "/health", timeout=max(0.1, min(remaining, 5.0)))
                return
            except AdminApiError as problem:
                if problem.unauthorized:
                    raise AdminApiUnauthorized(
                        f"Restate admin API at {self.admin_url} answered HTTP {problem.status}: {UNAUTHORIZED}"
                    ) from None
                last_problem = str(problem)
            except AdminApiUnreachable as problem:
                last_problem = str(problem)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, HEALTH_POLL_MAX_SECONDS)

    def server_version(self) -> str:
        """The server's version as it reports it, e.g. ``"1.7.12"``."""
        _, answer = self._request("GET", "/version")
        return str((answer or {}).get("version", ""))

    def register_lambda(
        self,
        arn: str,
        assume_role_arn: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        force: bool = False,
        breaking: bool = False,
    ) -> Deployment:
        """Register a Lambda version; ``force`` re-discovers and overwrites a deployment with this ARN
        (and makes it the latest of its services), ``breaking`` accepts incompatible service changes."""
        body: dict[str, Any] = {"arn": arn, "force": force}
        if breaking:
            body["breaking"] = True
        if assume_role_arn:
            body["assume_role_arn"] = assume_role_arn
        if metadata:
            body["metadata"] = dict(metadata)
        status, answer = self._request("POST", "/deployments", body)
        services = tuple(service["name"] for service in answer.get("services", []))
        return Deployment(id=answer["id"], services=services, created=status == 201)

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        """One deployment: ``id``, ``arn``, ``metadata``, ``services`` (name and revision), ..."""
        _, answer = self._request("GET", f"/deployments/{urllib.parse.quote(deployment_id)}")
        found: dict[str, Any] = answer
        return found

    def latest_deployment_of(self, service: str) -> str:
        """The id of the deployment that new invocations of ``service`` go to."""
        _, answer = self._request("GET", f"/services/{urllib.parse.quote(service)}")
        return str(answer["deployment_id"])

    def deployments(self) -> list[dict[str, Any]]:
        _, answer = self._request("GET", "/deployments")
        deployments: list[dict[str, Any]] = answer.get("deployments", [])
        return deployments

    def deployments_of_arn(self, arn: str) -> list[dict[str, Any]]:
        return [deployment for deployment in self.deployments() if deployment.get("arn") == arn]

    def delete_deployment(self, deployment_id: str, force: bool = False) -> None:
        query = "?force=true" if force else ""
        self._request("DELETE", f"/deployments/{urllib.parse.quote(deployment_id)}{query}")

    def set_service_public(self, service: str, public: bool) -> None:
        self._request("PATCH", f"/services/{urllib.parse.quote(service)}", {"public": public})

    def ensure_kafka_cluster(self, name: str, properties: Mapping[str, str]) -> bool:
        """Create the cluster, or update its properties if it exists; True if it was created."""
        try:
            self._request("POST", "/kafka-clusters", {"name": name, "properties": dict(properties)})
            return True
        except AdminApiError as error:
            if error.status != 409:
                raise
        self._request("PATCH", f"/kafka-clusters/{urllib.parse.quote(name)}", {"properties": dict(properties)})
        return False

    def delete_kafka_cluster(self, name: str) -> None:
        self._request("DELETE", f"/kafka-clusters/{urllib.parse.quote(name)}")

    def subscriptions(self) -> list[dict[str, Any]]:
        _, answer = self._request("GET", "/subscriptions")
        subscriptions: list[dict[str, Any]] = answer.get("subscriptions", [])
        return subscriptions

    def reconcile_subscriptions(self, wanted: Iterable[SubscriptionSpec]) -> ReconcileResult:
        """Create each wanted subscription unless one with the same source and sink exists."""
        existing = {(sub["source"], sub["sink"]): sub["id"] for sub in self.subscriptions()}
        created: list[str] = []
        matched: list[str] = []
        for spec in wanted:
            found = existing.get((spec.source, spec.sink))
            if found is not None:
                matched.append(found)
                continue
            _, answer = self._request(
                "POST", "/subscriptions", {"source": spec.source, "sink": spec.sink, "options": dict(spec.options)}
            )
            created.append(answer["id"])
            existing[(spec.source, spec.sink)] = answer["id"]
        return ReconcileResult(created=tuple(created), existing=tuple(matched))

    def delete_subscription(self, subscription_id: str) -> None:
        self._request("DELETE", f"/subscriptions/{urllib.parse.quote(subscription_id)}")

    def find_subscription(self, source: str, sink: str) -> dict[str, Any] | None:
        """The subscription from ``source`` to ``sink``, if there is one (there is at most one)."""
        for subscription in self.subscriptions():
            if subscription.get("source") == source and subscription.get("sink") == sink:
                return subscription
        return None

    def create_subscription(self, spec: SubscriptionSpec) -> str:
        _, answer = self._request(
            "POST", "/subscriptions", {"source": spec.source, "sink": spec.sink, "options": dict(spec.options)}
        )
        subscription_id: str = answer["id"]
        return subscription_id

    def unfinished_invocations(self, deployment_id: str) -> int:
        """How many invocations pinned to the deployment have not completed yet.

        Restate runs an invocation to its end on the deployment it started on, so a deployment is
        safe to remove only when this is 0.
        """
        # The id goes into SQL text: accept only the shape Restate gives deployment ids.
        if not re.fullmatch(r"dp_[0-9A-Za-z]+", deployment_id):
            raise ValueError(f"not a deployment id: {deployment_id!r}")
        rows = self.query(
            "SELECT count(*) AS unfinished FROM sys_invocation "
            f"WHERE pinned_deployment_id = '{deployment_id}' AND status <> 'completed'"
        )
        return int(rows[0]["unfinished"]) if rows else 0

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of an admin SQL query (``sys_invocation``, ``state``, ...)."""
        _, answer = self._request("POST", "/query", {"query": sql})
        rows: list[dict[str, Any]] = answer.get("rows", [])
        return rows

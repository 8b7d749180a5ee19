"""The catalog's functions as specs of the package's local Lambda runtime (restate_lambda.local.lambda_runtime)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# LocalLambdaRuntime and VersionExists: imported from here by the CDK tests until they import the package's.
from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime, VersionExists

from functions.catalog import HttpApi, Pattern

__all__ = ["FunctionSpec", "LocalLambdaRuntime", "VersionExists", "spec_for_http_api", "specs_for_patterns"]


def specs_for_patterns(patterns: Iterable[Pattern], environment: Mapping[str, str] | None = None) -> list[FunctionSpec]:
    """One function per catalog pattern, with its default settings overlaid by ``environment``."""
    overrides = dict(environment or {})
    return [
        FunctionSpec(
            name=pattern.name,
            handler=pattern.handler,
            timeout_seconds=pattern.timeout_seconds,
            memory_mb=pattern.memory_mb,
            environment={**pattern.settings, **overrides},
        )
        for pattern in patterns
    ]


def spec_for_http_api(api: HttpApi, environment: Mapping[str, str] | None = None) -> FunctionSpec:
    """The function of a catalog HTTP API, with its default settings overlaid by ``environment``."""
    return FunctionSpec(
        name=api.name,
        handler=api.handler,
        timeout_seconds=api.timeout_seconds,
        memory_mb=api.memory_mb,
        environment={**api.settings, **(environment or {})},
    )

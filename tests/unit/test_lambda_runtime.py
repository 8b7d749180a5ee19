"""Lambda runtime: what is checked without a stack (the rest: tests/stack/test_lambda_runtime.py)."""

from __future__ import annotations

import pytest
from restate_lambda.local.lambda_runtime import (
    FunctionSpec,
    parse_function_reference,
)

from functions.catalog import HTTP_APIS, PATTERNS
from local.lambda_runtime import spec_for_http_api, specs_for_patterns


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("arn:aws:lambda:eu-central-1:123456789012:function:durable_rpc:3", ("durable_rpc", "3")),
        ("arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aprobe%3A%24LATEST", ("probe", "$LATEST")),
        ("arn:aws:lambda:us-east-1:1:function:probe", ("probe", "$LATEST")),
        ("probe:live", ("probe", "live")),
    ],
)
def test_function_references_resolve_like_lambda(reference, expected):
    assert parse_function_reference(reference) == expected


@pytest.mark.parametrize(("timeout", "memory"), [(901, 512), (0, 512), (60, 64), (60, 10_241)])
def test_a_function_lambda_would_refuse_cannot_be_defined(timeout, memory):
    with pytest.raises(ValueError, match="Lambda"):
        FunctionSpec("too_much", "tests.lambda_functions.probe.handler", timeout_seconds=timeout, memory_mb=memory)


def test_every_catalog_function_fits_lambdas_limits():
    # Defining them raises for a timeout or memory size Lambda would refuse.
    assert len(specs_for_patterns(PATTERNS)) == len(PATTERNS)
    assert all(spec_for_http_api(api) for api in HTTP_APIS)

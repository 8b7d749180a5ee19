"""The package worker's Lambda context, where tests/cdk_support.py imports it (restate_lambda.local.lambda_worker)."""

from restate_lambda.local.lambda_worker import LambdaContext

__all__ = ["LambdaContext"]

"""Restate services on AWS Lambda from Python: CDK constructs (``restate_lambda.cdk``)."""

__version__ = "0.1.0"

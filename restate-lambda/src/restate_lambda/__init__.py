"""Restate services on AWS Lambda from Python: CDK constructs (``restate_lambda.cdk``)."""

__version__ = "0.1.0"

LAMBDA_PYTHON_VERSION = "3.13"
"""The Lambda runtime the bundles target by default (``python3.13``), and the interpreter the local
runtime runs them with where one is installed: the one place of that version."""

"""Restate services on AWS Lambda from Python: CDK constructs (``restate_lambda.cdk``) and, with the
``local`` extra, a local test harness and dev server (``restate_lambda.local``)."""

__version__ = "0.2.0"

LAMBDA_PYTHON_VERSION = "3.13"
"""The Lambda runtime the bundles target by default (``python3.13``), and the interpreter the local
runtime runs them with where one is installed: the one place of that version."""

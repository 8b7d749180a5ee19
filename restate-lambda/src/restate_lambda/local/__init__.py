"""Run your Restate handlers locally the way Lambda runs them: a test harness, a pytest plugin, a dev server.

``pip install restate-lambda[local]``. A real restate-server (from npm) invokes your handler modules
through a local implementation of the Lambda Invoke API, with Lambda's environment, timeout, memory
setting and 6 MB payload limits, and on request moto (AWS) and a Kafka broker beside it. No Docker.

* :class:`LocalHarness`: the context manager that starts it all on free ports.
* ``restate_lambda.local.pytest_plugin``: the same as pytest fixtures (``restate_lambda_harness``).
* ``python -m restate_lambda.local serve greeter=greeter.service:app``: a dev server that publishes
  and registers a new version when the code changes.
"""

from restate_lambda.local.harness import Function, HarnessPorts, LocalHarness, Subscription
from restate_lambda.local.lambda_runtime import VersionExists
from restate_lambda.local.restate_server import (
    MINIMUM_VERSION,
    TESTED_VERSION,
    RestateServerNotFound,
    find_restate_server,
)

__all__ = [
    "MINIMUM_VERSION",
    "TESTED_VERSION",
    "Function",
    "HarnessPorts",
    "LocalHarness",
    "RestateServerNotFound",
    "Subscription",
    "VersionExists",
    "find_restate_server",
]

"""CDK constructs for Restate services on AWS Lambda, in Python.

- :class:`PythonFunction`: a function bundled on the host (no Docker) for a :class:`Target`, with
  bytecode compiled by the target's Python.
- :class:`DependenciesLayer`: one copy of a requirements file's wheels for many functions.
"""

from restate_lambda.cdk.bundling import Bundle, LayerBundle, PythonSources, Target, find_interpreter
from restate_lambda.cdk.function import LOG_RETENTION_DAYS, DependenciesLayer, PythonFunction

__all__ = [
    "LOG_RETENTION_DAYS",
    "Bundle",
    "DependenciesLayer",
    "LayerBundle",
    "PythonFunction",
    "PythonSources",
    "Target",
    "find_interpreter",
]

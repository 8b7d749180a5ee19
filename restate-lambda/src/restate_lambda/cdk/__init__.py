"""CDK constructs for Restate services on AWS Lambda, in Python.

- :class:`PythonFunction`: a function bundled on the host (no Docker) for a :class:`Target`, with
  bytecode compiled by the target's Python; :class:`DependenciesLayer`: one copy of a requirements
  file's wheels for many functions.
- :class:`RestateEnvironment`: Restate Cloud or self-hosted, with the invoker role Restate assumes.
- :class:`RegistrationProvider`: the registration function behind CDK's Provider framework.
- :class:`RestateDeployment`: a published function version registered with an environment.
- :class:`KafkaCluster` and :class:`KafkaSubscription`: Kafka topics delivered to handlers.
"""

from restate_lambda.cdk.bundling import Bundle, LayerBundle, PythonSources, Target, find_interpreter
from restate_lambda.cdk.function import LOG_RETENTION_DAYS, DependenciesLayer, PythonFunction
from restate_lambda.cdk.restate import (
    RESTATE_CLOUD_ACCOUNT,
    RESTATE_CLOUD_PRINCIPAL_ARN,
    KafkaCluster,
    KafkaSubscription,
    RegistrationProvider,
    RestateDeployment,
    RestateEnvironment,
    cloud_invoker_role,
    default_group_id,
    invoke_statements,
    restate_cloud_urls,
    secret_reference,
    self_hosted_invoker_role,
)

__all__ = [
    "LOG_RETENTION_DAYS",
    "RESTATE_CLOUD_ACCOUNT",
    "RESTATE_CLOUD_PRINCIPAL_ARN",
    "Bundle",
    "DependenciesLayer",
    "KafkaCluster",
    "KafkaSubscription",
    "LayerBundle",
    "PythonFunction",
    "PythonSources",
    "RegistrationProvider",
    "RestateDeployment",
    "RestateEnvironment",
    "Target",
    "cloud_invoker_role",
    "default_group_id",
    "find_interpreter",
    "invoke_statements",
    "restate_cloud_urls",
    "secret_reference",
    "self_hosted_invoker_role",
]

"""The greeter on Lambda, registered with Restate Cloud: a whole CDK app with restate-lambda."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from restate_lambda.cdk import PythonFunction, RegistrationProvider, RestateDeployment, RestateEnvironment, Target

HERE = Path(__file__).parent


class GreeterStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        environment_id = self.node.get_context("greeter:environmentId")
        api_key = secretsmanager.Secret.from_secret_name_v2(self, "ApiKey", "restate/api-key")
        restate = RestateEnvironment.cloud(self, "Restate", environment_id=environment_id, api_key=api_key)
        greeter = PythonFunction(
            self,
            "Greeter",
            sources=HERE / "greeter",
            handler="service.app",
            requirements=HERE / "greeter" / "requirements.txt",
            target=Target("arm64", "3.13"),
        )
        RestateDeployment(
            self,
            "GreeterDeployment",
            environment=restate,
            provider=RegistrationProvider(self, "Registration"),
            version=greeter.function.current_version,
            services=["Greeter"],
            code_hash=greeter.asset_hash,
        )


app = cdk.App()
GreeterStack(app, "greeter")
app.synth()

"""What the restate-lambda pytest plugin serves for these tests: the greeter, from the folder its Lambda bundles."""

from pathlib import Path

import pytest
from restate_lambda.local import Function

GREETER = Path(__file__).resolve().parent.parent / "greeter"


@pytest.fixture(scope="session")
def restate_lambda_functions() -> dict[str, Function]:
    # The handler and folder app.py deploys (PythonFunction's sources and handler), so the test runs what Lambda runs.
    return {"greeter": Function("service.app", source=GREETER)}

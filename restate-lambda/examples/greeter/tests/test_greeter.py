"""The greeter on the local Lambda path, through the restate-lambda pytest plugin: how you test your own handlers."""

import httpx
from restate_lambda.local import LocalHarness


def test_the_greeter_answers_through_restate(restate_lambda_ingress: httpx.Client, restate_lambda_key: str) -> None:
    answer = restate_lambda_ingress.post("/Greeter/greet", json=restate_lambda_key)
    assert answer.status_code == 200 and answer.json() == f"Hello, {restate_lambda_key}!"


def test_each_invocation_is_logged_as_lambda_logs_it(
    restate_lambda_harness: LocalHarness, restate_lambda_ingress: httpx.Client, restate_lambda_key: str
) -> None:
    restate_lambda_ingress.post("/Greeter/greet", json=restate_lambda_key).raise_for_status()
    reports = [line for line in restate_lambda_harness.log("greeter").splitlines() if line.startswith("REPORT")]
    assert reports and all("Memory Size: 512 MB" in line for line in reports)


def test_a_crashed_execution_environment_is_replaced(
    restate_lambda_harness: LocalHarness, restate_lambda_ingress: httpx.Client, restate_lambda_key: str
) -> None:
    restate_lambda_ingress.post("/Greeter/greet", json="warm").raise_for_status()
    assert restate_lambda_harness.kill_workers("greeter") >= 1
    answer = restate_lambda_ingress.post("/Greeter/greet", json=restate_lambda_key)
    assert answer.json() == f"Hello, {restate_lambda_key}!"


def test_a_new_version_is_deployed_the_way_a_deploy_does_it(
    restate_lambda_harness: LocalHarness, restate_lambda_ingress: httpx.Client
) -> None:
    before = restate_lambda_harness.function_arn("greeter")
    after = restate_lambda_harness.publish("greeter", description="second deploy")
    assert int(after.rsplit(":", 1)[1]) == int(before.rsplit(":", 1)[1]) + 1
    assert restate_lambda_ingress.post("/Greeter/greet", json="again").json() == "Hello, again!"
    restate_lambda_harness.wait_until_idle()

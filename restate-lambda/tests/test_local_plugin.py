"""The pytest plugin as a user's suite meets it: configured in the ini file, loaded by ``pytest_plugins``.

The user's project is written here and its suite run by a pytest of its own, with plugin autoloading
off, so the plugin is there only because the project's conftest names it. One of its tests fails on
purpose: its report must carry restate-server's log tail and the function's, START/END/REPORT lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from restate_lambda.local import find_restate_server

PROJECT = {
    "greeter.py": """
import restate

greeter = restate.Service("Greeter")


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    return f"Hello, {name}!"


app = restate.app(services=[greeter])
""",
    "conftest.py": 'pytest_plugins = ["restate_lambda.local.pytest_plugin"]\n',
    "pytest.ini": (
        "[pytest]\nrestate_lambda_functions =\n    greeter=greeter:app\nrestate_lambda_restate_server = {server}\n"
    ),
    "test_greeter.py": """
def test_greets(restate_lambda_ingress, restate_lambda_key):
    answer = restate_lambda_ingress.post("/Greeter/greet", json=restate_lambda_key)
    assert answer.json() == f"Hello, {restate_lambda_key}!"


def test_fails_on_purpose(restate_lambda_ingress):
    assert restate_lambda_ingress.post("/Greeter/greet", json="World").json() == "Goodbye"
""",
}


def test_a_users_suite_runs_on_the_plugin_and_a_failure_shows_the_log_tails(tmp_path: Path) -> None:
    # Named in the ini file: this project has no node_modules of its own.
    restate_server = find_restate_server(start=Path(__file__).parent)
    for name, text in PROJECT.items():
        (tmp_path / name).write_text(text.replace("{server}", str(restate_server)))
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    for inherited in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        environment.pop(inherited, None)
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = ran.stdout + ran.stderr
    assert "1 failed, 1 passed" in output, output
    assert "restate-lambda logs" in output and "restate-server.log (last lines)" in output
    assert "greeter.log (last lines)" in output and "REPORT RequestId:" in output
    # pytest compiles the project's conftest and tests; the harness leaves nothing, not even the handler's bytecode.
    left = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")} - set(PROJECT) - {"__pycache__"}
    assert not [path for path in left if not path.startswith(("__pycache__/conftest.", "__pycache__/test_greeter."))]

"""The registration function's bundle: this package's registration modules, standard library only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from restate_lambda.cdk import Bundle, Target
from restate_lambda.cdk.restate import REGISTRATION_HANDLER, registration_sources


def test_the_registration_bundle_holds_the_handler_and_imports_with_the_standard_library_alone(tmp_path: Path) -> None:
    Bundle([registration_sources()], target=Target.host(), bytecode=False).build(tmp_path)

    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.py"))
    assert files == [
        "restate_lambda/__init__.py",
        "restate_lambda/registration/__init__.py",
        "restate_lambda/registration/admin.py",
        "restate_lambda/registration/custom_resource.py",
        "restate_lambda/registration/secrets.py",
    ]
    module = REGISTRATION_HANDLER.rpartition(".")[0]
    # -S: no site-packages. On Lambda boto3 is there besides, imported only when a secret is read.
    imported = subprocess.run(
        [sys.executable, "-S", "-c", f"import {module}"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr

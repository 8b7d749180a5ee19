"""Imports run one way: the development tools use the Lambda code, never the other way round.

Demo scenarios (``local/demos``), command-line clients (``local/clients``), the local stack and the
CDK app import from ``functions/``; nothing in ``functions/`` imports from them, so a bundle, which
holds only its function's part of ``functions/``, has everything its code imports. Read from the
source, without running anything; test_cdk_artifact.py looks into real bundles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.catalog import HTTP_APIS, PATTERNS
from stacks.bundling import (
    FUNCTIONS_DIR,
    PROJECT_ROOT,
    copy_sources,
    http_api_sources,
    module_file,
    pattern_sources,
)

DEVELOPMENT_PACKAGES = ("local", "stacks", "tests")
LOCAL_DIR = PROJECT_ROOT / "local"
BUNDLE_SOURCES = {
    **{pattern.name: pattern_sources(pattern.name) for pattern in PATTERNS},
    **{api.name: http_api_sources(api) for api in HTTP_APIS},
}


def absolute_imports(path: Path) -> Iterator[str]:
    """Every module a file names in an import, wherever in it, and names imported from modules.

    Lazy imports inside functions count, and so do ``importlib.import_module("...")`` calls with a
    literal name. Relative imports are left out: inside ``functions`` they cannot leave it.
    """
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            # ``from package import name`` may name a submodule.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value


def is_development_tool(module: str) -> bool:
    return module.split(".")[0] in DEVELOPMENT_PACKAGES


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)


def test_every_kind_of_import_is_seen(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import local.produce as producer\n"
        "from local.clients import durable_rpc\n"
        "from . import sibling\n"
        "def lazy():\n"
        "    import stacks.bundling\n"
        "    return importlib.import_module('local.demos.sagas')\n"
    )
    assert set(absolute_imports(source)) == {
        "local.produce",
        "local.clients",
        "local.clients.durable_rpc",
        "stacks.bundling",
        "local.demos.sagas",
    }


def test_runtime_code_imports_no_development_tool():
    runtime_files = sorted(FUNCTIONS_DIR.rglob("*.py"))
    assert FUNCTIONS_DIR / "front_door" / "api.py" in runtime_files
    reaching_out = {
        path.relative_to(PROJECT_ROOT).as_posix(): imported
        for path in runtime_files
        if (imported := sorted(module for module in set(absolute_imports(path)) if is_development_tool(module)))
    }
    assert reaching_out == {}, "functions/ must not import local/, stacks/ or tests/"


def test_the_front_door_imports_no_client_and_of_a_pattern_only_what_the_pattern_itself_runs():
    imported = {module for path in (FUNCTIONS_DIR / "front_door").rglob("*.py") for module in absolute_imports(path)}
    assert not [module for module in imported if module == "local.clients" or module.startswith("local.clients.")]
    borrowed = {
        path
        for module in imported
        if module.startswith("functions.")
        and (path := module_file(module)) is not None
        and path.parent.parent == FUNCTIONS_DIR
        and path.parent.name not in ("front_door", "common")
        and path.name != "__init__.py"
    }
    for path in borrowed:
        own_users = [
            user.name
            for user in path.parent.glob("*.py")
            if user != path and module_name(path) in set(absolute_imports(user))
        ]
        assert own_users, f"{module_name(path)} is used by the front door but by no code of its own pattern"


@pytest.mark.parametrize("name", sorted(BUNDLE_SOURCES))
def test_no_bundle_carries_a_demo_a_client_or_the_local_stack(name, tmp_path):
    copy_sources(BUNDLE_SOURCES[name], tmp_path)
    files = [path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file()]
    assert files
    assert {path.parts[0] for path in files} == {"functions"}, "only the functions package, nothing of local/"
    assert not [path.as_posix() for path in files if path.name in ("demo.py", "client.py")]


def test_each_demo_and_client_is_named_after_its_catalog_entry():
    demos = {path.stem for path in (LOCAL_DIR / "demos").glob("*.py")} - {"__init__"}
    clients = {path.stem for path in (LOCAL_DIR / "clients").glob("*.py")} - {"__init__"}
    # `make demo` runs local.demos.<name> for every entry of the catalog.
    assert demos == {pattern.name for pattern in PATTERNS} | {api.name for api in HTTP_APIS}
    assert clients <= {pattern.name for pattern in PATTERNS}

"""The package's constructs on small stacks of their own: no catalog, no app, no functions/ folder."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from restate_lambda.cdk import (
    Bundle,
    DependenciesLayer,
    PythonFunction,
    PythonSources,
    Target,
    bundling,
    find_interpreter,
)
from restate_lambda.cdk.function import NO_BYTECODE_WARNING

LAMBDA_PYTHON = Target().python_version
HASH_BASED = 0b01
"""The flags word of a hash-based ``.pyc`` (PEP 552); a timestamp-based one has 0 there."""


@pytest.fixture
def greeter(tmp_path: Path) -> Path:
    """A service folder as a user might have it: code, a README, tests, a hidden folder."""
    folder = tmp_path / "greeter"
    (folder / "tests").mkdir(parents=True)
    (folder / ".venv").mkdir()
    (folder / "app.py").write_text("from greeting import hello\n\napp = hello\n")
    (folder / "greeting.py").write_text("def hello(event, context):\n    return 'hi'\n")
    (folder / "README.md").write_text("# greeter\n")
    (folder / "tests" / "test_app.py").write_text("def test(): pass\n")
    (folder / "conftest.py").write_text("")
    (folder / ".venv" / "junk.py").write_text("")
    (folder / "requirements.txt").write_text("# nothing yet\n")
    return folder


def synthesized(build: Callable[[cdk.Stack], None]) -> tuple[assertions.Template, cdk.Stack]:
    # Bundling skipped: templates only (the bundle tests below build the bundles).
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Example")
    build(stack)
    return assertions.Template.from_stack(stack), stack


def test_a_function_with_a_shared_layer_runs_the_target_python_and_architecture(greeter: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        layer = DependenciesLayer(stack, "Deps", requirements=greeter / "requirements.txt", target=Target("x86_64"))
        for name in ("One", "Two"):
            PythonFunction(
                stack, name, sources=greeter, handler="app.app", layer=layer, function_name=f"greeter-{name}"
            )

    template, _ = synthesized(build)

    template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    template.resource_count_is("AWS::Lambda::Function", 2)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": f"python{LAMBDA_PYTHON}",
            "Architectures": ["x86_64"],
            "Handler": "app.app",
            "Layers": [{"Ref": assertions.Match.string_like_regexp("DepsLayer")}],
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": {"Ref": assertions.Match.string_like_regexp("OneLogs")}},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": [f"python{LAMBDA_PYTHON}"], "CompatibleArchitectures": ["x86_64"]},
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": "/aws/lambda/greeter-One", "RetentionInDays": 30}
    )
    # The role writes to its own log group only: no managed policy that may write to any.
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": assertions.Match.absent()})


def test_a_function_and_its_layer_must_agree_on_the_target(greeter: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        layer = DependenciesLayer(stack, "Deps", requirements=greeter / "requirements.txt", target=Target("x86_64"))
        PythonFunction(stack, "Fn", sources=greeter, handler="app.app", layer=layer, target=Target("arm64"))

    with pytest.raises(ValueError, match="layer is built for"):
        synthesized(build)


def test_without_the_target_python_synth_warns_that_the_bundle_ships_sources(greeter: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        PythonFunction(stack, "Fn", sources=greeter, handler="app.app", target=Target("arm64", "3.99"))

    _, stack = synthesized(build)

    warnings = assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.string_like_regexp("3.99"))
    assert warnings and NO_BYTECODE_WARNING in str(warnings[0].entry.data)


def test_the_bundle_holds_the_code_alone_without_readme_tests_or_hidden_files(greeter: Path, tmp_path: Path) -> None:
    Bundle([PythonSources(greeter)], target=Target.host(), bytecode=False).build(tmp_path / "out")

    files = sorted(path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*"))
    assert files == ["app.py", "greeting.py", "requirements.txt"]


@pytest.mark.skipif(find_interpreter(LAMBDA_PYTHON) is None, reason=f"no Python {LAMBDA_PYTHON} on this machine")
def test_the_bundle_carries_hash_based_bytecode_of_the_target_python(greeter: Path, tmp_path: Path) -> None:
    Bundle([PythonSources(greeter)], target=Target("arm64", LAMBDA_PYTHON)).build(tmp_path / "out")

    tag = f"cpython-{LAMBDA_PYTHON.replace('.', '')}"
    for module in ("app", "greeting"):
        compiled = tmp_path / "out" / "__pycache__" / f"{module}.{tag}.pyc"
        (flags,) = struct.unpack("<I", compiled.read_bytes()[4:8])
        # The zip the CDK uploads resets every file's date: a timestamp-based .pyc would be ignored.
        assert flags & HASH_BASED, f"{compiled.name} is timestamp-based"


def test_the_asset_hash_follows_the_code_and_not_what_stays_out(greeter: Path) -> None:
    def asset_hash() -> str:
        return Bundle([PythonSources(greeter)], target=Target()).asset_hash()

    first = asset_hash()
    (greeter / "README.md").write_text("# greeter, renamed\n")
    assert asset_hash() == first
    (greeter / "greeting.py").write_text("def hello(event, context):\n    return 'hello'\n")
    assert asset_hash() != first


def test_the_constraints_file_is_part_of_the_asset_hash(greeter: Path) -> None:
    constraints = greeter.parent / "constraints.txt"
    constraints.write_text("pydantic==2.14.4\n")

    def asset_hash() -> str:
        requirements = greeter / "requirements.txt"
        return Bundle([PythonSources(greeter)], requirements, Target(), constraints=constraints).asset_hash()

    first = asset_hash()
    constraints.write_text("pydantic==2.14.5\n")
    assert asset_hash() != first


def test_the_bundle_installs_its_dependencies_within_the_constraints(
    greeter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    constraints = greeter.parent / "constraints.txt"
    constraints.write_text("pydantic==2.14.4\n")
    asked: list[Path | None] = []

    def installed(
        requirements: Path, target: Target, cache_dir: Path | None, bytecode: bool, pins: Path | None
    ) -> Path:
        asked.append(pins)
        (tmp_path / "deps").mkdir(exist_ok=True)
        return tmp_path / "deps"

    monkeypatch.setattr(bundling, "installed_dependencies", installed)
    requirements = greeter / "requirements.txt"
    Bundle([PythonSources(greeter)], requirements, Target.host(), bytecode=False, constraints=constraints).build(
        tmp_path / "out"
    )
    assert asked == [constraints]

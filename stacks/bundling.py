"""This app's Lambda bundles: which files of the ``functions`` package each catalog entry ships.

The bundling itself (Docker-free pip installs for the target, bytecode compiled by the target's
Python, the dependency cache) is the ``restate-lambda`` package's (:mod:`restate_lambda.cdk.bundling`);
this module only says what goes in. A pattern's bundle holds the wheels of its catalog entry's
requirements file (``functions/requirements.txt`` unless it names its own) and its part of the
``functions`` package: the package root, ``common/`` and its own folder, which holds only what its
Lambda runs (demo scenarios and command-line clients live in ``local/``; READMEs stay out). An HTTP
API also gets the patterns' runtime modules its handler imports, found by following its imports.

boto3 is not among the shared requirements: Lambda's Python runtime has it, the patterns that read
a secret make one call with it, and its 18 MB (zipped) made up most of every bundle. A pattern whose
own code is built on AWS APIs (data_upload) pins it in its own requirements file.

The dependency cache is ``.state/bundles/``: ``make install`` fills it (:func:`prepare_dependencies`)
so that the shipped-artifact tests and ``make synth`` need no network. Template tests skip bundling
with the ``aws:cdk:bundling-stacks`` context (an empty list bundles no stack); the shipped-artifact
test calls :func:`bundle_pattern` directly for the host's target.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from restate_lambda.cdk.bundling import (
    Bundle,
    PythonSources,
    Target,
    installed_dependencies,
    requirement_files,
)

from functions.catalog import HTTP_APIS, PATTERNS, SHARED_REQUIREMENTS, HttpApi, Pattern, code_sources

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
REQUIREMENTS = FUNCTIONS_DIR / SHARED_REQUIREMENTS
CONSTRAINTS = FUNCTIONS_DIR / "constraints.txt"
"""Every package any bundle holds, pinned: what the requirements files pull in stays the same from one
build to the next, and a change of it is a change of every asset hash."""
DEPENDENCY_CACHE = PROJECT_ROOT / ".state" / "bundles"

__all__ = ["Target", "requirement_files"]  # re-exported: the app and its tests name them from here


def pattern_sources(pattern_name: str) -> list[Path]:
    """The parts of the ``functions`` package a pattern's bundle holds (files and folders)."""
    return [PROJECT_ROOT / source for source in code_sources(pattern_name)]


def requirements_file(entry: Pattern | HttpApi) -> Path:
    """The requirements file a catalog entry's bundle installs."""
    path = (FUNCTIONS_DIR / entry.requirements).resolve()
    if not path.is_relative_to(FUNCTIONS_DIR) or not path.is_file():
        raise ValueError(f"{entry.name}: requirements {entry.requirements!r} is no file in {FUNCTIONS_DIR}")
    return path


def module_file(module: str) -> Path | None:
    """The file of a ``functions.*`` module or package, if the project has one."""
    base = PROJECT_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path) -> Iterator[str]:
    """The modules a file imports, by absolute name, wherever in it (lazy imports in functions included)."""
    package = path.relative_to(PROJECT_ROOT).parent.parts
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # ``from . import x`` (level 1) is relative to the file's package, each further dot one package up.
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            yield module
            # ``from package import name`` may name a submodule.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def imported_files(module: str) -> set[Path]:
    """The project files Python loads to import ``module``: the modules it imports, transitively, and their packages."""
    found: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        if parts[0] != FUNCTIONS_DIR.name:
            continue
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:depth]))
            if path is not None and path not in found:
                found.add(path)
                pending.extend(_imported_modules(path))
    return found


def http_api_sources(api: HttpApi) -> list[Path]:
    """An HTTP API's part of the ``functions`` package: what a pattern's would be, plus what its handler imports.

    An API may check its input by a pattern's own rules (the front door refuses an email address
    ``data_upload`` would refuse), so it imports runtime modules of other folders. Following the
    imports keeps the bundle complete without a second list of them here, which would go stale
    unnoticed until the function failed to import on Lambda.
    """
    sources = pattern_sources(api.name)
    handler_module = api.handler.rpartition(".")[0]
    extra = sorted(
        path
        for path in imported_files(handler_module)
        if not any(path == source or path.is_relative_to(source) for source in sources)
    )
    return [*sources, *extra]


def python_sources(sources: Iterable[Path]) -> PythonSources:
    """The files and folders as a bundle's own code, laid out as they are under the project root."""
    return PythonSources(PROJECT_ROOT, tuple(source.relative_to(PROJECT_ROOT).as_posix() for source in sources))


def copy_sources(sources: Iterable[Path], output_dir: Path) -> None:
    """Lay the sources out under ``output_dir`` as a bundle holds them (no READMEs, no bytecode)."""
    Bundle([python_sources(sources)], bytecode=False).build(output_dir)


def asset_inputs(sources: list[Path], requirements: Path) -> list[Path]:
    """Everything a bundle is built from, i.e. what its asset hash covers."""
    return [*sources, *requirement_files(requirements), CONSTRAINTS]


def pattern_bundle(pattern: Pattern, target: Target) -> Bundle:
    sources = [python_sources(pattern_sources(pattern.name))]
    return Bundle(sources, requirements_file(pattern), target, DEPENDENCY_CACHE, constraints=CONSTRAINTS)


def http_api_bundle(api: HttpApi, target: Target) -> Bundle:
    sources = [python_sources(http_api_sources(api))]
    return Bundle(sources, requirements_file(api), target, DEPENDENCY_CACHE, constraints=CONSTRAINTS)


def bundle_pattern(pattern: Pattern, output_dir: Path, target: Target) -> Path:
    """Build ``pattern``'s Lambda bundle for ``target`` in ``output_dir`` (created if missing)."""
    return pattern_bundle(pattern, target).build(output_dir)


def bundle_http_api(api: HttpApi, output_dir: Path, target: Target) -> Path:
    """Build ``api``'s Lambda bundle for ``target`` in ``output_dir`` (created if missing)."""
    return http_api_bundle(api, target).build(output_dir)


def pattern_asset_hash(pattern: Pattern, target: Target) -> str:
    """The asset hash of ``pattern``'s bundle for ``target``: it changes exactly when the bundle would."""
    return pattern_bundle(pattern, target).asset_hash()


def host_target() -> Target:
    """This machine's architecture and Python: bundles the local Lambda runtime can run here."""
    return Target.host()


def prepare_dependencies() -> None:
    """Fill the dependency cache for this machine and for both deployment targets' architectures.

    ``make install`` runs it (``python -m stacks.bundling``), so that afterwards the shipped-artifact
    tests (host target) talk only to 127.0.0.1 and ``make synth`` (arm64 or x86_64, Python 3.13)
    needs no network.
    """
    entries: list[Pattern | HttpApi] = [*PATTERNS, *HTTP_APIS]
    for target in (host_target(), Target("arm64"), Target("x86_64")):
        for requirements in sorted({requirements_file(entry) for entry in entries}):
            folder = installed_dependencies(requirements, target, DEPENDENCY_CACHE, constraints=CONSTRAINTS)
            print(f"dependencies for {target}: {folder}")


if __name__ == "__main__":
    prepare_dependencies()

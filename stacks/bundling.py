"""Lambda bundles built on this machine, without Docker.

A function's bundle is what ``/var/task`` holds on Lambda: the wheels of its catalog entry's
requirements file (``functions/requirements.txt`` unless it names its own) for the target (Linux,
CPU architecture, CPython version), installed by pip with ``--only-binary=:all:`` and manylinux
platform tags so that no compiler is needed and the host's own OS and Python version do not matter,
plus its part of the ``functions`` package: the package root, ``common/`` and its own folder, which
holds only what its Lambda runs (demo scenarios and command-line clients live in ``local/``). An
HTTP API also gets the patterns' runtime modules its handler imports, found by following its imports.

boto3 is not among the shared requirements: Lambda's Python runtime has it, the patterns that read
a secret make one call with it, and its 18 MB (zipped) made up most of every bundle. A pattern whose
own code is built on AWS APIs (data_upload) pins it in its own requirements file. Native libraries
lose their debug symbols (``llvm-strip --strip-unneeded``, which handles a foreign architecture's ELF
files where binutils' ``strip`` handles only the host's; skipped, with a note, where it is missing).

Most functions share one requirements file, so each file is installed once per target into
``.state/bundles/`` (keyed by the content of the file and of the files it includes) and hard-linked
into each bundle; the asset hash covers exactly a bundle's inputs, so a deploy publishes a new
Lambda version for the functions whose code or dependencies changed and for no other.

CDK runs :class:`LocalBundling` from ``Code.from_asset(..., bundling=...)``. Template tests skip
it with the ``aws:cdk:bundling-stacks`` context (an empty list bundles no stack); the
shipped-artifact test calls :func:`bundle_pattern` directly for the host's target.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from functions.catalog import HTTP_APIS, PATTERNS, SHARED_REQUIREMENTS, HttpApi, Pattern

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
REQUIREMENTS = FUNCTIONS_DIR / SHARED_REQUIREMENTS
DEPENDENCY_CACHE = PROJECT_ROOT / ".state" / "bundles"

BUNDLE_FORMAT = "1"
"""Part of every asset hash: bump it when the bundle layout changes, so that CDK rebuilds."""

_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


@dataclass(frozen=True)
class Target:
    """Where a bundle runs: Lambda's CPU architecture and CPython version."""

    architecture: str = "arm64"
    python_version: str = "3.13"

    def __post_init__(self) -> None:
        if self.architecture not in _MACHINES:
            raise ValueError(f"architecture must be one of {sorted(_MACHINES)}, got {self.architecture!r}")

    @property
    def docker_platform(self) -> str:
        return f"linux/{'arm64' if self.architecture == 'arm64' else 'amd64'}"

    @property
    def lambda_architecture(self) -> lambda_.Architecture:
        return lambda_.Architecture.ARM_64 if self.architecture == "arm64" else lambda_.Architecture.X86_64


def pip_install_command(requirements: Path, target_dir: Path, target: Target) -> list[str]:
    """The pip command that installs ``requirements`` for ``target``, whatever the host is."""
    machine = _MACHINES[target.architecture]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files for the host's Python would be dead weight for the target's
        "--only-binary=:all:",
        "--platform",
        f"manylinux2014_{machine}",
        "--platform",
        f"manylinux_2_28_{machine}",
        "--python-version",
        target.python_version,
        "--implementation",
        "cp",
        "--target",
        str(target_dir),
        "-r",
        str(requirements),
    ]


def pattern_sources(pattern_name: str) -> list[Path]:
    """The parts of the ``functions`` package a pattern's bundle holds (files and folders)."""
    return [
        FUNCTIONS_DIR / "__init__.py",
        FUNCTIONS_DIR / "catalog.py",
        FUNCTIONS_DIR / "common",
        FUNCTIONS_DIR / pattern_name,
    ]


def requirements_file(entry: Pattern | HttpApi) -> Path:
    """The requirements file a catalog entry's bundle installs."""
    path = (FUNCTIONS_DIR / entry.requirements).resolve()
    if not path.is_relative_to(FUNCTIONS_DIR) or not path.is_file():
        raise ValueError(f"{entry.name}: requirements {entry.requirements!r} is no file in {FUNCTIONS_DIR}")
    return path


def requirement_files(requirements: Path) -> list[Path]:
    """``requirements`` and every file it includes (``-r``/``-c``, as pip resolves them: relative to the includer).

    They are all inputs of the installed dependencies, so the cache key and the asset hash cover them all.
    """
    found: list[Path] = []
    pending = [requirements.resolve()]
    while pending:
        path = pending.pop(0)
        if path in found:
            continue
        found.append(path)
        for line in path.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            for option, value in itertools.pairwise(words):
                if option in ("-r", "--requirement", "-c", "--constraint"):
                    pending.append((path.parent / value).resolve())
            for word in words:
                for option in ("--requirement=", "--constraint="):
                    if word.startswith(option):
                        pending.append((path.parent / word.removeprefix(option)).resolve())
    return found


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


REGISTRATION_HANDLER_MODULE = "functions.registration.custom_resource"


def registration_sources() -> list[Path]:
    """The registration handler and the runtime modules it imports (the standard library and boto3, which
    Lambda's runtime has, aside): found by following its imports, so a new shared module cannot be missed."""
    return sorted(imported_files(REGISTRATION_HANDLER_MODULE))


def _files(sources: Iterable[Path]) -> Iterator[Path]:
    for source in sources:
        if source.is_file():
            yield source
            continue
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def content_hash(sources: Iterable[Path], *extra: str) -> str:
    """A hash of the files' project-relative paths and contents, plus ``extra`` strings."""
    digest = hashlib.sha256()
    for part in (BUNDLE_FORMAT, *extra):
        digest.update(part.encode() + b"\0")
    for path in _files(sources):
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _link_tree(source: Path, destination: Path) -> None:
    """Copy a folder by hard links (a bundle's dependencies are ~100 MB, copied ten times a synth)."""

    def link_or_copy(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:  # another file system, or links not allowed: copy instead
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, destination, copy_function=link_or_copy, dirs_exist_ok=True)


def strip_native_libraries(folder: Path, strip: str) -> None:
    """Remove debug symbols from the shared libraries under ``folder`` with ``strip`` (llvm-strip)."""
    libraries = sorted(str(path) for path in folder.rglob("*.so*") if path.is_file())
    if libraries:
        # --strip-unneeded keeps the dynamic symbols (PyInit_<module>) that Python imports extensions by.
        subprocess.run([strip, "--strip-unneeded", *libraries], check=True, capture_output=True)


def installed_dependencies(target: Target, requirements: Path = REQUIREMENTS, cache: Path = DEPENDENCY_CACHE) -> Path:
    """A folder with ``requirements`` installed for ``target``, reused while the requirements are unchanged."""
    strip = shutil.which("llvm-strip")
    key = content_hash(
        requirement_files(requirements), target.architecture, target.python_version, f"stripped={strip is not None}"
    )[:16]
    folder = cache / f"deps-{target.architecture}-py{target.python_version}-{key}"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    # Installed beside the final folder and renamed into place: an interrupted install is never reused.
    staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=cache))
    try:
        result = subprocess.run(
            pip_install_command(requirements, staging, target), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not install {requirements} for {target}: {result.stderr.strip() or result.stdout.strip()}"
            )
        if strip is not None:
            strip_native_libraries(staging, strip)
        else:
            print("note: llvm-strip is not installed; native libraries keep their debug symbols", file=sys.stderr)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # else another synth installed the same requirements meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def host_target() -> Target:
    """This machine's architecture and Python: bundles the local Lambda runtime can run here."""
    machines = {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    return Target(machines[platform.machine()], f"{sys.version_info.major}.{sys.version_info.minor}")


def prepare_dependencies() -> None:
    """Fill the dependency cache for this machine and for the default deployment target.

    ``make install`` runs it (``python -m stacks.bundling``), so that afterwards the shipped-artifact
    tests (host target) talk only to 127.0.0.1 and ``make synth`` (arm64, Python 3.13) needs no network.
    """
    entries: list[Pattern | HttpApi] = [*PATTERNS, *HTTP_APIS]
    for target in (host_target(), Target()):
        for requirements in sorted({requirements_file(entry) for entry in entries}):
            print(f"dependencies for {target}: {installed_dependencies(target, requirements)}")


def copy_sources(sources: Iterable[Path], output_dir: Path) -> None:
    """Lay the sources out under ``output_dir`` as they are under the project root."""
    for source in sources:
        destination = output_dir / source.relative_to(PROJECT_ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=_IGNORED, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)


def bundle_function(sources: list[Path], requirements: Path, output_dir: Path, target: Target) -> Path:
    """Build a Lambda bundle for ``target`` in ``output_dir`` (created if missing)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    _link_tree(installed_dependencies(target, requirements), output_dir)
    copy_sources(sources, output_dir)
    return output_dir


def bundle_pattern(pattern: Pattern, output_dir: Path, target: Target) -> Path:
    """Build ``pattern``'s Lambda bundle for ``target`` in ``output_dir`` (created if missing)."""
    return bundle_function(pattern_sources(pattern.name), requirements_file(pattern), output_dir, target)


def bundle_http_api(api: HttpApi, output_dir: Path, target: Target) -> Path:
    """Build ``api``'s Lambda bundle for ``target`` in ``output_dir`` (created if missing)."""
    return bundle_function(http_api_sources(api), requirements_file(api), output_dir, target)


def bundle_registration(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    copy_sources(registration_sources(), output_dir)
    return output_dir


@jsii.implements(cdk.ILocalBundling)
class LocalBundling:
    """CDK's hook for building an asset on the host: returning True means Docker is never used."""

    def __init__(self, build: Any) -> None:
        self._build = build

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        self._build(Path(output_dir))
        return True


def _code(build: Any, asset_hash: str, target: Target) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        asset_hash=asset_hash,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Required by the API but never pulled: local bundling either succeeds or raises.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=LocalBundling(build),
            platform=target.docker_platform,
        ),
    )


def asset_inputs(sources: list[Path], requirements: Path) -> list[Path]:
    """Everything a bundle is built from, i.e. what its asset hash covers."""
    return [*sources, *requirement_files(requirements)]


def pattern_asset_hash(pattern: Pattern, target: Target) -> str:
    """The asset hash of ``pattern``'s bundle for ``target``: it changes exactly when the bundle would."""
    inputs = asset_inputs(pattern_sources(pattern.name), requirements_file(pattern))
    return content_hash(inputs, target.architecture, target.python_version)


def pattern_code(pattern: Pattern, target: Target, asset_hash: str) -> lambda_.Code:
    """The asset of ``pattern``'s function, bundled for ``target`` when the stack is bundled.

    ``asset_hash`` is :func:`pattern_asset_hash`'s, which the caller also records with the registration.
    """
    return _code(lambda output_dir: bundle_pattern(pattern, output_dir, target), asset_hash, target)


def http_api_code(api: HttpApi, target: Target) -> lambda_.Code:
    """The asset of ``api``'s function, bundled for ``target`` when the stack is bundled."""
    inputs = asset_inputs(http_api_sources(api), requirements_file(api))
    asset_hash = content_hash(inputs, target.architecture, target.python_version)
    return _code(lambda output_dir: bundle_http_api(api, output_dir, target), asset_hash, target)


def registration_code(target: Target) -> lambda_.Code:
    asset_hash = content_hash(registration_sources(), target.architecture, target.python_version, "registration")
    return _code(bundle_registration, asset_hash, target)


if __name__ == "__main__":
    prepare_dependencies()

"""Lambda bundles for Python functions, built on this machine without Docker.

A bundle is what ``/var/task`` holds on Lambda (or ``/opt/python``, for a layer): the wheels of a
requirements file for the target (Linux, CPU architecture, CPython version), installed by pip with
``--only-binary=:all:`` and manylinux platform tags, so that neither a compiler nor the host's own
OS and Python matter, plus the function's own sources.

Lambda's code folder is read-only, so Python cannot cache the bytecode of what it imports there: a
bundle without ``.pyc`` files compiles every module, dependencies included, at each cold start. So
the bundle is compiled by the target's own interpreter, into hash-based ``.pyc`` files (the CDK's zip
resets every file's date, which would void timestamp-based ones). Without that interpreter on this
machine, the bundle ships sources, and :func:`find_interpreter` returns None for callers to say so.

Dependencies are installed once per requirements file and target into a cache folder (keyed by the
content of the file and of the files it includes), compiled there, and hard-linked into each bundle.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from restate_lambda import LAMBDA_PYTHON_VERSION

BUNDLE_FORMAT = "2"
"""Part of every asset hash: bumped when the bundle layout changes, so that CDK rebuilds."""
CACHE_VARIABLE = "RESTATE_LAMBDA_CACHE"
DEFAULT_EXCLUDE = (
    "__pycache__",
    "*.pyc",
    ".*",
    "README*",
    "CHANGELOG*",
    "tests",
    "test",
    "test_*.py",
    "*_test.py",
    "conftest.py",
)
"""Names (file or folder, shell patterns) kept out of a bundle: Lambda runs none of them."""
INVALIDATION_MODE = "unchecked-hash"
"""A deployed bundle never changes, so Python need not hash each source again to trust its ``.pyc``."""

Architecture = Literal["arm64", "x86_64"]
_MACHINES: dict[str, str] = {"arm64": "aarch64", "x86_64": "x86_64"}


@dataclass(frozen=True)
class Target:
    """Where a bundle runs: Lambda's CPU architecture and CPython version."""

    architecture: Architecture = "arm64"
    python_version: str = LAMBDA_PYTHON_VERSION

    def __post_init__(self) -> None:
        if self.architecture not in _MACHINES:
            raise ValueError(f"architecture must be one of {sorted(_MACHINES)}, got {self.architecture!r}")
        major, _, minor = self.python_version.partition(".")
        if major != "3" or not minor.isdigit():
            raise ValueError(f"python_version must be a CPython version like '3.13', got {self.python_version!r}")

    @property
    def docker_platform(self) -> str:
        return f"linux/{'arm64' if self.architecture == 'arm64' else 'amd64'}"

    @classmethod
    def host(cls) -> Target:
        """This machine's architecture and Python: bundles a local Lambda runtime can run here."""
        machines: dict[str, Architecture] = {
            "x86_64": "x86_64",
            "AMD64": "x86_64",
            "aarch64": "arm64",
            "arm64": "arm64",
        }
        return cls(machines[platform.machine()], f"{sys.version_info.major}.{sys.version_info.minor}")


def default_cache_dir() -> Path:
    """``$RESTATE_LAMBDA_CACHE``, else ``restate-lambda`` in the user's cache folder (``$XDG_CACHE_HOME``)."""
    explicit = os.environ.get(CACHE_VARIABLE)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "restate-lambda"


@dataclass(frozen=True)
class PythonSources:
    """A function's own code: the files under ``root`` that ``include`` names, as laid out there.

    ``include`` holds paths relative to ``root`` (files or folders); the default is all of it. The
    handler is then importable the way it is from ``root``: ``root/app.py`` serves ``app.handler``.
    """

    root: Path
    include: tuple[str, ...] = (".",)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE

    def files(self) -> Iterator[tuple[Path, str]]:
        """Each file of the bundle: its path, and its path inside the bundle (POSIX, relative)."""
        root = self.root.resolve()
        seen: set[Path] = set()
        for entry in self.include:
            start = (root / entry).resolve()
            if not start.is_relative_to(root) or not start.exists():
                raise ValueError(f"{entry!r} is not a file or folder under {root}")
            candidates = [start] if start.is_file() else sorted(start.rglob("*"))
            for path in candidates:
                relative = path.relative_to(root)
                if path.is_file() and path not in seen and not self._excluded(relative):
                    seen.add(path)
                    yield path, relative.as_posix()

    def _excluded(self, relative: Path) -> bool:
        return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in self.exclude)


def requirement_files(requirements: Path) -> list[Path]:
    """``requirements`` and every file it includes (``-r``/``-c``, relative to the includer, as pip reads them).

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


def pip_install_command(
    requirements: Path, target_dir: Path, target: Target, constraints: Path | None = None
) -> list[str]:
    """The pip command that installs ``requirements`` (within ``constraints``) for ``target``, whatever the host is."""
    machine = _MACHINES[target.architecture]
    pinned = ["-c", str(constraints)] if constraints is not None else []
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # the host's bytecode would be dead weight: the target's interpreter compiles
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
        *pinned,
    ]


def _runs_as(candidate: str, version: str) -> bool:
    try:
        result = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == version


@cache
def find_interpreter(version: str) -> str | None:
    """A CPython ``version`` interpreter on this machine: this one, ``python<version>`` on ``PATH``, or pyenv's."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidates = [f"python{version}"]
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        prefix = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True, check=False)
        if prefix.returncode == 0:
            candidates.extend(str(Path(line) / "bin" / f"python{version}") for line in prefix.stdout.split())
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates.extend(str(path) for path in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}")))
    return next((candidate for candidate in candidates if _runs_as(candidate, version)), None)


def compile_bytecode(paths: Sequence[Path], interpreter: str) -> None:
    """Compile the ``.py`` files under ``paths`` with ``interpreter`` into hash-based ``.pyc`` files beside them."""
    if not paths:
        return
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", INVALIDATION_MODE]
    result = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False)
    # compileall exits 1 when a file does not compile: a wheel's Python 2 leftovers or test fixtures
    # are no reason to fail the bundle (the module would not import either way), so only say so.
    if result.returncode not in (0, 1):
        raise RuntimeError(f"compiling bytecode with {interpreter} failed: {result.stderr.strip()}")


def strip_native_libraries(folder: Path, strip: str) -> None:
    """Remove debug symbols from the shared libraries under ``folder`` with ``strip`` (llvm-strip)."""
    libraries = sorted(str(path) for path in folder.rglob("*.so*") if path.is_file())
    if libraries:
        # --strip-unneeded keeps the dynamic symbols (PyInit_<module>) that Python imports extensions by.
        subprocess.run([strip, "--strip-unneeded", *libraries], check=True, capture_output=True)


def _hash(parts: Iterable[str], files: Iterable[tuple[Path, str]]) -> str:
    digest = hashlib.sha256()
    for part in (BUNDLE_FORMAT, *parts):
        digest.update(part.encode() + b"\0")
    for path, name in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _bytecode_tag(target: Target, bytecode: bool) -> str:
    compiled = bytecode and find_interpreter(target.python_version) is not None
    return f"bytecode={target.python_version if compiled else 'none'}"


def dependencies_hash(
    requirements: Path, target: Target, bytecode: bool = True, constraints: Path | None = None
) -> str:
    """What the installed dependencies depend on: the requirements and constraints files, the target, and
    whether they are compiled."""
    files = [(path, path.name) for path in requirement_files(requirements)]
    if constraints is not None:
        files += [(path, f"constraints:{path.name}") for path in requirement_files(constraints)]
    strip = f"stripped={shutil.which('llvm-strip') is not None}"
    return _hash([target.architecture, target.python_version, strip, _bytecode_tag(target, bytecode)], files)


def installed_dependencies(
    requirements: Path,
    target: Target,
    cache_dir: Path | None = None,
    bytecode: bool = True,
    constraints: Path | None = None,
) -> Path:
    """A folder with ``requirements`` installed (and compiled) for ``target``, reused while they are unchanged.

    ``constraints`` (pip's ``-c``) pins what the requirements pull in, so that a bundle built
    tomorrow holds the same versions as today's: a lock file, in effect.
    """
    cache_dir = cache_dir or default_cache_dir()
    key = dependencies_hash(requirements, target, bytecode, constraints)[:16]
    folder = cache_dir / f"deps-{target.architecture}-py{target.python_version}-{key}"
    if folder.is_dir():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Installed beside the final folder and renamed into place: an interrupted install is never reused.
    staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=cache_dir))
    try:
        result = subprocess.run(
            pip_install_command(requirements, staging, target, constraints), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not install {requirements} for {target}: {result.stderr.strip() or result.stdout.strip()}"
            )
        strip = shutil.which("llvm-strip")
        if strip is not None:
            strip_native_libraries(staging, strip)
        interpreter = find_interpreter(target.python_version) if bytecode else None
        if interpreter is not None:
            compile_bytecode([staging], interpreter)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # else another synth installed the same requirements meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copy2(source, destination)
    return destination


def link_tree(source: Path, destination: Path, leave_out: Sequence[str] = ()) -> Path:
    """Copy a folder by hard links (the dependencies of ten bundles are one copy on disk), without the
    names matching ``leave_out`` (shell patterns)."""
    ignore = shutil.ignore_patterns(*leave_out) if leave_out else None
    shutil.copytree(source, destination, copy_function=_link_or_copy, ignore=ignore, dirs_exist_ok=True)
    return destination


@dataclass(frozen=True)
class Bundle:
    """How to build one function's bundle."""

    sources: Sequence[PythonSources]
    requirements: Path | None = None
    """Installed into the bundle; None when a layer brings the dependencies (or there are none)."""
    target: Target = field(default_factory=Target)
    cache_dir: Path | None = None
    bytecode: bool = True
    constraints: Path | None = None
    """pip's ``-c``: pins the versions of what ``requirements`` pulls in; part of the asset hash."""

    def files(self) -> list[tuple[Path, str]]:
        files: dict[str, Path] = {}
        for sources in self.sources:
            for path, name in sources.files():
                if files.setdefault(name, path) != path:
                    raise ValueError(f"two sources put different files at {name}: {files[name]} and {path}")
        return [(files[name], name) for name in sorted(files)]

    def asset_hash(self) -> str:
        """Changes exactly when the bundle would: its files, its dependencies, its target, its compilation."""
        parts = [self.target.architecture, self.target.python_version, _bytecode_tag(self.target, self.bytecode)]
        if self.requirements is not None:
            parts.append(dependencies_hash(self.requirements, self.target, self.bytecode, self.constraints))
        return _hash(parts, self.files())

    def build(self, output_dir: Path) -> Path:
        """Lay the bundle out in ``output_dir`` (created if missing)."""
        output_dir.mkdir(parents=True, exist_ok=True)
        if self.requirements is not None:
            link_tree(
                installed_dependencies(self.requirements, self.target, self.cache_dir, self.bytecode, self.constraints),
                output_dir,
            )
        written = []
        for path, name in self.files():
            destination = output_dir / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            written.append(destination)
        interpreter = find_interpreter(self.target.python_version) if self.bytecode else None
        if interpreter is not None:
            # Only the function's own files: the dependencies are hard links to the compiled cache.
            compile_bytecode([path for path in written if path.suffix == ".py"], interpreter)
        return output_dir


@dataclass(frozen=True)
class LayerBundle:
    """How to build a dependencies layer: the wheels under ``python/``, which Lambda puts on ``sys.path``."""

    requirements: Path
    target: Target = field(default_factory=Target)
    cache_dir: Path | None = None
    bytecode: bool = True
    constraints: Path | None = None

    def asset_hash(self) -> str:
        return _hash(["layer", dependencies_hash(self.requirements, self.target, self.bytecode, self.constraints)], [])

    def build(self, output_dir: Path) -> Path:
        installed = installed_dependencies(
            self.requirements, self.target, self.cache_dir, self.bytecode, self.constraints
        )
        link_tree(installed, output_dir / "python")
        return output_dir

"""The bench's Lambda bundles: the sizes `make synth` ships, and the unpacked bundles the cold starts run.

Sizes: the function of each ``cdk.out/asset.*`` folder is read from the templates in ``cdk.out``.
Asset folders are named by the hash of their content, so a size measured once stays true and is kept
in a small cache beside the results.

Cold starts: each pattern's bundle (and the floor's, an empty ``restate.app`` with the same
dependencies) is built as ``make synth`` builds it, for this machine's architecture and Lambda's
Python when that interpreter is here, and run from a read-only folder like ``/var/task``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from restate_lambda import LAMBDA_PYTHON_VERSION

from local.processes import PROJECT_ROOT, tail

if TYPE_CHECKING:  # imported where used: restate_lambda.cdk starts the CDK's node process
    from restate_lambda.cdk.bundling import Target

CDK_OUT = PROJECT_ROOT / "cdk.out"
SYNTH_INPUTS = ("app.py", "cdk.json", "requirements.txt", "functions", "stacks")
MB = 1024 * 1024
"""Lambda's package limits (50 MB zipped, 250 MB unzipped) count in these."""
DEFAULT_NAME_PREFIX = "restate-patterns"


@dataclass(frozen=True)
class BundleSize:
    zipped_bytes: int
    unzipped_bytes: int

    @property
    def zipped_mb(self) -> float:
        return self.zipped_bytes / MB

    @property
    def unzipped_mb(self) -> float:
        return self.unzipped_bytes / MB


def synth_is_stale(cdk_out: Path = CDK_OUT, project_root: Path = PROJECT_ROOT) -> bool:
    """True when ``cdk.out`` is missing or any input of the synth changed after it was written."""
    manifest = cdk_out / "manifest.json"
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    for name in SYNTH_INPUTS:
        root = project_root / name
        files = [root] if root.is_file() else root.rglob("*")
        for path in files:
            if "__pycache__" not in path.parts and path.is_file() and path.stat().st_mtime > written:
                return True
    return False


def synthesize(log_file: Path) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        finished = subprocess.run(
            ["make", "synth"], cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if finished.returncode != 0:
        raise RuntimeError(f"make synth failed (exit {finished.returncode}):\n{tail(log_file, 20)}")


def name_prefix(project_root: Path = PROJECT_ROOT) -> str:
    context = json.loads((project_root / "cdk.json").read_text()).get("context", {})
    return str(context.get("app:namePrefix", DEFAULT_NAME_PREFIX))


def function_assets(cdk_out: Path = CDK_OUT, prefix: str = DEFAULT_NAME_PREFIX) -> dict[str, Path]:
    """Each Lambda function of the synthesized app and its asset folder, by function name without the app prefix."""
    assets = {}
    for template_path in sorted(cdk_out.glob("*.template.json")):
        stack = template_path.name.removesuffix(".template.json")
        for logical_id, resource in json.loads(template_path.read_text()).get("Resources", {}).items():
            asset = resource.get("Metadata", {}).get("aws:asset:path")
            if resource.get("Type") != "AWS::Lambda::Function" or not asset:
                continue
            function_name = resource.get("Properties", {}).get("FunctionName")
            if isinstance(function_name, str) and function_name.startswith(f"{prefix}-"):
                key = function_name.removeprefix(f"{prefix}-")
            else:
                # A function CDK names itself (the Provider framework's): its stack and logical id, less the hash.
                key = f"{stack}:{re.sub(r'[0-9A-F]{8}$', '', logical_id)}"
            assets[key] = cdk_out / asset
    return assets


def measure_bundle(asset_dir: Path) -> BundleSize:
    files = sorted(path for path in asset_dir.rglob("*") if path.is_file())
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
            for path in files:
                bundle.write(path, path.relative_to(asset_dir).as_posix())
        zipped = archive.tell()
    return BundleSize(zipped, sum(path.stat().st_size for path in files))


def bundle_sizes(assets: dict[str, Path], cache_file: Path) -> dict[str, BundleSize]:
    cache: dict[str, list[int]] = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    sizes = {}
    for function, asset_dir in sorted(assets.items()):
        if asset_dir.name not in cache:
            measured = measure_bundle(asset_dir)
            cache[asset_dir.name] = [measured.zipped_bytes, measured.unzipped_bytes]
        zipped, unzipped = cache[asset_dir.name]
        sizes[function] = BundleSize(zipped, unzipped)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache, indent=2) + "\n")
    return sizes


"""The Python of the functions' Lambda runtime, which their bundles are compiled for."""
FLOOR_DIR = PROJECT_ROOT / "tests" / "lambda_functions"
FLOOR_FILE = "empty_app.py"
FLOOR_HANDLER = "empty_app.app"
"""The floor's handler in its bundle, where ``empty_app.py`` lies at the top, as a function's own code does."""
ONE_MODEL_FILE = "one_model_app.py"
ONE_MODEL_HANDLER = "one_model_app.app"
"""The empty app with one pydantic model, beside the floor: what a pattern's first model costs by itself."""
READ_ONLY_SETTINGS = {"PYTHONDONTWRITEBYTECODE": "1"}
"""Writing no bytecode, as in a read-only folder: as root, this process's permissions would not stop it."""


@dataclass(frozen=True)
class ColdStartCode:
    """What the cold starts run: bundles for ``target``, by the ``python`` interpreter."""

    target: Target
    python: str
    python_version: str
    """The interpreter's full version, e.g. ``3.13.0``."""
    note: str = ""
    """Why the bundles are not for Lambda's Python, if they are not."""

    def describe(self) -> str:
        """One line for the report: what was measured."""
        described = (
            f"unzipped bundle ({self.target.architecture}, bytecode by Python {self.target.python_version}), "
            f"read-only, run by Python {self.python_version}"
        )
        return f"{described}; {self.note}" if self.note else described

    def summary(self) -> dict[str, object]:
        return {
            "code": "unzipped deployment bundle",
            "read_only": True,
            "architecture": self.target.architecture,
            "python": self.python_version,
            "interpreter": self.python,
            "note": self.note,
        }


def cold_start_code(version: str = LAMBDA_PYTHON_VERSION) -> ColdStartCode:
    """Bundles for this machine's architecture and Python ``version``, or for this Python if that one is missing."""
    from restate_lambda.cdk.bundling import Target, find_interpreter

    host = Target.host()
    interpreter = find_interpreter(version)
    if interpreter is not None:
        target = Target(host.architecture, version)
        note = ""
    else:
        target, interpreter = host, sys.executable
        note = f"no Python {version} on this machine: bundles for this one's, Python {host.python_version}"
    probe = [interpreter, "-c", "import platform; print(platform.python_version())"]
    full_version = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    return ColdStartCode(target, interpreter, full_version, note)


def build_floor_bundle(output_dir: Path, target: Target, app_file: str = FLOOR_FILE) -> Path:
    """A reference app's bundle (the floor's ``empty_app.py`` by default), built as a pattern's is."""
    from restate_lambda.cdk.bundling import Bundle, PythonSources

    from stacks.bundling import CONSTRAINTS, DEPENDENCY_CACHE, REQUIREMENTS

    sources = [PythonSources(FLOOR_DIR, include=(app_file,))]
    bundle = Bundle(sources, REQUIREMENTS, target, DEPENDENCY_CACHE, constraints=CONSTRAINTS)
    return bundle.build(output_dir)


def build_pattern_bundle(name: str, output_dir: Path, target: Target) -> Path:
    from functions.catalog import pattern_named
    from stacks.bundling import bundle_pattern

    return bundle_pattern(pattern_named(name), output_dir, target)


def without_bytecode(bundle: Path, output_dir: Path) -> Path:
    """A copy of ``bundle`` (by hard links) without its ``.pyc`` files: what ``Bundle(bytecode=False)`` builds."""
    from restate_lambda.cdk.bundling import link_tree

    return link_tree(bundle, output_dir, leave_out=("__pycache__", "*.pyc"))


def bytecode_files(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.pyc"))


@contextlib.contextmanager
def read_only(folders: Iterable[Path]) -> Iterator[None]:
    """The folders with no write permission for anyone (``chmod a-w``), restored afterwards.

    Directories only: a bundle's files are hard links into the dependency cache, whose modes are not
    the bench's to change, and a folder's permission is what writing a ``.pyc`` into it needs. Root
    bypasses permissions anyway, hence :data:`READ_ONLY_SETTINGS` in the functions' environment.
    """
    changed: list[tuple[Path, int]] = []
    try:
        for folder in folders:
            directories = [Path(top) for top, _, _ in os.walk(folder)]
            for directory in directories:
                mode = stat.S_IMODE(directory.stat().st_mode)
                changed.append((directory, mode))
                directory.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        yield
    finally:
        for directory, mode in reversed(changed):
            directory.chmod(mode)

"""Bundle sizes: what `make synth` ships per Lambda function, zipped (as uploaded) and unzipped (as unpacked).

The function of each ``cdk.out/asset.*`` folder is read from the templates in ``cdk.out``. Asset
folders are named by the hash of their content, so a size measured once stays true and is kept in
a small cache beside the results.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from local.processes import PROJECT_ROOT, tail

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

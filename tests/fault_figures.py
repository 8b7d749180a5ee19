"""What each fault test counted: printed with the test (`make chaos` runs pytest with -s), and kept.

With ``FAULT_FIGURES`` set (``make chaos`` sets it), each figure is also added to that JSON file,
from which ``make chaos`` tables the latest run in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FIGURES_FILE_VARIABLE = "FAULT_FIGURES"


def report_fault(fault: str, figures: str) -> None:
    """Print what ``fault`` did to the guarantees, and keep it for the docs when ``make chaos`` asks."""
    print(f"\n{fault}: {figures}")
    path = os.environ.get(FIGURES_FILE_VARIABLE)
    if not path:
        return
    kept = Path(path)
    results = json.loads(kept.read_text()) if kept.exists() else {"faults": []}
    results["faults"] = [entry for entry in results["faults"] if entry["fault"] != fault]
    results["faults"].append({"fault": fault, "figures": figures})
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(results, indent=2) + "\n")

"""Where this project keeps its local state. The process helpers are the package's (restate_lambda.local.processes)."""

from __future__ import annotations

from pathlib import Path

# Imported from here by tests/cdk_support.py and tests/cdk/test_registration.py until they import the package's.
from restate_lambda.local.processes import free_port, port_is_open, tail

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / ".state"
"""Git-ignored: server data, logs, Kafka jars. `make clean` removes it."""

__all__ = ["PROJECT_ROOT", "STATE_DIR", "free_port", "port_is_open", "tail"]

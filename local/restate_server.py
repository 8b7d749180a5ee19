"""restate-server as this project runs it: the package's, with the ingress refusing bodies over the patterns' budget."""

from __future__ import annotations

from typing import Any

from restate_lambda.local import restate_server
from restate_lambda.local.restate_server import RestatePorts

from functions.common.state_size import MAX_INPUT_BYTES

__all__ = ["INGRESS_REQUEST_SIZE_LIMIT", "RESTATE_SETTINGS", "RestatePorts", "RestateServer"]

INGRESS_REQUEST_SIZE_LIMIT = f"{MAX_INPUT_BYTES // 1024 // 1024} MiB"
"""A body, with a key's state at its budget beside it, still fits into one Lambda invocation;
deployed Restate environments need the same (README)."""
RESTATE_SETTINGS = {"RESTATE_INGRESS__REQUEST_SIZE_LIMIT": INGRESS_REQUEST_SIZE_LIMIT}


class RestateServer(restate_server.RestateServer):
    """The package's restate-server with :data:`RESTATE_SETTINGS` under any settings given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["settings"] = {**RESTATE_SETTINGS, **kwargs.get("settings", {})}
        super().__init__(*args, **kwargs)

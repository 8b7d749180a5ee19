"""Admin SQL the tests share: what Restate itself recorded about an invocation."""

from __future__ import annotations

from typing import Any

from restate_lambda.registration.admin import RestateAdmin


def invocation_row(admin: RestateAdmin, invocation_id: str) -> dict[str, Any]:
    """Status and outcome of one invocation (``completion_result`` is ``success`` or ``failure``)."""
    rows = admin.query(
        f"SELECT status, completion_result, completion_failure FROM sys_invocation WHERE id = '{invocation_id}'"
    )
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row

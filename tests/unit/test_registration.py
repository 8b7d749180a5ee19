"""Registration: what is checked without a stack (the rest: tests/stack/test_registration.py)."""

from __future__ import annotations

import time

import pytest
from restate_lambda.local.processes import free_port
from restate_lambda.registration.admin import (
    AdminApiUnreachable,
    RestateAdmin,
)


def test_unreachable_admin_api_fails_within_the_deadline_with_a_clear_reason():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(AdminApiUnreachable) as unreachable:
        RestateAdmin(url).wait_until_healthy(timeout=1.5)
    assert time.monotonic() - started < 5
    assert url in str(unreachable.value) and "not healthy after 2 s" in str(unreachable.value)

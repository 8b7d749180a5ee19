"""Wait for an eventually-true condition without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, accept: Callable[[T], object] = bool, timeout: float = 30.0) -> T:
    """Call ``probe`` until ``accept`` (default: truthiness) approves its value, and return that value.

    After ``timeout`` seconds fail with ``what`` we waited for and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {value!r}")
        time.sleep(0.1)

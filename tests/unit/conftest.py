"""What several unit modules share, made once per session."""

from __future__ import annotations

from typing import Any

import pytest

from functions.catalog import PATTERNS
from local.api_docs import discovery_answers
from tests.events import load_event


@pytest.fixture(scope="session")
def discovery() -> dict[str, dict[str, Any]]:
    """Each pattern's Lambda answer to the discovery event restate-server sends, by pattern name.

    One process imports every pattern for it (a second would pay the SDK's import again).
    """
    return discovery_answers(PATTERNS, load_event("lambda_invoke_discover"))

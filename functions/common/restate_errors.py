"""What Restate says when it refuses a request, for the messages of everything that calls its APIs.

Standard library only: the registration function, whose bundle has no other packages, uses it too.
"""

from __future__ import annotations

import json


def restate_message(body: str) -> str:
    """Restate's own words from an error body (``{"code": ..., "message": ...}``), else the body as it is."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return body

"""How a validation problem is worded, wherever it is reported.

A pattern's 400 (``invalid Task: id: Field required``), the front door's 422 (``invalid request:
reservationId: Field required``) and a setting's cold-start error (``UPLOAD_MAX_SECONDS='soon' is
not a valid setting: expected a number of seconds``) list their problems alike: where, a colon,
what, and a semicolon between problems. What is pydantic's message, except that a validator's own
words come without the "Value error, " pydantic puts in front of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Location = Sequence[int | str]
"""Where pydantic found a problem: field names and list indexes, outermost first."""


def problem_of(detail: Mapping[str, Any]) -> str:
    """What one validation error says, without pydantic's "Value error, " in front of a validator's own message."""
    return str(detail["ctx"]["error"]) if detail["type"] == "value_error" else str(detail["msg"])


def dotted(location: Location) -> str:
    """``("data", "object", "id")`` -> ``data.object.id``; the whole body when the problem is the body itself."""
    return ".".join(str(part) for part in location) or "body"


def describe_problems(details: Iterable[Mapping[str, Any]], where: Callable[[Location], str] = dotted) -> str:
    """One ``<where>: <problem>`` per error of a validation (an empty ``where`` leaves the place out)."""
    problems = []
    for detail in details:
        place = where(tuple(detail["loc"]))
        problems.append(f"{place}: {problem_of(detail)}" if place else problem_of(detail))
    return "; ".join(problems)

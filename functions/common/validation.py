"""Turn a request body into a pydantic model, or into a terminal 400 naming the bad fields.

Why not let the SDK deserialize into the model? The SDK wraps any deserialization failure in a
terminal error with status 500 and a generic message, and with a plain type hint a wrong-typed
payload fails inside the handler as an ordinary exception, which Restate retries forever. Handlers
therefore take the raw body (``input_serde=RAW_JSON``) and call :func:`parse_input` first.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from restate import TerminalError
from restate.serde import BytesSerde

ModelT = TypeVar("ModelT", bound=BaseModel)

RAW_JSON = BytesSerde()
"""Input serde for handlers that validate their own body with :func:`parse_input`."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each starting with the dotted path of the field it concerns."""
    problems = []
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"]) or "body"
        problems.append(f"{field}: {detail['msg']}")
    return "; ".join(problems)


def parse_input(model: type[ModelT], body: bytes | None) -> ModelT:
    """Validate ``body`` (JSON bytes) as ``model``; bad input is a terminal error, never retried."""
    try:
        return model.model_validate_json(body or b"")
    except ValidationError as error:
        raise TerminalError(f"invalid {model.__name__}: {describe_validation_error(error)}", status_code=400) from None

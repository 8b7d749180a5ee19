"""Typed handlers whose bad input is a terminal 400 naming the field, with their schema published.

What the SDK does on its own falls short both ways. With a pydantic model as the input type hint it
publishes the model's JSON schema in discovery (the Restate UI, the per-service OpenAPI), but a body
that fails validation becomes a terminal error with status 500 and an empty body reaches the handler
as ``None``; with a plain type hint a wrong payload raises inside the handler, which Restate retries
forever. A handler therefore declares its model as usual and adds two things::

    @service.handler("RunTask", input_serde=CHECKED_JSON)
    @checked_input
    async def run_task(ctx: restate.Context, task: Task) -> TaskResult: ...

:data:`CHECKED_JSON` hands the body over untouched (and encodes a model when another service calls
the handler), and :func:`checked_input` validates it against the annotation's model before the
handler runs: a valid body arrives as the model, anything else (an empty body included) is a
terminal 400. The SDK reads the handler's signature through the wrapper, so the schema it
publishes is the model's.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from restate import TerminalError
from restate.serde import Serde

ModelT = TypeVar("ModelT", bound=BaseModel)
ContextT = TypeVar("ContextT")
ResultT = TypeVar("ResultT")


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


class CheckedJsonSerde(Serde[Any]):
    """The input serde of :func:`checked_input` handlers."""

    def deserialize(self, buf: bytes) -> bytes:
        # Validation happens in checked_input, where a failure can still be a 400.
        return buf

    def serialize(self, obj: Any) -> bytes:
        # A service calling a checked handler passes its model.
        if obj is None:
            return b""
        if isinstance(obj, BaseModel):
            return obj.model_dump_json().encode()
        if isinstance(obj, bytes):
            return obj
        raise TypeError(f"call a checked handler with its pydantic model, not {type(obj).__name__}")


CHECKED_JSON = CheckedJsonSerde()


def input_model(handler: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model a handler's last parameter is annotated with."""
    parameters = list(inspect.signature(handler, eval_str=True).parameters.values())
    annotation = parameters[-1].annotation if len(parameters) == 2 else None
    if not (inspect.isclass(annotation) and issubclass(annotation, BaseModel)):
        raise TypeError(f"{handler.__qualname__} must take (ctx, input) with a pydantic model as the input's type")
    model: type[BaseModel] = annotation
    return model


def checked_input(
    handler: Callable[[ContextT, ModelT], Awaitable[ResultT]],
) -> Callable[[ContextT, ModelT], Awaitable[ResultT]]:
    """The handler, called with its input validated as its model, or a terminal 400 instead."""
    model = input_model(handler)

    @functools.wraps(handler)
    async def with_checked_input(ctx: ContextT, body: Any) -> ResultT:
        return await handler(ctx, typing.cast(ModelT, parse_input(model, body)))

    return with_checked_input

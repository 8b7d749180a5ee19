"""Typed handlers whose bad input is a terminal 400 naming the field, with their schema published.

What the SDK does on its own falls short both ways. With a pydantic model as the input type hint it
publishes the model's JSON schema in discovery (the Restate UI, the per-service OpenAPI), but a body
that fails validation becomes a terminal error with status 500 and an empty body reaches the handler
as ``None``; with a plain type hint a wrong payload raises inside the handler, which Restate retries
forever. A handler that takes input is therefore declared with :func:`typed_handler` in place of the
SDK's decorator, and the pattern's app is built with :func:`pattern_app` in place of ``restate.app``::

    @typed_handler(async_task_worker.handler, "RunTask")
    async def run_task(ctx: restate.Context, task: Task) -> TaskResult: ...

    app = pattern_app([async_task_worker])

:func:`typed_handler` registers the handler with an input serde that hands the body over untouched
(and encodes a model when another service calls the handler), and validates the body against the
annotation's model before the handler runs: a valid body arrives as the model, anything else (an
empty body included) is a terminal 400. The SDK reads the handler's signature through the wrapper,
so the schema it publishes is the model's. :func:`pattern_app` refuses to build an app with a
handler that takes input any other way, so a handler declared with the SDK's decorator alone fails
the cold start (and the unit tests) instead of answering bad input with a 500 or a retry loop.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import restate
from pydantic import BaseModel, ValidationError
from restate import TerminalError
from restate.handler import Handler
from restate.serde import Serde
from restate.server_types import RestateAppT

from functions.common.problems import describe_problems

ModelT = TypeVar("ModelT", bound=BaseModel)
ContextT = TypeVar("ContextT")
ResultT = TypeVar("ResultT")
TypedHandler = Callable[[ContextT, ModelT], Awaitable[ResultT]]
RestateService = restate.Service | restate.VirtualObject | restate.Workflow

VALIDATED_MODEL = "__validated_model__"
"""Set on a handler function that validates its input: the model it validates it as."""


def parse_input(model: type[ModelT], body: bytes | None) -> ModelT:
    """Validate ``body`` (JSON bytes) as ``model``; bad input is a terminal error, never retried."""
    try:
        return model.model_validate_json(body or b"")
    except ValidationError as error:
        problems = describe_problems(error.errors(include_url=False))
        raise TerminalError(f"invalid {model.__name__}: {problems}", status_code=400) from None


class CheckedJsonSerde(Serde[Any]):
    """The input serde of :func:`typed_handler` handlers."""

    def deserialize(self, buf: bytes) -> bytes:
        # Validation happens in the handler's wrapper, where a failure can still be a 400.
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


def checked_input(handler: TypedHandler[ContextT, ModelT, ResultT]) -> TypedHandler[ContextT, ModelT, ResultT]:
    """The handler, called with its input validated as its model, or a terminal 400 instead."""
    model = input_model(handler)

    @functools.wraps(handler)
    async def with_checked_input(ctx: ContextT, body: Any) -> ResultT:
        return await handler(ctx, typing.cast(ModelT, parse_input(model, body)))

    setattr(with_checked_input, VALIDATED_MODEL, model)
    return with_checked_input


def typed_handler(
    register: Callable[..., Callable[[Any], Any]], name: str, **options: Any
) -> Callable[[TypedHandler[ContextT, ModelT, ResultT]], TypedHandler[ContextT, ModelT, ResultT]]:
    """A handler whose input is a pydantic model, registered by ``register(name, **options)``, with its 400 path.

    ``register`` is the SDK's decorator factory: a service's or object's ``handler``, a workflow's
    ``main`` or ``handler``; ``options`` are its other keyword arguments (``kind="shared"``).
    """

    def register_checked(handler: TypedHandler[ContextT, ModelT, ResultT]) -> TypedHandler[ContextT, ModelT, ResultT]:
        registered: TypedHandler[ContextT, ModelT, ResultT] = register(name, input_serde=CHECKED_JSON, **options)(
            checked_input(handler)
        )
        return registered

    return register_checked


def answers_bad_input_with_a_400(handler: Handler[Any, Any]) -> bool:
    """Whether a handler takes no input, or validates it as :func:`typed_handler` does."""
    input_type = handler.handler_io.input_type
    if input_type is not None and input_type.is_void:
        return True
    # The SDK's own wrapper copies the attributes of the function it was given.
    validates = getattr(handler.fn, VALIDATED_MODEL, None) is not None
    return validates and handler.handler_io.input_serde is CHECKED_JSON


def handlers_without_a_400_path(services: Iterable[RestateService]) -> list[str]:
    """``Service/Handler`` of every handler that takes input but would not refuse bad input with a 400."""
    return [
        f"{service.name}/{handler.name}"
        for service in services
        for handler in service.handlers.values()
        if not answers_bad_input_with_a_400(handler)
    ]


def pattern_app(services: Sequence[RestateService]) -> RestateAppT:
    """``restate.app(services)``, refused if a handler takes input without :func:`typed_handler`."""
    unchecked = handlers_without_a_400_path(services)
    if unchecked:
        raise TypeError(
            f"{', '.join(unchecked)} take input without answering bad input with a 400: "
            "declare them with functions.common.validation.typed_handler"
        )
    return restate.app(services=services)

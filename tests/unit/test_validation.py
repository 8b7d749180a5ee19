"""A handler that takes input answers bad input with a 400, and cannot be declared so that it does not.

``typed_handler`` is the one way to declare such a handler; ``pattern_app`` refuses an app with a
handler that takes input any other way, so the mistake fails the import (a cold start, and these
tests) instead of showing up on a stack as a 500 or an invocation retried forever.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable

import pytest
import restate
from pydantic import BaseModel, Field
from restate import TerminalError

from functions.catalog import PATTERNS, Pattern
from functions.common.validation import (
    CHECKED_JSON,
    RestateService,
    checked_input,
    handlers_without_a_400_path,
    parse_input,
    pattern_app,
    typed_handler,
)


class Order(BaseModel):
    item: str = Field(min_length=1)
    quantity: int = Field(gt=0)


async def take_order(ctx: restate.Context, order: Order) -> str:
    return f"{order.quantity} x {order.item}"


async def take_text(ctx: restate.Context, text: str) -> str:
    return text


def sdk_decorator_alone(service: restate.Service) -> None:
    service.handler("Take")(take_order)


def checked_serde_without_validation(service: restate.Service) -> None:
    service.handler("Take", input_serde=CHECKED_JSON)(take_order)


def validation_without_checked_serde(service: restate.Service) -> None:
    # The SDK then picks its pydantic serde, which fails bad input with a 500 before the wrapper runs.
    service.handler("Take")(checked_input(take_order))


def a_plain_type_as_input(service: restate.Service) -> None:
    service.handler("Take")(take_text)


@pytest.mark.parametrize(
    "declare",
    [sdk_decorator_alone, checked_serde_without_validation, validation_without_checked_serde, a_plain_type_as_input],
)
def test_a_handler_taking_input_without_the_400_path_is_refused_when_the_app_is_built(
    declare: Callable[[restate.Service], None],
):
    service = restate.Service("Orders")
    declare(service)
    with pytest.raises(
        TypeError, match=r"^Orders/Take take input without answering bad input with a 400: .*typed_handler"
    ):
        pattern_app([service])


def test_a_typed_handler_and_a_handler_without_input_make_an_app():
    service = restate.Service("Orders")
    typed_handler(service.handler, "Take")(take_order)

    @service.handler("Count")
    async def count(ctx: restate.Context) -> int:
        return 0

    assert handlers_without_a_400_path([service]) == []
    assert callable(pattern_app([service]))


async def called_as_the_sdk_calls_it(handler: Callable[..., Awaitable[str]], body: bytes) -> str:
    # The context is not used by the handler here; the body is as the input serde hands it over.
    return await handler(None, body)


def test_a_typed_handler_gets_its_model_and_bad_input_is_a_terminal_400_naming_the_field():
    service = restate.Service("Orders")
    take = typed_handler(service.handler, "Take")(take_order)
    assert asyncio.run(called_as_the_sdk_calls_it(take, b'{"item": "tea", "quantity": 2}')) == "2 x tea"
    with pytest.raises(TerminalError) as refused:
        asyncio.run(called_as_the_sdk_calls_it(take, b'{"item": "tea", "quantity": 0}'))
    assert refused.value.status_code == 400
    assert str(refused.value) == "invalid Order: quantity: Input should be greater than 0"


def services_of(pattern: Pattern) -> list[RestateService]:
    module = importlib.import_module(f"functions.{pattern.name}.service")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, restate.Service | restate.VirtualObject | restate.Workflow)
    ]
    assert {service.name for service in found} == set(pattern.services)
    return found


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda pattern: pattern.name)
def test_every_pattern_handler_that_takes_input_answers_bad_input_with_a_400(pattern: Pattern):
    assert handlers_without_a_400_path(services_of(pattern)) == []


def test_every_problem_of_a_body_is_named_by_its_dotted_path():
    class Line(BaseModel):
        order: Order

    with pytest.raises(TerminalError) as refused:
        parse_input(Line, b'{"order": {"item": ""}}')
    assert str(refused.value) == (
        "invalid Line: order.item: String should have at least 1 character; order.quantity: Field required"
    )

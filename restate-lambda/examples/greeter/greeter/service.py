"""A greeter: the smallest Restate service on Lambda, to show the constructs outside any catalog."""

import restate

greeter = restate.Service("Greeter")


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    return f"Hello, {name}!"


app = restate.app(services=[greeter])

"""Durable RPC, idempotency and concurrency: reserve a product exactly once.

A client forwards reservation requests to ``ProductService/<productId>/Reserve`` through the
Restate ingress. Two Restate features make this safe without any code of ours:

* **Durable RPC** - once Restate has accepted the request it will be processed, even if the
  Lambda function crashes or times out half-way; Restate retries it.
* **Idempotency** - the client sends its reservation id as the ``idempotency-key`` header.
  Restate runs the handler once per key and answers every repeat with the first answer.

A virtual object keyed by product id gives one writer per product, so two reservations of the
same product never race::

    client --Reserve(product 1, key r1)--> Restate --> ProductService[1]: reserved? no -> true
    client --Reserve(product 1, key r2)--> Restate --> ProductService[1]: reserved? yes -> false
    client --Reserve(product 1, key r1)--> Restate: key r1 seen -> true (handler not run)
"""

from __future__ import annotations

import restate

from functions.common.validation import pattern_app

product_service = restate.VirtualObject("ProductService")

RESERVED = "reserved"


@product_service.handler("Reserve")
async def reserve(ctx: restate.ObjectContext) -> bool:
    """True if this call reserved the product, false if it was already reserved."""
    if await ctx.get(RESERVED, type_hint=bool):
        return False
    ctx.set(RESERVED, True)
    return True


app = pattern_app([product_service])

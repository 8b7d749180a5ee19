"""The reservation scenario of `make demo`: reservations 1, 2, 1 of one product answer true, false, true."""

from __future__ import annotations

import uuid

from local.clients import Ingress
from local.clients.durable_rpc import reserve_product


def run_demo(ingress: Ingress) -> str:
    # A fresh product per run, so the scenario also holds against a long-lived `make dev` stack.
    product = f"product-{uuid.uuid4().hex[:8]}"
    first, second = f"{product}-r1", f"{product}-r2"
    answers = [
        reserve_product(ingress, product, first),
        reserve_product(ingress, product, second),
        reserve_product(ingress, product, first),
    ]
    if answers != [True, False, True]:
        raise AssertionError(f"expected true, false, true; got {answers}")
    return "reservation ids 1, 2, 1 answered true, false, true"

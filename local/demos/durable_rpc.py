"""The reservation scenario of `make demo`: reservations 1, 2, 1 of one product answer true, false, true."""

from __future__ import annotations

import uuid

from local.clients.durable_rpc import reserve_product


def run_demo(ingress_url: str) -> str:
    # A fresh product per run, so the scenario also holds against a long-lived `make dev` stack.
    product = f"product-{uuid.uuid4().hex[:8]}"
    first, second = f"{product}-r1", f"{product}-r2"
    answers = [
        reserve_product(ingress_url, product, first),
        reserve_product(ingress_url, product, second),
        reserve_product(ingress_url, product, first),
    ]
    if answers != [True, False, True]:
        raise AssertionError(f"expected true, false, true; got {answers}")
    return "reservation ids 1, 2, 1 answered true, false, true"

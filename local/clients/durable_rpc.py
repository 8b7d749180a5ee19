"""Reserve a product through the Restate ingress, with the reservation id as idempotency key.

python -m local.clients.durable_rpc --product-id 1 --reservation-id 1    # true
python -m local.clients.durable_rpc --product-id 1 --reservation-id 2    # false
python -m local.clients.durable_rpc --product-id 1 --reservation-id 1    # true (deduplicated)
"""

from __future__ import annotations

import argparse

from local.clients import Ingress, add_ingress_arguments, exit_when_a_call_fails, run_flow


def reserve_product(ingress: Ingress, product_id: str, reservation_id: str, token: str | None = None) -> bool:
    """True if this reservation got the product. Repeating a reservation id repeats its answer."""
    return run_flow(ingress, token, lambda flows: flows.reserve_product(product_id, reservation_id))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product-id", required=True)
    parser.add_argument("--reservation-id", required=True, help="used as the idempotency key")
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    with exit_when_a_call_fails("reservation"):
        reserved = reserve_product(args.ingress, args.product_id, args.reservation_id, args.token)
    print("true" if reserved else "false")


if __name__ == "__main__":
    main()

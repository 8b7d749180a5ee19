"""Register a package over HTTP and read what Kafka's location updates added to it.

    python -m local.clients.event_enrichment register --package package123 --destination "Bridge 6, Amsterdam"
    python -m local.clients.event_enrichment info --package package123

Location updates arrive on the Kafka topic ``package-location-updates`` (key = package id);
produce them with ``python -m local.produce``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import quote

from local.clients import (
    CALL_FAILED,
    REPEATABLE,
    Ingress,
    add_ingress_arguments,
    call_key,
    checked,
    ingress_client,
)


def register_package(ingress: Ingress, package_id: str, destination: str, token: str | None = None) -> None:
    with ingress_client(ingress, token) as client:
        checked(
            client.post(
                f"/PackageTracker/{quote(package_id, safe='')}/RegisterPackage",
                json={"finalDestination": destination},
                headers={"idempotency-key": call_key()},
            )
        )


def package_info(ingress: Ingress, package_id: str, token: str | None = None) -> dict[str, Any]:
    with ingress_client(ingress, token) as client:
        # A shared handler only reads: asking another node again changes nothing.
        path = f"/PackageTracker/{quote(package_id, safe='')}/GetPackageInfo"
        response = checked(client.post(path, extensions={REPEATABLE: True}))
    info: dict[str, Any] = response.json()
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_ingress_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="register a package and its final destination")
    register.add_argument("--package", required=True)
    register.add_argument("--destination", required=True)
    info = commands.add_parser("info", help="the package's destination and locations so far")
    info.add_argument("--package", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "register":
            register_package(args.ingress, args.package, args.destination, args.token)
            print(f"registered {args.package}")
        else:
            print(json.dumps(package_info(args.ingress, args.package, args.token), indent=2))
    except CALL_FAILED as error:
        sys.exit(f"{args.command} failed: {error}")


if __name__ == "__main__":
    main()

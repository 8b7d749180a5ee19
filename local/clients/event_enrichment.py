"""Register a package over HTTP and read what Kafka's location updates added to it.

    python -m local.clients.event_enrichment register --package package123 --destination "Bridge 6, Amsterdam"
    python -m local.clients.event_enrichment info --package package123

Location updates arrive on the Kafka topic ``package-location-updates`` (key = package id);
produce them with ``python -m local.produce``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from local.clients import (
    Ingress,
    add_ingress_arguments,
    call_key,
    checked,
    exit_when_a_call_fails,
    ingress_client,
    read_shared,
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
    info: dict[str, Any] = read_shared(ingress, "PackageTracker", package_id, "GetPackageInfo", token)
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
    with exit_when_a_call_fails(args.command):
        if args.command == "register":
            register_package(args.ingress, args.package, args.destination, args.token)
            print(f"registered {args.package}")
        else:
            print(json.dumps(package_info(args.ingress, args.package, args.token), indent=2))


if __name__ == "__main__":
    main()

"""Read a user's feed (posts arrive through Kafka; produce them with `python -m local.produce`).

python -m local.clients.event_transactions --user userid1
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import quote

from local.clients import CALL_FAILED, REPEATABLE, Ingress, add_ingress_arguments, checked, ingress_client


def user_feed(ingress: Ingress, user_id: str, token: str | None = None) -> list[dict[str, Any]]:
    """The user's published posts, oldest first."""
    with ingress_client(ingress, token) as client:
        # A shared handler only reads: asking another node again changes nothing.
        response = checked(client.post(f"/UserFeed/{quote(user_id, safe='')}/GetFeed", extensions={REPEATABLE: True}))
    posts: list[dict[str, Any]] = response.json()["posts"]
    return posts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", required=True)
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    try:
        print(json.dumps(user_feed(args.ingress, args.user, args.token), indent=2))
    except CALL_FAILED as error:
        sys.exit(f"reading the feed failed: {error}")


if __name__ == "__main__":
    main()

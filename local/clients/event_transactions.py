"""Read a user's feed (posts arrive through Kafka; produce them with `python -m local.produce`).

python -m local.clients.event_transactions --user userid1
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from local.clients import Ingress, add_ingress_arguments, exit_when_a_call_fails, read_shared


def user_feed(ingress: Ingress, user_id: str, token: str | None = None) -> list[dict[str, Any]]:
    """The user's published posts, oldest first."""
    posts: list[dict[str, Any]] = read_shared(ingress, "UserFeed", user_id, "GetFeed", token)["posts"]
    return posts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", required=True)
    add_ingress_arguments(parser)
    args = parser.parse_args(argv)
    with exit_when_a_call_fails("reading the feed"):
        print(json.dumps(user_feed(args.ingress, args.user, args.token), indent=2))


if __name__ == "__main__":
    main()

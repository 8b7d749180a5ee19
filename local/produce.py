"""Produce keyed records to the local Kafka broker: the console producer, without Docker.

    .venv/bin/python -m local.produce social-media-posts \\
        'userid1:{"content": "Hi! This is my first post!", "metadata": "public"}'

Each record is ``<key>:<value>`` (split at the first colon, like kafka-console-producer with
``parse.key=true`` and ``key.separator=:``). Without records on the command line, one record is
read per line of standard input.
"""

from __future__ import annotations

import argparse
import sys

from restate_lambda.local.kafka_broker import ensure_topics, produce

__all__ = ["DEFAULT_BOOTSTRAP", "ensure_topics", "main", "parse_record", "produce"]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def parse_record(line: str) -> tuple[str, str]:
    key, separator, value = line.partition(":")
    if not separator or not key:
        raise ValueError(f"expected <key>:<value>, got {line!r}")
    return key, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("records", nargs="*", help="<key>:<value>; read from stdin when none are given")
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="default %(default)s")
    args = parser.parse_args(argv)
    lines = args.records or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    try:
        records = [parse_record(line) for line in lines]
    except ValueError as error:
        sys.exit(str(error))
    sent = produce(args.bootstrap, args.topic, records)
    print(f"produced {sent} record(s) to {args.topic}")


if __name__ == "__main__":
    main()

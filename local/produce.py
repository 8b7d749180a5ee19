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
from collections.abc import Iterable

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, str]], timeout: float = 30.0) -> int:
    """Send ``(key, value)`` records in order and wait until the broker acknowledged all of them."""
    failures: list[str] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    # Idempotent producer: a retry after a broker hiccup cannot duplicate or reorder records.
    # log_level 3: errors only; a broker that is still loading its coordinator is retried, not news.
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5, "log_level": 3})
    count = 0
    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
        producer.poll(0)
        count += 1
    remaining = producer.flush(timeout)
    if remaining or failures:
        raise RuntimeError(f"{remaining} records not acknowledged, errors: {failures[:3]}")
    return count


def ensure_topics(bootstrap: str, topics: Iterable[str], timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet, with one partition each (one broker; order per key is kept).

    Subscriptions made before their topic exists would only notice it at the consumer's next
    metadata refresh; creating the topics first makes a fresh subscription start at once.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [NewTopic(topic, num_partitions=1, replication_factor=1) for topic in topics if topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except Exception as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise RuntimeError(f"could not create topic {topic}: {error}") from error


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

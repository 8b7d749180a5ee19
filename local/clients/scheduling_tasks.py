"""Look at an invoice's reminder loop in PaymentTracker.

    python -m local.clients.scheduling_tasks status --invoice in_1
    python -m local.clients.scheduling_tasks wait-next-reminder --invoice in_1

``status`` prints the tracker's state; ``wait-next-reminder`` waits for the scheduled reminder to
run (by attaching to its invocation) and prints the state it left. Failure and payment events
come in through the webhook router: see ``local.clients.webhook_callbacks``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from local.clients import (
    Ingress,
    add_ingress_arguments,
    attach_to_invocation,
    checked,
    exit_when_a_call_fails,
    ingress_client,
    read_shared,
)


def payment_status(ingress: Ingress, invoice_id: str, token: str | None = None) -> dict[str, Any]:
    """``{"invoice_id", "paid", "reminders_count", "escalated", "scheduled_reminder"}``."""
    status: dict[str, Any] = read_shared(ingress, "PaymentTracker", invoice_id, "GetStatus", token)
    return status


def wait_for_invocation(
    ingress: Ingress, invocation_id: str, token: str | None = None, timeout: float = 600.0
) -> dict[str, Any]:
    """Block until the invocation (e.g. a scheduled reminder) has run; returns its output."""
    output: dict[str, Any] = attach_to_invocation(ingress, invocation_id, token, timeout)
    return output


def result_of_event(
    ingress: Ingress, invoice_id: str, handler: str, event_id: str, token: str | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """What ``PaymentTracker[invoice].<handler>`` returned for the Stripe event ``event_id``.

    The webhook router sends each event with its event id as idempotency key, so the tracker's
    invocation can be found (and waited for) by that key.
    """
    path = (
        f"/restate/invocation/PaymentTracker/{quote(invoice_id, safe='')}/{handler}/{quote(event_id, safe='')}/attach"
    )
    with ingress_client(ingress, token, timeout=timeout) as client:
        response = checked(client.get(path))
    output: dict[str, Any] = response.json()
    return output


def wait_for_status(
    ingress: Ingress,
    invoice_id: str,
    done: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 30.0,
    token: str | None = None,
) -> dict[str, Any]:
    """Poll the tracker until ``done(status)``; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        status = payment_status(ingress, invoice_id, token)
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"PaymentTracker[{invoice_id}] did not show {what} within {timeout:.0f} s: {status}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_ingress_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("status", "print the tracker's state for an invoice"),
        ("wait-next-reminder", "wait for the scheduled reminder to run, then print the state"),
    ):
        commands.add_parser(name, help=help_text).add_argument("--invoice", required=True)
    args = parser.parse_args(argv)
    with exit_when_a_call_fails(args.command):
        status = payment_status(args.ingress, args.invoice, args.token)
        if args.command == "wait-next-reminder":
            if status["scheduled_reminder"] is None:
                sys.exit(f"no reminder is scheduled for invoice {args.invoice}")
            status = wait_for_invocation(args.ingress, status["scheduled_reminder"], args.token)
    print(json.dumps(status))


if __name__ == "__main__":
    main()

"""Submit tasks to AsyncTaskWorker through Restate's queue, and fetch their results later.

    python -m local.clients.delayed_queue submit --id task-1 --description "resize images" --delay 10s
    python -m local.clients.delayed_queue submit --id task-1 --description "resize images"   # PreviouslyAccepted
    python -m local.clients.delayed_queue attach --id task-1      # waits for and prints the result

The task id is the idempotency key: submitting the same id twice queues the task once, and
``attach`` finds the task's invocation by that key.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from functions.front_door.flows import Submission, looks_like_an_id, parse_delay
from local.clients import Ingress, add_ingress_arguments, checked_as, exit_when_a_call_fails, run_flow


def submit_task(
    ingress: Ingress, task_id: str, description: str, delay: str | None = None, token: str | None = None
) -> Submission:
    queued_after = parse_delay(delay) if delay else None
    return run_flow(ingress, token, lambda flows: flows.submit_task(task_id, description, queued_after))


def attach_to_task(ingress: Ingress, task_id: str, token: str | None = None, timeout: float = 600.0) -> Any:
    """Wait for the task's result (returns at once if it already finished)."""
    return run_flow(ingress, token, lambda flows: flows.attach_to_task(task_id, timeout))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_ingress_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser("submit", help="queue a task (optionally delayed)")
    submit.add_argument(
        "--id", required=True, type=checked_as(looks_like_an_id), help="task id, used as the idempotency key"
    )
    submit.add_argument("--description", required=True)
    submit.add_argument("--delay", type=checked_as(parse_delay), help="run the task this much later, e.g. 10s")
    attach = commands.add_parser("attach", help="wait for a submitted task's result")
    # Checked too: an id the submit refuses could not be attached to.
    attach.add_argument("--id", required=True, type=checked_as(looks_like_an_id))
    args = parser.parse_args(argv)
    with exit_when_a_call_fails(args.command):
        if args.command == "submit":
            submission = submit_task(args.ingress, args.id, args.description, args.delay, args.token)
            print(f"{submission.status} {submission.invocation_id}")
        else:
            print(json.dumps(attach_to_task(args.ingress, args.id, args.token)))


if __name__ == "__main__":
    main()

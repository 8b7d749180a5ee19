"""How much state one key may hold so that every invocation of it still fits through Lambda.

Restate hands a virtual object's whole state to each invocation of it (the request, beside the
input). A handler that reads the state journals what it read, value included, and one that
changes it sends the new value: the response of a read-then-write handler carries the state
twice. (So would the request resuming a handler that suspended between its read and its write:
the handlers here read the state in their last step, after any sleep.) On Lambda both directions
travel in a synchronous invoke, whose request and response may each be at most 6 MB, and the
Restate messages ride in them as a base64-encoded body: 3 bytes of state cost 4 bytes of payload.
A key whose state outgrew that would fail every later invocation, and Restate would retry the
first of them forever while the key's other calls queue behind it.

A count of entries does not bound bytes (a character can take 4 of them), so a pattern keeping a
history bounds it by its encoded size: :func:`state_budget` gives the bytes one key's state may
take next to the invocation's own messages, and :func:`newest_that_fit` keeps the newest entries
within them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel

LAMBDA_PAYLOAD_BYTES = 6_291_456
"""What a synchronous Lambda invoke carries at most, in its request and in its response (6 MB)."""
EVENT_ENVELOPE_BYTES = 16_384
"""The Lambda event around the body: the API-Gateway-shaped request restate-server sends (method,
path, headers) or the response object the SDK returns. A few hundred bytes in practice."""
STATE_COPIES = 2
"""How often one invocation's response carries the key's state at most: as read and as written."""
MAX_INPUT_BYTES = 2 * 1024 * 1024
"""The largest body a call may send, as restate-server's ``ingress.request-size-limit`` (2 MiB)
enforces it: with the state at its budget, the request still fits (``tests/unit/test_state_size.py``).
A record from Kafka is smaller still (1 MB by the broker's default)."""

EntryT = TypeVar("EntryT", bound=BaseModel)


def base64_size(size: int) -> int:
    """The length of ``size`` bytes once base64-encoded."""
    return 4 * -(-size // 3)


def restate_message_bytes() -> int:
    """What Restate's messages may take in one invoke, once base64-encoded inside the Lambda event."""
    return (LAMBDA_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) * 3 // 4


def state_budget(journal_bytes: int) -> int:
    """The bytes of encoded state one key may hold, when an invocation's journal and output take at
    most ``journal_bytes`` besides the state.

    The request (state, input of at most :data:`MAX_INPUT_BYTES`, journal) and the response (state
    as read and as written, journal, output) then both stay within Lambda's payload limit.
    """
    capacity = restate_message_bytes()
    budget = min((capacity - journal_bytes) // STATE_COPIES, capacity - MAX_INPUT_BYTES - journal_bytes)
    if budget <= 0:
        raise ValueError(f"a journal of {journal_bytes} bytes leaves no room for state")
    return budget


def encoded_size(value: BaseModel) -> int:
    """The bytes ``value`` takes as state: the SDK stores a pydantic model as its ``model_dump_json()``."""
    return len(value.model_dump_json().encode())


def newest_that_fit(entries: Sequence[EntryT], budget: int, empty_state: BaseModel) -> list[EntryT]:
    """The newest of ``entries`` (given oldest first) that fit into a state of at most ``budget`` bytes.

    ``empty_state`` is the state these entries go into, with their list still empty: its other
    fields count against the budget too.
    """
    used = encoded_size(empty_state)
    kept = 0
    for entry in reversed(entries):
        needed = encoded_size(entry) + (1 if kept else 0)  # a comma between two entries
        if used + needed > budget:
            break
        used += needed
        kept += 1
    return list(entries[len(entries) - kept :])

"""The cold-start floor of `make bench`: the Restate SDK and the Lambda runtime, with no service at all.

A pattern's cold start divided by this one's is what the pattern's own imports and first
invocation add to what any Restate handler on Lambda pays.
"""

from __future__ import annotations

import restate

app = restate.app(services=[])

"""Events as AWS hands them to a function, kept as files so that unit tests drive the real handlers with them.

* ``function_url_*.json``: Lambda Function URL requests (payload format 2.0) to the front door,
  as an ``AWS_IAM`` URL delivers them: SigV4 headers, the caller under ``requestContext.authorizer.iam``,
  a body without a text content type base64-encoded.
* ``cloudformation_*.json``: custom resource requests as the CDK Provider framework passes them on
  to the registration function: every scalar property a string, lists and maps kept.
* ``lambda_invoke_discover.json``: the Invoke payload restate-server (1.7) sends a function to discover
  its services, recorded from the local stack: API Gateway's proxy shape, body base64-encoded.

Account ids, ARNs, hashes and URL ids are made up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``<name>.json``: tests may change it."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event

"""The wire API of every pattern, written from what the handlers publish: ``make api-docs``.

Restate learns each handler's input and output schema from the function itself: it invokes the
function with a discovery request and reads the manifest it answers. This module does the same
without a Restate: it imports every catalog pattern's Lambda handler in a process of its own (as
the local Lambda runtime would, the function's name and settings set first), hands it the
discovery event restate-server sends, and renders the manifests into ``functions/API.md``. So the
document says exactly what the deployed code publishes, and ``tests/unit/test_api_docs.py`` checks in
seconds that the committed file is what this would write.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from functions.catalog import PATTERNS, Pattern
from local.processes import PROJECT_ROOT

API_DOCS = PROJECT_ROOT / "functions" / "API.md"

MANIFEST_VERSIONS = [f"application/vnd.restate.endpointmanifest.v{version}+json" for version in range(1, 5)]
DISCOVER_EVENT: dict[str, Any] = {
    "path": "/discover",
    "httpMethod": "GET",
    "headers": {"accept": ", ".join(MANIFEST_VERSIONS), "x-restate-cluster-name": "localcluster"},
    "body": "",
    "isBase64Encoded": True,
}
"""The Invoke payload restate-server (1.7) sends a Lambda function to discover its services."""

ANSWER_DISCOVERY = """
import json, os, sys
from restate_lambda.local.lambda_worker import load_handler

answers, sys.stdout = sys.stdout, sys.stderr  # whatever a handler prints must not mix with the answers
request = json.load(sys.stdin)
answered = {}
for name, handler_path, environment in request["functions"]:
    os.environ.update(environment, AWS_LAMBDA_FUNCTION_NAME=name)
    answered[name] = load_handler(handler_path)(request["event"], None)
answers.write(json.dumps(answered))
"""


def discovery_answers(
    patterns: Iterable[Pattern] = PATTERNS, event: Mapping[str, Any] = DISCOVER_EVENT
) -> dict[str, Any]:
    """Each pattern's Lambda answer to the discovery event, by pattern name.

    ``restate.app`` returns a Lambda handler only when ``AWS_LAMBDA_FUNCTION_NAME`` is set as the
    module is imported, and installs an event loop of its own: hence a process apart, one for all
    patterns (each would pay the SDK's import again), every module seeing its own function name.
    """
    request = {"event": event, "functions": [(p.name, p.handler, dict(p.settings)) for p in patterns]}
    done = subprocess.run(
        [sys.executable, "-c", ANSWER_DISCOVERY],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"discovery failed: {done.stderr.decode(errors='replace')}")
    answers: dict[str, Any] = json.loads(done.stdout)
    return answers


def manifest_of(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's body read as restate-server reads it: base64-decoded when the answer says it is encoded."""
    body = answer.get("body") or ""
    document: dict[str, Any] = json.loads(base64.b64decode(body) if answer.get("isBase64Encoded") else body)
    return document


SERVICE_KINDS = {
    "SERVICE": ("service", "/{service}/{handler}"),
    "VIRTUAL_OBJECT": ("virtual object, one per key", "/{service}/{{key}}/{handler}"),
    "WORKFLOW": ("workflow, one run per id", "/{service}/{{id}}/{handler}"),
}
"""By the manifest's service type: how the docs name it, and the ingress path of its handlers."""
HANDLER_KINDS = {"EXCLUSIVE": "exclusive", "SHARED": "shared (runs beside others)", "WORKFLOW": "the run"}


def _schema_block(schema: Any) -> list[str]:
    return ["```json", json.dumps(schema, indent=2, sort_keys=True), "```"]


def _payload(handler: Mapping[str, Any], direction: str) -> list[str]:
    schema = (handler.get(direction) or {}).get("jsonSchema")
    if schema is None:
        return [f"*{direction.capitalize()}:* none."]
    return [f"*{direction.capitalize()}:*", "", *_schema_block(schema)]


def render_service(pattern: Pattern, service: Mapping[str, Any]) -> list[str]:
    name = str(service["name"])
    kind, path = SERVICE_KINDS.get(str(service["ty"]), (str(service["ty"]), "/{service}/{handler}"))
    visibility = " Private: other services call it; the ingress refuses it." if name in pattern.private_services else ""
    lines = [f"## {name}", "", f"Pattern `{pattern.name}`; {kind}.{visibility}", ""]
    for handler in sorted(service["handlers"], key=lambda handler: str(handler["name"])):
        handler_name = str(handler["name"])
        call = path.format(service=name, handler=handler_name)
        lines += [f"### `POST {call}`", ""]
        if handler.get("documentation"):
            lines += [str(handler["documentation"]).strip(), ""]
        if handler.get("ty"):
            lines += [f"*Kind:* {HANDLER_KINDS.get(str(handler['ty']), str(handler['ty']))}.", ""]
        lines += [*_payload(handler, "input"), "", *_payload(handler, "output"), ""]
    return lines


def render(manifests: Mapping[str, Mapping[str, Any]], patterns: Iterable[Pattern] = PATTERNS) -> str:
    """The document, from each pattern's discovery manifest (by pattern name), in catalog order."""
    lines = [
        "# The patterns' wire API",
        "",
        "Generated by `make api-docs` from what each handler publishes in Restate's discovery",
        "(the manifest its Lambda function answers); do not edit. Call a handler through the Restate ingress,",
        "`POST <ingress>/<path>` with a JSON body; append `/send` to the path to enqueue the call",
        "without waiting for its answer. Bad input is answered with a terminal 400 naming the field.",
        "",
    ]
    for pattern in patterns:
        services = {service["name"]: service for service in manifests[pattern.name]["services"]}
        for service_name in pattern.services:
            lines += render_service(pattern, services[service_name])
    return "\n".join(lines).rstrip() + "\n"


def current_document(patterns: Iterable[Pattern] = PATTERNS) -> str:
    patterns = tuple(patterns)
    answers = discovery_answers(patterns)
    return render({name: manifest_of(answer) for name, answer in answers.items()}, patterns)


def main() -> None:
    API_DOCS.write_text(current_document())
    print(f"wrote {API_DOCS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()

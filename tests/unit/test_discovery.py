"""Each pattern's real Lambda handler answers restate-server's discovery Invoke, without a Restate.

``restate.app`` returns a Lambda handler only when ``AWS_LAMBDA_FUNCTION_NAME`` is set as the module
is imported, and it installs an event loop of its own; so the patterns are imported in a process
apart from pytest's, each with its function name and settings set first, as the local Lambda runtime
sets them. The event is the one restate-server sends when a version is registered (``tests/events``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.catalog import PATTERNS, Pattern
from local.api_docs import API_DOCS, DISCOVER_EVENT, SERVICE_KINDS, manifest_of
from tests.events import load_event

DISCOVER = load_event("lambda_invoke_discover")
OFFERED_MANIFESTS = [kind.strip() for kind in DISCOVER["headers"]["accept"].split(",")]


def test_make_api_docs_sends_the_event_restate_server_sends():
    assert DISCOVER_EVENT == DISCOVER


@pytest.fixture
def answers(discovery: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each pattern's answer to the discover event, by pattern name."""
    return discovery


def manifest(answer: dict[str, Any]) -> dict[str, Any]:
    return manifest_of(answer)


BY_PATTERN = pytest.mark.parametrize("pattern", PATTERNS, ids=lambda pattern: pattern.name)


@BY_PATTERN
def test_discovery_answers_a_manifest_version_restate_offered_for_request_response(answers, pattern: Pattern):
    answer = answers[pattern.name]
    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["content-type"] in OFFERED_MANIFESTS
    # Lambda cannot stream both ways: a bidirectional endpoint would fail every invocation.
    assert manifest(answer)["protocolMode"] == "REQUEST_RESPONSE"


@BY_PATTERN
def test_discovery_lists_exactly_the_catalog_s_services(answers, pattern: Pattern):
    services = [service["name"] for service in manifest(answers[pattern.name])["services"]]
    assert sorted(services) == sorted(pattern.services)


@BY_PATTERN
def test_every_handler_that_takes_input_publishes_a_json_schema(answers, pattern: Pattern):
    without_schema = []
    for service in manifest(answers[pattern.name])["services"]:
        assert service["handlers"], f"{service['name']} has no handlers"
        for handler in service["handlers"]:
            accepted = handler.get("input") or {}
            # An empty "input" is a handler that takes none; one taking raw bytes would publish no schema.
            if accepted and not (isinstance(accepted.get("jsonSchema"), dict) and accepted["jsonSchema"]):
                without_schema.append(f"{service['name']}/{handler['name']}")
    assert without_schema == []


def api_doc_sections() -> dict[str, str]:
    """functions/API.md's text under each handler heading, by the heading's call path."""
    parts = re.split(r"^### `POST (\S+)`$", API_DOCS.read_text(), flags=re.MULTILINE)
    return {path: text.split("\n## ")[0] for path, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_the_api_document_lists_the_handlers_and_input_schemas_that_discovery_publishes(answers):
    """A quick look at functions/API.md: the stack test compares it whole with what Restate hands out."""
    sections = api_doc_sections()
    published: set[str] = set()
    for answer in answers.values():
        for service in manifest(answer)["services"]:
            path_format = SERVICE_KINDS[service["ty"]][1]
            for handler in service["handlers"]:
                path = path_format.format(service=service["name"], handler=handler["name"])
                published.add(path)
                schema = (handler.get("input") or {}).get("jsonSchema")
                if schema is not None:
                    written = json.dumps(schema, indent=2, sort_keys=True)
                    assert written in sections.get(path, ""), f"{path}: stale input schema, run `make api-docs`"
    assert published == set(sections), "functions/API.md is stale: run `make api-docs`"

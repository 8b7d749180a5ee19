"""functions/API.md is what `make api-docs` writes from the manifests the handlers publish, so it cannot drift."""

from __future__ import annotations

from typing import Any

from local.api_docs import API_DOCS, manifest_of, render


def test_the_committed_api_document_is_what_the_handlers_publish(discovery: dict[str, dict[str, Any]]):
    # What `make api-docs` does (current_document), on the session's discovery answers.
    document = render({name: manifest_of(answer) for name, answer in discovery.items()})
    assert API_DOCS.read_text() == document, "functions/API.md is stale: run `make api-docs` and commit it"
    # A quick look that the rendering says what a caller needs.
    assert "### `POST /BookingWorkflow/{id}/Run`" in document
    assert "### `POST /ProductService/{key}/Reserve`" in document
    assert '"passenger_name"' in document and '"payment_info"' in document

"""functions/API.md is what `make api-docs` writes from the manifests the handlers publish, so it cannot drift."""

from __future__ import annotations

from local.api_docs import API_DOCS, current_document


def test_the_committed_api_document_is_what_the_handlers_publish():
    document = current_document()
    assert API_DOCS.read_text() == document, "functions/API.md is stale: run `make api-docs` and commit it"
    # A quick look that the rendering says what a caller needs.
    assert "### `POST /BookingWorkflow/{id}/Run`" in document
    assert "### `POST /ProductService/{key}/Reserve`" in document
    assert '"passenger_name"' in document and '"payment_info"' in document

"""functions/API.md is what `make api-docs` writes from the running services, so it cannot drift from the code."""

from __future__ import annotations

from local.api_docs import API_DOCS, describe_services, render


def test_the_committed_api_document_is_what_the_services_publish(stack):
    expected = render(describe_services(stack.admin_url))
    assert API_DOCS.read_text() == expected, "functions/API.md is stale: run `make api-docs` and commit it"


def test_the_document_shows_each_handlers_input_schema_and_how_to_call_it(stack):
    document = render(describe_services(stack.admin_url))
    assert "### `POST /BookingWorkflow/{id}/Run`" in document
    assert "### `POST /ProductService/{key}/Reserve`" in document
    assert '"passenger_name"' in document and '"payment_info"' in document

"""ProductService through Restate -> local Lambda runtime -> functions/durable_rpc."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from local.clients.durable_rpc import main as client_main
from local.clients.durable_rpc import reserve_product


def test_the_example_scenario_true_false_true(stack, unique):
    product = f"product-{unique}"
    answers = [
        reserve_product(stack.ingress_url, product, f"{unique}-1"),
        reserve_product(stack.ingress_url, product, f"{unique}-2"),
        reserve_product(stack.ingress_url, product, f"{unique}-1"),
    ]
    assert answers == [True, False, True]


def test_client_prints_true_then_false(stack, unique, capsys):
    for reservation in ("a", "b"):
        client_main(
            ["--product-id", unique, "--reservation-id", f"{unique}-{reservation}", "--ingress", stack.ingress_url]
        )
    assert capsys.readouterr().out.split() == ["true", "false"]


def test_concurrent_reservations_of_one_product_reserve_it_once(stack, unique):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: reserve_product(stack.ingress_url, unique, f"{unique}-{n}"), range(8)))
    assert sorted(answers) == [False] * 7 + [True]


def test_products_are_independent(stack, unique):
    assert reserve_product(stack.ingress_url, f"{unique}-x", f"{unique}-1") is True
    assert reserve_product(stack.ingress_url, f"{unique}-y", f"{unique}-2") is True


def test_a_body_is_refused_with_400_before_any_invocation(ingress, unique):
    response = ingress.post(f"/ProductService/{unique}/Reserve", json={"productId": unique})
    assert response.status_code == 400
    assert "body" in response.json()["message"]

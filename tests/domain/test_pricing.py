import re

import pytest

from harness.domain import pricing

REQUIRED = [
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo-0125",
]


def test_table_is_dated_and_sourced():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pricing.PRICES_READ_ON)
    assert "OpenAI" in pricing.SOURCE


@pytest.mark.parametrize("model", REQUIRED)
def test_required_models_are_priced_and_fine_tuned_costs_more(model):
    assert pricing.is_priced(model)
    assert pricing.training_price(model) > 0
    base_in, base_out = pricing.inference_price(model)
    ft_in, ft_out = pricing.inference_price(f"ft:{model}:my-org:helol:AbC123")
    assert 0 < base_in < base_out
    assert ft_in > base_in and ft_out > base_out


def test_published_values():
    assert pricing.training_price("gpt-4o-mini-2024-07-18") == 3.00
    assert pricing.inference_price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert pricing.inference_price("ft:gpt-4o-mini-2024-07-18:org:s:id") == (0.30, 1.20)
    assert pricing.training_price("gpt-4o-2024-08-06") == 25.00
    assert pricing.inference_price("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert pricing.inference_price("ft:gpt-4o-2024-08-06:org:s:id") == (3.75, 15.00)


def test_aliases_map_to_snapshots():
    assert pricing.inference_price("gpt-4o-mini") == pricing.inference_price("gpt-4o-mini-2024-07-18")
    assert pricing.training_price("gpt-4.1-nano") == pricing.training_price("gpt-4.1-nano-2025-04-14")
    assert pricing.inference_price("openai/gpt-4o") == (2.50, 10.00)
    # an ft: id on an alias still resolves to the fine-tuned price of the snapshot
    assert pricing.inference_price("ft:gpt-4o-mini:org::id") == (0.30, 1.20)


def test_mock_fine_tuned_ids_priced_like_the_real_model():
    assert pricing.inference_price("ft:gpt-4o-mini-2024-07-18:mock:helol:0123abcd") == (0.30, 1.20)
    assert pricing.is_priced("ft:gpt-4.1-2025-04-14:mock:x:1")


@pytest.mark.parametrize("model", ["mock-base", "gpt-5-turbo-unknown", "ft:", "ft::org:x:y", "ft:claude-3:org:x:y", ""])
def test_unknown_models_are_none_never_zero(model):
    assert not pricing.is_priced(model)
    assert pricing.training_price(model) is None
    assert pricing.inference_price(model) is None
    assert pricing.training_cost(1000, 3, model) is None
    assert pricing.inference_cost(1000, 1000, model) is None
    assert pricing.format_usd(pricing.training_cost(1000, 3, model)) == "unknown price"


def test_costs():
    assert pricing.training_cost(1_000_000, 3, "gpt-4o-mini-2024-07-18") == pytest.approx(9.0)
    assert pricing.training_cost(1000, 0, "gpt-4o-mini-2024-07-18") == 0.0  # zero epochs is free, not unknown
    assert pricing.inference_cost(1_000_000, 500_000, "gpt-4o-2024-08-06") == pytest.approx(2.50 + 5.00)
    assert pricing.inference_cost(2_000_000, 1_000_000, "ft:gpt-4o-2024-08-06:o:s:i") == pytest.approx(7.50 + 15.00)


def test_format_usd():
    assert pricing.format_usd(0.00123) == "$0.0012"
    assert pricing.format_usd(12.345) == "$12.35"

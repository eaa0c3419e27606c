"""The local engine's sampler: nucleus filtering keeps a valid distribution for every legal top_p."""

import pytest

torch = pytest.importorskip("torch")

from skill_adapter.gateway.inference.engine import SamplingParams, sample_next  # noqa: E402


def logits() -> "torch.Tensor":
    return torch.tensor([[0.0, 3.0, 1.0, 2.0], [5.0, 0.0, 0.0, 0.0]])


@pytest.mark.parametrize("top_p", [0.0, 1e-192, 1e-45, 1e-8])
def test_a_vanishing_top_p_always_keeps_the_most_likely_token(top_p: float) -> None:
    generator = torch.Generator().manual_seed(0)
    params = SamplingParams(max_tokens=1, temperature=1.0, top_p=top_p)
    for _ in range(20):
        assert sample_next(logits(), params, generator, None).tolist() == [1, 0]


def test_top_p_keeps_the_smallest_set_that_reaches_it() -> None:
    generator = torch.Generator().manual_seed(0)
    params = SamplingParams(max_tokens=1, temperature=1.0, top_p=0.9)
    seen = {int(sample_next(logits()[:1], params, generator, None)) for _ in range(300)}
    # softmax([0, 3, 1, 2]) = [.03, .64, .09, .24]: tokens 1 and 3 reach .88 < .9, so 2 joins; 0 never.
    assert seen == {1, 2, 3}


@pytest.mark.parametrize("temperature", [1e-192, 1e-40, 1e-6])
def test_a_vanishing_temperature_is_greedy(temperature: float) -> None:
    generator = torch.Generator().manual_seed(0)
    params = SamplingParams(max_tokens=1, temperature=temperature, frequency_penalty=0.5)
    counts = torch.zeros(2, 4)
    assert sample_next(logits(), params, generator, counts).tolist() == [1, 0]

"""The local sampler: a sample does not depend on what else is in its batch (bit for bit, in
float32 and bfloat16), its attention is the model's own (plain, sliding-window and soft-capped
architectures agree with a forward pass without any cache), batches are padded to sizes whose
products agree, the check that finds those sizes sees a kernel that sums in another order, and
bfloat16 is chosen only where the hardware computes it."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from backends.base import ConfigError  # noqa: E402
from backends.local import kv, loading, sampler  # noqa: E402
from backends.local.sampler import Row, sample  # noqa: E402


def _llama(dtype, hidden=576, heads=9, kv_heads=3, inter=1536, vocab=4096, layers=2, **extra):
    """A random Llama with SmolLM2-135M's widths (so the kernels are the ones that model runs)."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=1024,
        **extra,
    )
    return transformers.LlamaForCausalLM(config).eval().to(dtype)


def _prompts(n: int, seed: int = 1) -> list[list[int]]:
    rnd = random.Random(seed)
    return [[rnd.randrange(5, 4000) for _ in range(rnd.randrange(8, 90))] for _ in range(n)]


def _logits_per_row(monkeypatch, lm, rows, sizes):
    """Sample `rows` together, recording the logits each row's draws were made from."""
    seen: dict[int, list] = {}
    original = sampler.choose

    def spy(logits, chosen_rows, generators):
        for row, values in zip(chosen_rows, logits):
            seen.setdefault(row.seed, []).append(values.float().clone())
        return original(logits, chosen_rows, generators)

    monkeypatch.setattr(sampler, "choose", spy)
    out = sample(lm, rows, frozenset(), 0, sizes)
    monkeypatch.setattr(sampler, "choose", original)
    return out, seen


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_rows_logits_are_the_same_bits_alone_and_in_any_batch(monkeypatch, dtype):
    """Ten rows of different prompt lengths (spans in different buckets), at temperature 1 for
    24 tokens: together, in two other groupings, and each alone, every logit of every step is
    equal bit for bit, so the texts are too."""
    lm = _llama(getattr(torch, dtype))
    sizes = kv.invariant_sizes(lm, 16)
    rows = [Row(p, 24, 1.0, seed) for seed, p in enumerate(_prompts(10))]
    together, logits = _logits_per_row(monkeypatch, lm, rows, sizes)
    for group in (rows[::2], rows[3:7], *[[r] for r in rows[:4]]):
        out, other = _logits_per_row(monkeypatch, lm, group, sizes)
        for row, sampled in zip(group, out):
            assert sampled.tokens == together[rows.index(row)].tokens
            assert all(torch.equal(a, b) for a, b in zip(other[row.seed], logits[row.seed]))


def test_identical_prompts_share_a_prefill_and_still_draw_their_own_samples():
    lm = _llama(torch.float32)
    prompt = _prompts(1)[0]
    out = sample(lm, [Row(prompt, 12, 1.0, seed) for seed in range(6)], frozenset(), 0)
    alone = [sample(lm, [Row(prompt, 12, 1.0, seed)], frozenset(), 0)[0] for seed in range(6)]
    assert [s.tokens for s in out] == [s.tokens for s in alone]
    assert len({tuple(s.tokens) for s in out}) > 1  # the seeds differ, so do the samples


@pytest.mark.parametrize(
    "architecture",
    [
        "llama",
        "mistral-sliding-window",  # a window shorter than the answers: the mask must move with each row
        "gemma2-softcap",  # attention logits soft-capped and alternating sliding layers
        "qwen2",
    ],
)
def test_greedy_samples_match_a_forward_pass_without_cache(architecture):
    """Our cache and attention against the model's own attention over the whole sequence, step
    by step, at temperature 0 (a random model with far-apart logits, so float noise cannot
    flip a choice)."""
    torch.manual_seed(0)
    small = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "vocab_size": 97}
    heads = {"num_attention_heads": 4, "num_key_value_heads": 2, "initializer_range": 0.5}
    if architecture == "llama":
        config = transformers.LlamaConfig(**small, **heads)
    elif architecture == "mistral-sliding-window":
        config = transformers.MistralConfig(**small, **heads, sliding_window=6)
    elif architecture == "gemma2-softcap":
        config = transformers.Gemma2Config(
            **small, **heads, head_dim=16, sliding_window=6, attn_logit_softcapping=5.0, final_logit_softcapping=None
        )
    else:
        config = transformers.Qwen2Config(**small, **heads)
    lm = transformers.AutoModelForCausalLM.from_config(config).eval()
    prompts = [[3, 5, 7], [11, 13, 17, 19, 23, 29, 31, 37, 41], [43]]
    rows = [Row(p, 14, 0.0, 0) for p in prompts]
    ours = sample(lm, rows, frozenset(), 0)
    for prompt, got in zip(prompts, ours):
        ids = list(prompt)
        with torch.inference_mode():
            for _ in range(14):
                logits = lm(input_ids=torch.tensor([ids])).logits[0, -1]
                ids.append(int(logits.argmax()))
        assert got.tokens == ids[len(prompt) :], architecture


def test_batches_are_padded_to_a_size_whose_products_agree():
    lm = _llama(torch.float32)
    rows = [Row(p, 6, 1.0, seed) for seed, p in enumerate(_prompts(3))]
    seen = []
    original = lm.forward

    def counting(*args, **kwargs):
        if isinstance(kwargs.get("kv_rows"), kv.Decode):
            seen.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    lm.forward = counting
    padded = sample(lm, rows, frozenset(), 0, sizes=[4, 8])
    lm.forward = original
    assert set(seen) == {4}  # three live rows and one padding row, every step
    assert [s.tokens for s in padded] == [s.tokens for s in sample(lm, rows, frozenset(), 0)]


def test_the_size_check_finds_a_kernel_that_sums_in_another_order(monkeypatch):
    """A product that adds its terms in reverse for 3 rows (as a kernel for few rows may) is
    told apart by the probe, whose rows cancel a large value across the sum; on random inputs
    the difference would hide under rounding."""
    lm = _llama(torch.bfloat16, hidden=64, heads=4, kv_heads=2, inter=128, vocab=97)
    real = kv.linear
    honest = kv.invariant_sizes(lm, 8)  # this machine's own kernels may differ at some sizes too
    assert 3 in honest or pytest.skip("this machine's kernels already differ at 3 rows")

    def odd(x, weight):
        if x.shape[0] == 3:
            return torch.nn.functional.linear(x.flip(-1), weight.flip(-1))
        return real(x, weight)

    monkeypatch.setattr(kv, "linear", odd)
    assert kv.invariant_sizes(lm, 8) == [m for m in honest if m != 3]


def test_a_model_without_the_attention_interface_is_refused():
    class Legacy(torch.nn.Module):
        config = transformers.LlamaConfig(hidden_size=8, num_attention_heads=2)

        @classmethod
        def _can_set_attn_implementation(cls):
            return False

    with pytest.raises(ValueError, match="AttentionInterface"):
        kv.install(Legacy())


def test_bfloat16_only_where_the_hardware_computes_it(monkeypatch):
    monkeypatch.setattr(loading, "cpu_has_bfloat16", lambda: False)
    assert loading.inference_dtype("cpu") == "float32" and loading.inference_dtype("mps") == "float32"
    assert loading.inference_dtype("cpu", "bfloat16") == "bfloat16"
    monkeypatch.setattr(loading, "cpu_has_bfloat16", lambda: True)
    assert loading.inference_dtype("cpu") == "bfloat16" and loading.inference_dtype("cpu", "float32") == "float32"
    assert loading.inference_dtype("cuda") == "bfloat16"
    with pytest.raises(ConfigError, match="dtype 'half'"):
        loading.inference_dtype("cpu", "half")


def test_the_backend_takes_dtype_and_batch_size_from_the_environment(monkeypatch, tmp_path):
    from backends.local import LocalBackend

    monkeypatch.setenv("HARNESS_LOCAL_DTYPE", "float32")
    monkeypatch.setenv("HARNESS_LOCAL_MAX_BATCH", "24")
    backend = LocalBackend(store_dir=tmp_path)
    assert (backend.dtype, backend.max_batch) == ("float32", 24)
    monkeypatch.setenv("HARNESS_LOCAL_MAX_BATCH", "many")
    with pytest.raises(ConfigError, match="HARNESS_LOCAL_MAX_BATCH='many'"):
        LocalBackend(store_dir=tmp_path)
    monkeypatch.delenv("HARNESS_LOCAL_MAX_BATCH")
    monkeypatch.setenv("HARNESS_LOCAL_DTYPE", "fp8")
    with pytest.raises(ConfigError, match="dtype 'fp8'"):
        LocalBackend(store_dir=tmp_path)


def test_log_probabilities_stay_float32_on_a_cpu_unless_bfloat16_is_asked_for(monkeypatch, tmp_path):
    """The fidelity check passed bfloat16 for sampling but not for reply log-probabilities."""
    from backends.local import LocalBackend

    monkeypatch.setattr(loading, "cpu_has_bfloat16", lambda: True)
    monkeypatch.delenv("HARNESS_LOCAL_DTYPE", raising=False)
    auto = LocalBackend(store_dir=tmp_path)
    assert loading.inference_dtype("cpu", auto.dtype) == "bfloat16" and auto.logprob_dtype("cpu") == "float32"
    assert auto.logprob_dtype("cuda") == "bfloat16"  # a GPU's weights are bfloat16 already
    assert LocalBackend(store_dir=tmp_path, dtype="bfloat16").logprob_dtype("cpu") == "bfloat16"
    assert LocalBackend(store_dir=tmp_path, dtype="float32").logprob_dtype("cpu") == "float32"
    monkeypatch.setattr(loading, "cpu_has_bfloat16", lambda: False)
    assert LocalBackend(store_dir=tmp_path).logprob_dtype("cpu") == "float32"

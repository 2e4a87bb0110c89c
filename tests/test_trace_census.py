"""The meta-device census of a LLaMA-like stack, and the quantization advice it drives."""
from pathlib import Path

import pytest

from advisor.hardware.recommend import recommend
from advisor.hardware.table import lookup
from advisor.modelload import load_models
from advisor.trace import census
from advisor.trace.api import trace_script

LLAMA = Path(__file__).parent / "models" / "llama_like.py"


def _expected(**config) -> int:
    import sys

    sys.path.insert(0, str(LLAMA.parent))
    from llama_like import expected_params

    return expected_params(**config)


def test_7b_is_counted_on_meta_without_allocating():
    (loaded,) = load_models(str(LLAMA), "llama_7b", device="meta")  # time and memory: benchmarks/trace_7b.py
    counted = census.count(loaded.module, loaded.name)
    assert all(p.is_meta for p in loaded.module.parameters())
    assert counted.params == _expected(vocab=32000, dim=4096, hidden=11008, layers=32) == 6_738_681_856
    assert counted.trainable_params == counted.params
    assert counted.linear_params == 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 32000 * 4096
    assert counted.by_module_type[0][0] == "Linear" and dict(counted.by_module_type)["Embedding"] == 32000 * 4096
    assert 0.98 < counted.linear_share < 0.99


def test_tied_and_frozen_weights_and_buffers():
    import torch

    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False), torch.nn.BatchNorm1d(10))
    model[1].weight = model[0].weight
    model[2].weight.requires_grad_(False)
    counted = census.count(model, "tied")
    assert counted.params == 40 + 20  # the tied matrix once, BatchNorm weight and bias
    assert counted.trainable_params == 50 and counted.linear_params == 0  # the Embedding holds the tied weight
    assert counted.buffers == 10 + 10 + 1  # running mean, var, num_batches_tracked


@pytest.mark.parametrize("spec, fits", [("llama_20b", False), ("llama_10m", True)])
def test_census_drives_the_memory_advice(spec, fits):
    result = trace_script(str(LLAMA), spec)
    assert result.errors == [] and result.models[0]["mode"] == "dispatch-meta"
    advice = recommend(lookup("rtx4090"), census=result.census)
    assert advice.plugin is None  # every parameter trains: 4-bit would freeze the nn.Linear weights
    assert advice.fits is fits and advice.memory["params"] == result.census.params
    if fits:
        assert advice.precision == "bf16-mixed"

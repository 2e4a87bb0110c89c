"""The decision table: every row of the hardware table, plain data in, recommendation out."""
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.facts import Argument, ModelCensus, OpSite, PluginCall, Setting, Span
from advisor.hardware import recommend
from advisor.hardware.recommend import recommend as advise
from advisor.hardware.table import lookup, table

# What each row must get, written out by hand (a new row must be added here too).
EXPECTED = {
    "v100-16gb": "16-mixed", "v100-32gb": "16-mixed", "t4": "16-mixed", "rtx2080ti": "16-mixed",
    "a100-40gb": "bf16-mixed", "a100-80gb": "bf16-mixed", "a10": "bf16-mixed", "rtx3090": "bf16-mixed",
    "rtx4090": "bf16-mixed", "l4": "bf16-mixed", "l40s": "bf16-mixed", "h100-sxm": "bf16-mixed",
    "h100-pcie": "bf16-mixed", "h200": "bf16-mixed", "b200": "bf16-mixed", "gb200": "bf16-mixed",
    "rtx5090": "bf16-mixed", "mi250x": "bf16-mixed", "mi300x": "bf16-mixed",
    "mps": "16-mixed", "cpu": "32-true", "cpu-bf16": "bf16-mixed",
}
ROWS = table()
ids = [gpu.key for gpu in ROWS]
SPAN = Span(1, 1, 1, 2)
SMALL = ModelCensus("small", 1_000_000_000, 1_000_000_000, 900_000_000)
LLM_70B = ModelCensus("llama-70b", 70_000_000_000, 70_000_000_000, 66_500_000_000)
CONVNET = ModelCensus("convnet", 70_000_000_000, 70_000_000_000, 7_000_000_000)
LORA_70B = ModelCensus("llama-70b-lora", 70_000_000_000, 100_000_000, 66_500_000_000)
SCATTER = OpSite(op="torch.scatter_add", path="m.py", span=SPAN, kind="function")


def setting(**fields) -> Setting:
    return Setting(kind="Trainer", path="train.py", callee="lightning.pytorch.Trainer", span=SPAN,
                   call_span=SPAN, **fields)


def test_expected_covers_the_whole_table():
    assert set(EXPECTED) == set(ids)


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_precision_by_device(gpu):
    rec = advise(gpu)
    assert rec.precision == EXPECTED[gpu.key]
    assert rec.plugin is None and rec.reasons
    data = rec.to_json()
    assert data["precision"] == rec.precision and data["plugin"] is None and data["target"] == gpu.key
    dtype = recommend.MATMUL_DTYPE[rec.precision]
    assert data["throughput"]["dense_tflops"] == gpu.tflops.get(dtype)


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_never_bf16_below_ampere(gpu):
    if gpu.kind == "cuda" and gpu.compute_capability < (8, 0):
        rec = advise(gpu, census=SMALL, te_available=True)
        assert "bf16" not in rec.precision and "emulated" in rec.reasons[0]


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
@pytest.mark.parametrize("ops", [True, [SCATTER]], ids=["flag", "sites"])
def test_fp32_ops_keep_a_mixed_precision(gpu, ops):
    rec = advise(gpu, ops=ops)
    assert rec.precision in ("32-true",) or rec.precision.endswith("-mixed")
    assert rec.precision == EXPECTED[gpu.key]
    assert any("FP32-required ops" in reason for reason in rec.reasons)
    if ops is not True:
        assert any("torch.scatter_add" in reason for reason in rec.reasons)


def test_ops_already_in_an_fp32_region_do_not_count():
    inside = OpSite(op="torch.scatter_add", path="m.py", span=SPAN, kind="function", in_fp32_region=True)
    assert not any("FP32" in reason for reason in advise(lookup("a100"), ops=[inside]).reasons)


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_small_model_is_never_quantized(gpu):
    rec = advise(gpu, census=SMALL)
    assert rec.plugin is None
    assert rec.precision in (EXPECTED[gpu.key], recommend.TRUE_OF.get(EXPECTED[gpu.key]))
    assert rec.memory["candidates"]["32-true"] == pytest.approx(1e9 * 16 / 2**30, abs=0.01)


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_large_full_fine_tune_is_never_quantized(gpu):
    """The plugin freezes every nn.Linear: a full fine-tune gets no 4-bit pick, but the change that would fit."""
    rec = advise(gpu, census=LLM_70B)
    assert rec.plugin is None
    if gpu.memory_gib is None:
        assert rec.fits is None and rec.precision == EXPECTED[gpu.key]
        return
    assert rec.fits is False and any("nothing fits" in reason for reason in rec.reasons)
    assert rec.changes and rec.changes[0]["change"] == "devices"


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
@pytest.mark.parametrize("strategy,ways", [("fsdp", 8), ("deepspeed_stage_3", 8), ("ddp", 1)])
def test_sharding_strategies_divide_every_estimate(gpu, strategy, ways):
    rec = advise(gpu, census=LORA_70B, devices=8, strategy=strategy)
    single = advise(gpu, census=LORA_70B)
    assert rec.memory["sharding"]["ways"] == ways
    for mode in ("nf4", "bf16-true"):
        if mode in single.memory["candidates"] and strategy == "fsdp":
            assert rec.memory["candidates"][mode] == pytest.approx(single.memory["candidates"][mode] / 8, abs=0.02)


def test_settings_give_the_strategy_and_devices():
    rec = advise(lookup("h100"), settings=[setting(strategy="fsdp", devices="8")], census=LORA_70B)
    assert rec.memory["sharding"] == {"name": "fsdp", "ways": 8, "weights": True, "grads": True, "optimizer": True,
                                      "offload_optimizer": False}
    assert rec.plugin is None and rec.precision == "bf16-mixed" and rec.fits


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_transformer_engine_mentioned_only_where_it_runs(gpu):
    heavy = ModelCensus("gpt", 1_000_000_000, 1_000_000_000, 900_000_000)
    rec = advise(gpu, census=heavy, te_available=True)
    assert ("transformer-engine" in rec.alternatives) == (gpu.kind == "cuda" and gpu.fp8)
    assert rec.precision in (EXPECTED[gpu.key], recommend.TRUE_OF.get(EXPECTED[gpu.key]))  # 1B on 16 GB: -true
    assert "transformer-engine" not in advise(gpu, census=heavy, te_available=False).alternatives
    assert "transformer-engine" not in advise(gpu, census=CONVNET, te_available=True).alternatives
    assert "transformer-engine" not in advise(gpu, census=heavy, te_available=True, strategy="fsdp",
                                              devices=2).alternatives


def test_model_parallel_on_volta_stays_fp32():
    assert advise(lookup("v100"), strategy="ModelParallelStrategy").precision == "32-true"
    assert advise(lookup("a100"), strategy="ModelParallelStrategy").precision == "bf16-mixed"


def test_inference_prefers_int8():
    rec = advise(lookup("a100"), census=ModelCensus("m", 20_000_000_000, 0, 19_000_000_000),
                 config={"task": "inference"})
    assert rec.plugin.mode == "int8" and rec.plugin.dtype == "torch.float16"


def test_few_linear_parameters_are_warned_about():
    few = ModelCensus("convnet", 40_000_000_000, 10_000_000, 16_000_000_000)  # 40% in nn.Linear
    rec = advise(lookup("a100-80gb"), census=few, init_module=True)
    assert rec.plugin is not None and rec.fits
    assert any("only 40%" in reason for reason in rec.reasons)


def test_existing_ignore_modules_are_kept():
    ignore = Argument("ignore_modules", '{"model.lm_head"}', SPAN)
    call = PluginCall("lightning.pytorch.plugins.BitsandbytesPrecision", SPAN, {"ignore_modules": ignore})
    rec = advise(lookup("t4"), settings=[setting(plugin_calls=[call])], census=LORA_70B, devices=8, strategy="fsdp")
    assert rec.plugin.ignore_modules == ("model.lm_head",)


@pytest.mark.parametrize("text,count", [("4", 4), ("'2'", 2), ("[0, 1, 2]", 3), ("auto", 1), ("-1", 1), (None, 1)])
def test_device_count(text, count):
    assert recommend.device_count(text) == count


@pytest.mark.parametrize("gpu", ROWS, ids=ids)
def test_profile_lists_every_mode(gpu):
    rows = {row["mode"]: row for row in recommend.precision_profile(gpu)}
    assert set(rows) == set(recommend.PRECISIONS + recommend.BNB_MODES)
    assert rows["bf16-mixed"]["support"] == ("native" if gpu.bf16_native else "emulated")
    assert (rows["nf4"]["support"] == "unsupported") == (gpu.kind not in ("cuda", "rocm"))
    assert rows["32-true"]["weights_gib_per_billion"] == 3.73
    assert rows["bf16-mixed"]["training_gib_per_billion"] == pytest.approx(16 / 1.073741824 + 2 / 1.073741824, abs=0.01)
    assert rows["nf4"]["matmul_tflops"] is None and rows["nf4"]["relative_to_fp32"] is None


def test_pure_modules_import_no_torch():
    code = ("import sys; import advisor.hardware.recommend, advisor.checks.hardware, advisor.hardware.table, "
            "advisor.commands.env, advisor.hardware.detect; "
            "print(sorted(m for m in ('torch', 'lightning', 'bitsandbytes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"

"""PrecisionAdvisor's runtime findings (PRC5xx) and its live optimizer, in real Lightning fits on CPU.

fp16 with a real `torch.amp.GradScaler("cpu")` runs on CPU through Lightning's MixedPrecision plugin
(`callback_fits.fp16`); bf16-mixed needs no scaler.
"""
import json
import sys
import warnings
from pathlib import Path

import jsonschema
import pytest
import torch

from advisor import PrecisionAdvisor, PrecisionAdvisorError, PrecisionAdvisorWarning
from advisor.callback import optimizer_of
from advisor.facts import ModelCensus
from advisor.hardware import memory

from conftest import ROOT

MODELS = Path(__file__).parent / "models"
sys.path.insert(0, str(MODELS))
import callback_fits  # noqa: E402
from callback_fits import LargeGradients, Overflow, SqrtOfNegative, Wide, data, fp16, trainer  # noqa: E402

SOURCE = (MODELS / "callback_fits.py").read_text().splitlines()
SQRT_LINE = next(i for i, line in enumerate(SOURCE, 1) if "torch.sqrt(self.lin(x))" in line)
OVERFLOW_LINE = next(i for i, line in enumerate(SOURCE, 1) if "self.lin(x).mul(1e5).pow(2)" in line)
_LARGE = next(i for i, line in enumerate(SOURCE, 1) if "class LargeGradients" in line)
LARGE_STEP = next(i for i, line in enumerate(SOURCE[_LARGE:], _LARGE + 1) if "def training_step" in line)


def _fit(model, tmp_path, trainer_options=None, **options):
    advisor = PrecisionAdvisor(**options)
    run = trainer(advisor, str(tmp_path), **(trainer_options or {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run.fit(model, data())
        finally:
            shown = [str(w.message) for w in caught if issubclass(w.category, PrecisionAdvisorWarning)]
    return advisor, run, shown


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def test_a_nan_loss_stops_a_strict_bf16_run_before_its_optimizer_step_at_the_line_that_made_it(tmp_path):
    model = SqrtOfNegative()
    before = _weights(model)
    advisor = PrecisionAdvisor(strict=True)
    with pytest.raises(PrecisionAdvisorError, match=f"^PRC501 at .*callback_fits.py:{SQRT_LINE}: the loss of "
                                                    "training step 1 is nan under bf16-mixed: the first non-finite "
                                                    r"value came from `aten.sqrt.default` \(torch.bfloat16\) on this "
                                                    "line.* stopped the run in training step 1, before its optimizer"):
        trainer(advisor, str(tmp_path)).fit(model, data())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    (finding,) = json.loads(Path(advisor.report_path).read_text())["findings"]
    assert (finding["code"], finding["line"], finding["severity"], finding["source"]) == \
        ("PRC501", SQRT_LINE, "error", "run")


def test_an_fp16_overflow_is_one_warning_at_its_line_and_the_run_goes_on(tmp_path):
    advisor, run, shown = _fit(Overflow(), tmp_path, fp16())
    assert run.global_step == 3 and advisor not in run.callbacks
    assert shown == [f"{callback_fits.__file__}:{OVERFLOW_LINE}: PRC501 the loss of training step 1 is inf under "
                     "16-mixed: the first non-finite value came from `aten.mul.Tensor` (torch.float16) on this line; "
                     "an fp16 value above 65504 becomes inf: compute large values and the loss in fp32 (`.float()`, "
                     "or autocast disabled) or train in bf16-mixed"]  # one warning: its skipped step is no PRC502
    report = json.loads(Path(advisor.report_path).read_text())
    assert [(f["code"], f["line"]) for f in report["findings"]] == [("PRC501", OVERFLOW_LINE)]
    jsonschema.validate(report, json.loads((ROOT / "docs" / "check-output.schema.json").read_text()))


def test_a_gradscaler_skipping_at_scale_1_stops_a_strict_fp16_run_with_the_weights_untouched(tmp_path):
    model = LargeGradients(1e7)  # gradients of 1e7 / 64 overflow fp16 unscaled
    before = _weights(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=1.0)
    with pytest.raises(PrecisionAdvisorError, match=rf"^PRC502 at .*callback_fits.py:{LARGE_STEP}: the GradScaler "
                                                    r"skipped optimizer step 1 under 16-mixed \(inf/NaN gradients; "
                                                    r"scale 1 -> 0.5\): the gradients overflow fp16 without"):
        _fit(model, tmp_path, fp16(scaler), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_skips_while_the_scaler_calibrates_are_info_and_a_strict_run_goes_on(tmp_path):
    advisor, run, shown = _fit(LargeGradients(100.0), tmp_path, fp16(), strict=True)
    assert run.global_step == 3  # Lightning counts the skipped step as a step
    assert [(f.code, f.severity, f.line) for f in advisor.findings] == [("PRC502", "info", LARGE_STEP)]
    assert shown == [f"{callback_fits.__file__}:{LARGE_STEP}: PRC502 the GradScaler skipped optimizer step 1 under "
                     "16-mixed (inf/NaN gradients; scale 65536 -> 32768): expected while the scaler calibrates in "
                     "the first steps; a run that keeps skipping never trains"]


def test_the_memory_estimate_counts_the_live_optimizer(tmp_path):
    """SGD without momentum keeps no state, Adam two fp32 states per parameter: the report's breakdown says so."""
    estimates = {}
    for optimizer in (torch.optim.SGD, torch.optim.Adam):
        advisor, _, _ = _fit(Wide(optimizer), tmp_path / optimizer.__name__, {"precision": "32-true"})
        report = json.loads(Path(advisor.report_path).read_text())
        estimates[optimizer.__name__] = report["recommendation"]["memory"]["breakdown"]["32-true"]
        assert report["run"]["optimizer"]["name"] == optimizer.__name__
        params = report["run"]["params"]
    census = ModelCensus("Wide", params, params, params)
    for name, states in (("SGD", 0), ("Adam", 2)):
        expected = memory.estimate(memory.Training(census, memory.Optimizer(name, states)), "32-true").breakdown()
        assert estimates[name] == expected
    assert estimates["Adam"]["optimizer"] == 0.03 and estimates["SGD"]["optimizer"] == 0.0


def test_live_optimizers_are_counted_by_class_and_settings():
    import bitsandbytes as bnb

    params = [torch.nn.Parameter(torch.zeros(4))]
    assert optimizer_of([torch.optim.SGD(params, lr=0.1, momentum=0.9)]).states == 1
    assert optimizer_of([torch.optim.AdamW(params)]).bytes_per_param(4) == 8
    for eight_bit in (bnb.optim.Adam8bit(params), bnb.optim.Adam(params, optim_bits=8)):
        assert (optimizer_of([eight_bit]).states, optimizer_of([eight_bit]).state_bytes) == (2, 1)
    assert optimizer_of([bnb.optim.PagedAdamW(params)]).paged
    assert optimizer_of([]).assumed

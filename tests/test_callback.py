"""PrecisionAdvisor in real Lightning fits on CPU: bf16-mixed autocast stands in for the GPU."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from advisor import PrecisionAdvisor, PrecisionAdvisorError, PrecisionAdvisorWarning

from conftest import ROOT

MODELS = Path(__file__).parent / "models"
sys.path.insert(0, str(MODELS))
import callback_fits  # noqa: E402
from callback_fits import Clean, Scatter, data, trainer  # noqa: E402

SCATTER_LINE = next(i for i, line in enumerate((MODELS / "callback_fits.py").read_text().splitlines(), 1)
                    if "dtype=h.dtype, device=h.device).scatter_add_(" in line)


def _fit(model, tmp_path, **options):
    advisor = PrecisionAdvisor(**options)
    run = trainer(advisor, str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.fit(model, data())
    return advisor, run, [w for w in caught if issubclass(w.category, PrecisionAdvisorWarning)]


def test_a_bf16_scatter_is_reported_at_its_line_and_the_run_goes_on(tmp_path):
    advisor, run, caught = _fit(Scatter(), tmp_path)
    assert run.global_step == 3
    (warning,) = caught
    assert str(warning.message).startswith(f"{callback_fits.__file__}:{SCATTER_LINE}: PRC201 ")
    assert "observed running in bfloat16" in str(warning.message)
    assert advisor not in run.callbacks  # removed after the recorded step: later steps pay nothing
    report = json.loads(Path(advisor.report_path).read_text())
    assert Path(advisor.report_path).parent == Path(run.log_dir)
    assert [(f["code"], f["line"]) for f in report["findings"]] == [("PRC201", SCATTER_LINE)]
    assert report["version"] == 1 and report["run"]["precision"] == "bf16-mixed"
    assert report["run"]["params"] == 72 and report["run"]["device"] == "cpu"


def test_strict_stops_before_the_first_optimizer_step(tmp_path):
    model = Scatter()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(PrecisionAdvisorError, match=f"PRC201 at .*callback_fits.py:{SCATTER_LINE}"):
        _fit(model, tmp_path, strict=True)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_clean_model_gives_no_warning_and_completes(tmp_path):
    advisor, run, caught = _fit(Clean(), tmp_path, strict=True)
    assert caught == [] and advisor.findings == [] and run.global_step == 3


class BrokenAdvisor(PrecisionAdvisor):
    """A recorder that fails on its first op, as a bug in it would."""

    def _start_recording(self):
        super()._start_recording()
        self._recorder.sites.add = lambda site: 1 / 0


def test_an_error_inside_the_recorder_is_one_warning_not_a_crash(tmp_path):
    advisor = BrokenAdvisor()
    run = trainer(advisor, str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.fit(Scatter(), data())
    (warning,) = [w for w in caught if issubclass(w.category, PrecisionAdvisorWarning)]
    assert "PrecisionAdvisor stopped itself, the run goes on: ZeroDivisionError" in str(warning.message)
    assert run.global_step == 3 and advisor not in run.callbacks


def test_ddp_on_two_cpu_processes_reports_once(tmp_path):
    result = subprocess.run([sys.executable, str(MODELS / "callback_fits.py"), "ddp"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("done: 1 finding(s)") == 2  # both ranks judged the step
    assert result.stderr.count("PrecisionAdvisorWarning") == 1  # rank zero reported it


def test_import_advisor_stays_free_of_torch_and_lightning():
    code = ("import sys, advisor, advisor.commands.cli; assert 'torch' not in sys.modules "
            "and 'lightning' not in sys.modules; from advisor import PrecisionAdvisor; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)


def test_the_pytorch_lightning_namespace_gets_its_own_class(tmp_path):
    import pytorch_lightning as pl

    from advisor.callback import for_pytorch_lightning

    advisor = for_pytorch_lightning()()
    assert isinstance(advisor, pl.Callback)
    pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_progress_bar=False, enable_checkpointing=False,
               default_root_dir=str(tmp_path), callbacks=[advisor])


def test_a_live_bitsandbytes_plugin_goes_through_the_hardware_rules():
    """Lightning refuses bitsandbytes off CUDA, so the live plugin object is judged for a V100 directly."""
    from lightning.pytorch.plugins import BitsandbytesPrecision

    from advisor.callback import setting_of
    from advisor.catalogue import load_catalogue
    from advisor.checks.hardware import hardware_findings
    from advisor.facts import ModelCensus
    from advisor.hardware.recommend import recommend
    from advisor.hardware.table import lookup

    plugin = BitsandbytesPrecision("nf4", dtype=torch.bfloat16)
    setting = setting_of("bf16-mixed", plugin, "gpu", 1, "SingleDeviceStrategy", "fit.py", 7)
    assert setting.plugin_calls[0].arguments["mode"].value == "nf4"
    v100, census = lookup("v100"), ModelCensus("m", 7_000_000_000, 7_000_000_000, 6_900_000_000)
    advice = recommend(v100, [setting], (), census, devices=1)
    codes = {f.code for f in hardware_findings([setting], v100, advice, load_catalogue(), census)}
    assert "PRC308" in codes  # bnb computing in bf16, emulated below Ampere

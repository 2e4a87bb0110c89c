"""Advice you can act on, through the CLI and the public API: findings and the recommendation agree,
no GPU advice without a GPU, no silent pass, and the optimizer the code builds sizes the memory."""
import json
import os
import sys
from pathlib import Path

import pytest

from advisor.api import check_text
from advisor.config import Config
from advisor.facts import ModelCensus
from advisor.hardware.table import lookup

from conftest import ROOT, run_cli

BNB = "from lightning.pytorch.plugins import BitsandbytesPrecision\n"
LORA_7B = ModelCensus("7b-lora", 6_742_000_000, 4_000_000, 6_476_000_000)
FULL_7B = ModelCensus("7b", 6_738_000_000, 6_738_000_000, 6_476_000_000)


def codes(report):
    return [f.code for f in report.findings]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- the recommendation and the findings agree --------------------------------------------

def test_lora_with_nf4_on_a_24_gb_card_prc301_and_the_pick_agree():
    """The issue's case: the 16-bit setting PRC301 points to is the recommendation, and it fits."""
    code = "import lightning as L\n" + BNB + "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4'))\n"
    report = check_text(code, "train.py", target=lookup("rtx4090"), census=LORA_7B)
    rec = report.recommendation
    prc301 = next(f for f in report.findings if f.code == "PRC301")
    assert rec.precision == "bf16-true" and rec.plugin is None and rec.fits
    assert "precision='bf16-true' fits" in prc301.message
    assert rec.memory["candidates"]["bf16-true"] <= rec.memory["budget_gib"]
    assert any("replace plugins=BitsandbytesPrecision" in reason for reason in rec.reasons)


def test_full_fine_tune_with_nf4_gets_no_prc301_when_nothing_16_bit_fits():
    code = "import lightning as L\n" + BNB + "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4'))\n"
    report = check_text(code, "train.py", target=lookup("rtx4090"), census=FULL_7B)
    assert "PRC301" not in codes(report)
    assert report.recommendation.fits is False and report.recommendation.changes


def test_plugin_and_precision_on_a_t4_get_one_fix_plan(tmp_path):
    """PRC104 removes precision=; no PRC121 rewrite of the same argument, in Python and in YAML."""
    code = ("import torch\nimport lightning as L\n" + BNB +
            "trainer = L.Trainer(precision='bf16-mixed', plugins=BitsandbytesPrecision(mode='nf4', "
            "dtype=torch.float16))\n")
    script = write(tmp_path, "train.py", code)
    found = json.loads(run_cli("check", script, "--gpu", "t4", "--format", "json").stdout)
    assert sorted(f["code"] for f in found["findings"]) == ["PRC104"]
    done = run_cli("check", script, "--gpu", "t4", "--fix")
    assert "not applied" not in done.stdout + done.stderr
    assert "precision=" not in script.read_text().split("Trainer(")[1]
    config = write(tmp_path, "config.yaml", "trainer:\n  precision: bf16-mixed\n  plugins:\n"
                   "    - class_path: lightning.pytorch.plugins.BitsandbytesPrecision\n"
                   "      init_args:\n        mode: nf4\n")
    found = json.loads(run_cli("check", config, "--gpu", "t4", "--format", "json").stdout)
    assert "PRC121" not in [f["code"] for f in found["findings"]]
    run_cli("check", config, "--gpu", "t4", "--fix")
    assert "precision: bf16-mixed" in config.read_text()  # never rewritten next to the plugin


def test_quantized_pick_keeps_the_code_plugin_and_shards(tmp_path):
    code = ("import lightning as L\n" + BNB + "trainer = L.Trainer(accelerator='gpu', devices=8, strategy='fsdp', "
            "plugins=BitsandbytesPrecision(mode='nf4'))\n")
    census = ModelCensus("60b-lora", 60_000_000_000, 30_000_000, 57_600_000_000)
    rec = check_text(code, "train.py", target=lookup("h100"), census=census).recommendation
    assert rec.memory["sharding"]["ways"] == 8
    assert rec.memory["candidates"]["nf4"] < 5  # 33.5 GiB / 8, not the whole model per device


# ---- no GPU, no GPU advice --------------------------------------------------------------

def test_detect_without_a_gpu_gives_no_gpu_advice(tmp_path):
    script = write(tmp_path, "train.py", "import lightning as L\n"
                   "trainer = L.Trainer(accelerator='gpu', precision='transformer-engine')\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT)}  # no nvidia-smi
    text = run_cli("check", script, "--detect", env=env)
    assert "no GPU detected" in text.stdout and "--gpu NAME" in text.stdout
    assert "Recommendation: none for this target" in text.stdout
    data = json.loads(run_cli("check", script, "--detect", "--format", "json", env=env).stdout)
    assert data["recommendation"]["precision"] is None
    assert not [f for f in data["findings"] if f["fix"] and f["fix"]["applicability"] == "recommended"]
    assert run_cli("check", script, "--detect", "--diff", env=env).stdout == ""
    assert "transformer-engine" in script.read_text()


# ---- no silent pass -----------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "L.Trainer(precision=PRECISION)", "L.Trainer(precision=args.precision)", "L.Trainer(**cfg)",
    "L.Trainer(precision=get())", "L.Fabric(precision=cfg['precision'])",
])
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_a_precision_the_checker_cannot_read_is_reported_in_every_format(tmp_path, call, fmt):
    script = write(tmp_path, "train.py", f"import lightning as L\nPRECISION = choose()\n{call}\n")
    done = run_cli("check", script, "--format", fmt)
    assert done.returncode == 1 and "PRC112" in done.stdout and "not checked" in done.stdout


def test_constants_and_parameter_defaults_are_read_like_literals(tmp_path):
    script = write(tmp_path, "train.py", "import lightning as L\nPRECISION = 16\n"
                   "def fit(precision='bf16'):\n    L.Trainer(precision=precision)\n"
                   "L.Trainer(precision=PRECISION)\n")
    data = json.loads(run_cli("check", script, "--format", "json").stdout)
    assert sorted((f["code"], f["line"]) for f in data["findings"]) == [("PRC101", 2), ("PRC101", 3)]
    assert [s["normalized"] for s in data["settings"]] == ["bf16-mixed", "16-mixed"]
    run_cli("check", script, "--fix")
    assert "PRECISION = \"16-mixed\"" in script.read_text() and "precision='bf16-mixed'" in script.read_text()


def test_a_rebound_name_is_not_guessed():
    report = check_text("import lightning as L\nP = '16'\nP = other()\nL.Trainer(precision=P)\n", "t.py")
    assert codes(report) == ["PRC112"]


def test_invalid_bnb_mode_is_an_error_with_the_closest_mode():
    report = check_text("import lightning as L\n" + BNB + "L.Trainer(plugins=BitsandbytesPrecision(mode='nf5'))\n",
                        "t.py")
    finding = next(f for f in report.findings if f.code == "PRC310")
    assert finding.severity == "error" and '"nf4"' in finding.message and finding.fix.applicability == "safe"


def test_prc308_names_an_explicit_dtype():
    code = "import torch\nimport lightning as L\n" + BNB + \
        "L.Trainer(plugins=BitsandbytesPrecision(mode='nf4', dtype=torch.bfloat16))\n"
    message = next(f.message for f in check_text(code, "t.py", target=lookup("v100")).findings if f.code == "PRC308")
    assert "dtype=torch.bfloat16 is emulated" in message and "defaults" not in message


def test_prc203_speaks_of_the_cpu_on_a_cpu_accelerator():
    code = ("import torch\nimport lightning as L\nclass K(L.LightningModule):\n    def forward(self, p):\n"
            "        return torch.linalg.inv(p)\nL.Trainer(accelerator='{}', precision='bf16-true')\n")
    cpu = next(f.message for f in check_text(code.format("cpu"), "t.py").findings if f.code == "PRC203")
    gpu = next(f.message for f in check_text(code.format("gpu"), "t.py").findings if f.code == "PRC203")
    assert "CPU has no fp16/bf16 kernels" in cpu and "CUDA" not in cpu.split(";")[0]
    assert "CUDA has no fp16/bf16 kernels" in gpu


def test_yaml_amp_backend_is_flagged_like_python(tmp_path):
    config = write(tmp_path, "config.yaml", "trainer:\n  precision: 16-mixed\n  amp_backend: apex\n  amp_level: O2\n")
    data = json.loads(run_cli("check", config, "--format", "json").stdout)
    assert [(f["code"], f["line"]) for f in data["findings"]] == [("PRC105", 3), ("PRC105", 4)]


@pytest.mark.parametrize("call", ["L.Trainer(precision='16-true')", "Fabric(precision='16-true')"])
def test_prc408_covers_true_fp16_settings(call):
    code = ("import torch\nimport lightning as L\nfrom lightning.fabric import Fabric\n"
            f"opt = torch.optim.Adam(params)\n{call}\n")
    assert "PRC408" in codes(check_text(code, "t.py"))
    assert "PRC408" not in codes(check_text(code.replace("16-true", "bf16-true"), "t.py"))


# ---- what the code builds sizes the memory ------------------------------------------------

MODULE = ("import torch\nimport lightning as L\n{imports}class M(L.LightningModule):\n"
          "    def configure_optimizers(self):\n        return {optimizer}\n"
          "trainer = L.Trainer(accelerator='gpu', precision='bf16-mixed')\n{build}")


@pytest.mark.parametrize("imports, optimizer, name, states", [
    ("", "torch.optim.SGD(self.parameters(), lr=0.1)", "SGD", 0),
    ("", "torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)", "SGD with momentum", 1),
    ("import bitsandbytes as bnb\n", "bnb.optim.PagedAdamW8bit(self.parameters())", "PagedAdamW8bit", 2),
    ("from transformers.optimization import Adafactor\n", "Adafactor(self.parameters())", "Adafactor", 0),
    ("", "make_optimizer(self)", "Adam", 2),
])
def test_the_optimizer_in_configure_optimizers_sizes_the_states(imports, optimizer, name, states):
    code = MODULE.format(imports=imports, optimizer=optimizer, build="")
    rec = check_text(code, "t.py", target=lookup("a100-80gb"), census=FULL_7B).recommendation
    assert (rec.memory["optimizer"]["name"], rec.memory["optimizer"]["states"]) == (name, states)
    assert rec.memory["optimizer"]["assumed"] == (name == "Adam")
    assert any("Adam assumed" in reason for reason in rec.reasons) == (name == "Adam")


def test_init_module_builds_the_unquantized_rest_in_16_bit():
    census = ModelCensus("m", 20_000_000_000, 10_000_000, 14_000_000_000)
    plain = MODULE.format(imports="", optimizer="torch.optim.AdamW(self.parameters())", build="")
    built = plain + "with trainer.init_module():\n    model = M()\n"
    before = check_text(plain, "t.py", target=lookup("a10"), census=census).recommendation.memory
    after = check_text(built, "t.py", target=lookup("a10"), census=census).recommendation.memory
    assert (before["init_module"], after["init_module"]) == (False, True)
    assert after["breakdown"]["nf4"]["weights"] < before["breakdown"]["nf4"]["weights"]


def test_memory_json_has_the_breakdown(tmp_path):
    code = MODULE.format(imports="", optimizer="torch.optim.AdamW(self.parameters())", build="")
    rec = check_text(code, "t.py", target=lookup("a100-80gb"), census=FULL_7B).recommendation.to_json()
    mem = rec["memory"]
    assert rec["precision"] == "bf16-true" and rec["fits"] is True and mem["chosen"] == "bf16-true"
    assert set(mem["breakdown"]["bf16-mixed"]) == {"weights", "grads", "optimizer", "cache", "trainable_params"}
    assert mem["breakdown"]["bf16-mixed"]["cache"] > 0 and mem["breakdown"]["bf16-true"]["cache"] == 0
    assert mem["budget_gib"] == 64.0 and any("activations" in a for a in mem["assumptions"])
    assert rec["throughput"]["speedup_vs_tf32"] == 2.0 and rec["throughput"]["speedup_vs_32_true"] == 16.0


def test_bitsandbytes_throughput_claims_no_tensor_core_rate():
    census = ModelCensus("70b-lora", 70_000_000_000, 50_000_000, 67_000_000_000)
    rec = check_text("import lightning as L\nL.Trainer(accelerator='gpu', precision='bf16-mixed')\n", "t.py",
                     target=lookup("h100"), census=census, config=Config()).recommendation
    assert rec.plugin is not None
    assert rec.throughput["dense_tflops"] is None and rec.throughput["speedup_vs_32_true"] is None
    assert "slower than 16-bit" in rec.throughput["note"]

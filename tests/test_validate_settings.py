"""The user's run reproduced: Trainer arguments read from the script, as this machine runs them,
the precision Lightning actually ran, and the device chores (memory cap) in a real child."""
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.validate.machine import target_for
from advisor.validate.runner import effective_precision, trainer_arguments
from advisor.validate.script import ScriptError, read_settings

ROOT = Path(__file__).resolve().parents[1]

USER_RUN = """\
import lightning as L
import torch

torch.backends.cuda.matmul.allow_tf32 = False


def main(args):
    torch.set_float32_matmul_precision("high")
    trainer = L.Trainer(precision=16, gradient_clip_val=0.5, gradient_clip_algorithm="value",
                        accumulate_grad_batches=4, strategy="ddp", devices=2, num_nodes=4, deterministic=True,
                        benchmark=False, max_epochs=args.epochs, limit_train_batches=args.limit)
    trainer.fit(None)
"""


def test_the_first_trainer_call_and_the_last_matmul_setting_are_carried(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(USER_RUN)
    settings = read_settings(str(script))
    assert settings.trainer == {"gradient_clip_val": 0.5, "gradient_clip_algorithm": "value",
                                "accumulate_grad_batches": 4, "strategy": "ddp", "devices": 2,
                                "deterministic": True, "benchmark": False}
    assert settings.not_carried == [{"argument": "num_nodes", "value": 4, "reason": "validate runs on one node"}]
    assert settings.precision == "16-mixed"  # the legacy 16, as Lightning 2.x reads it
    assert (settings.matmul_precision, settings.matmul_source) == ("high", "train.py:8")
    assert settings.to_json()["matmul_precision"] == {"value": "high", "source": "train.py:8"}


def test_computed_values_are_listed_not_guessed(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import lightning as L\nclip = 1.0\nL.Trainer(gradient_clip_val=clip, devices=1)\n")
    settings = read_settings(str(script))
    assert settings.trainer == {"devices": 1} and settings.precision is None
    assert settings.not_carried == [{"argument": "gradient_clip_val", "value": "clip",
                                     "reason": "not a literal; validate cannot evaluate it"}]
    assert settings.to_json()["matmul_precision"] == {"value": "highest", "source": "torch default"}


@pytest.mark.parametrize("name, content, message", [
    ("notes.txt", "meeting notes: try bf16\n", "notes.txt:1: not a Python script (invalid syntax)"),
    ("missing.py", None, "missing.py: no such file"),
    ("folder", "dir", "folder: is a directory"),
])
def test_what_is_not_a_python_script_is_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ScriptError) as error:
        read_settings(str(path))
    assert str(error.value) == f"{tmp_path}/{message}"


def test_strategies_this_machine_cannot_run_are_adapted_and_said():
    assert trainer_arguments({"strategy": "ddp", "devices": 2}, "cpu") == ({"strategy": "ddp", "devices": 2}, [])
    args, notes = trainer_arguments({"strategy": "fsdp", "devices": 2}, "cpu")
    assert args == {"devices": 2} and notes == ["strategy='fsdp' needs CUDA GPUs; ran without it on cpu"]
    assert trainer_arguments({"strategy": "fsdp"}, "cuda") == ({"strategy": "fsdp"}, [])  # passed through on GPUs
    args, notes = trainer_arguments({"strategy": "ddp_spawn"}, "cpu")
    assert args == {"strategy": "ddp"} and "ran as 'ddp'" in notes[0]


@pytest.mark.parametrize("requested, plugin, ran", [
    ("16-mixed", None, "bf16-mixed"),  # Lightning's CPU fallback, with a warning
    ("bf16-true", None, "bf16-true"),
    ("32-true", None, "32-true"),
    (None, ("bf16-mixed", "cuda"), "32-true"),  # autocast for another device type than the run's: a no-op
])
def test_effective_precision_is_what_lightning_built(requested, plugin, ran):
    import lightning.pytorch as pl
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugins = [MixedPrecision(*plugin)] if plugin else None
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision=requested, plugins=plugins, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    assert effective_precision(trainer, "cpu") == ran


def test_apple_gpus_advise_from_the_mps_row():
    assert target_for({"device": "mps", "name": "Apple arm64 GPU (MPS)"}).kind == "mps"


def test_the_cpu_memory_cap_is_the_address_space_in_the_child():
    code = ("import resource, torch; from advisor.validate.machine import cap_memory;"
            "cap_memory(8 * 2**30, 'cpu'); print(resource.getrlimit(resource.RLIMIT_AS)[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert int(out.stdout) == 8 * 2**30


def test_gpu_check_checks_its_dependencies_first(tmp_path):
    result = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True,
                            timeout=300, env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path), "PYTHON": sys.executable})
    assert result.returncode == 2
    assert result.stdout.splitlines()[-1] == "gpu_check: missing: a CUDA GPU visible to torch"
    assert list(tmp_path.iterdir()) == []  # nothing ran

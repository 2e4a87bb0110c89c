"""`prec-advisor validate` end to end: real tiny models trained through the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REGRESSION = str(ROOT / "examples" / "regression.py")
OVERFLOW = str(ROOT / "examples" / "overflow.py")
QUICK = ["--steps", "5", "--warmup", "1"]

NO_LOADER = """\
import lightning.pytorch as pl
import torch

print("user print at import")


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.example_input_array = torch.zeros(8, 4)

    def forward(self, x):
        return self.lin(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        print("user print in training_step")
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Data(pl.LightningDataModule):
    def train_dataloader(self):
        x = torch.randn(64, 4)
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x[:, :2] * 2), batch_size=8)


def make_broken():
    raise RuntimeError("no GPU found")
"""


def validate(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "advisor", "validate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def report(result):
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def no_loader(tmp_path):
    path = tmp_path / "tiny_train.py"
    path.write_text(NO_LOADER)
    return str(path)


def test_regression_on_cpu_passes_bf16_mixed_and_names_a_winner():
    result = validate(REGRESSION, "--steps", "20", "--format", "json")
    data = report(result)
    runs = {c["precision"]: c for c in data["candidates"]}
    assert list(runs) == ["32-true", "bf16-mixed", "bf16-true"]  # the CPU defaults
    assert data["baseline"] == "32-true" and data["hardware"]["device"] == "cpu" and data["model"] == "Regressor"
    assert runs["bf16-mixed"]["passed"] and runs["bf16-mixed"]["nan"] == 0
    assert data["winner"] in runs and runs[data["winner"]]["passed"]
    for run in runs.values():
        assert len(run["losses"]) == 25 and run["step_time_s"] > 0 and run["throughput"] > 0
        assert run["peak_memory_bytes"] > 50 * 2**20 and run["skipped_steps"] == 0
    assert result.returncode == (0 if all(r["passed"] for r in runs.values()) else 1)


def test_fp16_overflow_fails_16_true_which_never_wins():
    result = validate(OVERFLOW, "--candidates", "16-true,bf16-mixed", "--steps", "10", "--warmup", "2",
                      "--format", "json")
    assert result.returncode == 1
    data = report(result)
    runs = {c["precision"]: c for c in data["candidates"]}
    assert not runs["16-true"]["passed"] and runs["16-true"]["nan"] == 12
    assert runs["16-true"]["reason"] == "loss not finite at 12 of 12 steps, first at step 1"
    assert runs["16-true"]["losses"] == [None] * 12  # strict JSON
    assert runs["bf16-mixed"]["passed"] and data["winner"] in ("32-true", "bf16-mixed")


def test_table_progress_and_plot(tmp_path):
    plot = tmp_path / "loss.png"
    result = validate(REGRESSION, "--candidates", "bf16-mixed", *QUICK, "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("validate ") and "Regressor on cpu" in lines[0]
    assert [line.split()[0] for line in lines[2:4]] == ["32-true", "bf16-mixed"]
    assert lines[-1].startswith("winner: ")
    assert "[1/2] 32-true: done" in result.stderr and "[2/2] bf16-mixed: done" in result.stderr
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bitsandbytes_modes_run_on_cpu_through_the_wrapper():
    data = report(validate(REGRESSION, "--candidates", "nf4,int8-training", *QUICK, "--format", "json"))
    nf4, int8 = data["candidates"][1:]
    assert nf4["plugin"] == "BitsandbytesPrecision(mode='nf4', dtype=torch.bfloat16) via CPU wrapper"
    assert "Lightning refuses BitsandbytesPrecision on CPU" in nf4["note"]
    assert nf4["nan"] == 0 and len(nf4["losses"]) == 6  # 4-bit trains: the LayerNorm stays trainable
    assert int8["plugin"].startswith("BitsandbytesPrecision(mode='int8-training', dtype=torch.float16)")


def test_user_prints_never_break_json_and_synthetic_batches(no_loader):
    data = report(validate(no_loader, "--synthetic", "--candidates", "bf16-mixed", *QUICK, "--format", "json"))
    assert data["model"] == "Tiny" and len(data["candidates"][1]["losses"]) == 6


def test_datamodule(no_loader):
    data = report(validate(no_loader, "--datamodule", "Data", "--candidates", "bf16-mixed", *QUICK, "--format", "json"))
    assert all(len(c["losses"]) == 6 for c in data["candidates"])


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "missing.py: no such file"),
    ([REGRESSION, "--candidates", "bf16-mix"], "unknown candidate 'bf16-mix'; did you mean 'bf16-mixed'?"),
    ([REGRESSION, "--steps", "0"], "must be > 0"),
    (["{no_loader}"], "Tiny has no train_dataloader(); pass --datamodule module:Name, or --synthetic"),
    (["{no_loader}", "--model", "make_broken"], "make_broken() failed: RuntimeError: no GPU found (at tiny_train.py:"),
    (["{no_loader}", "--model", "Nope"], "has no attribute 'Nope'"),
])
def test_bad_input_is_one_line_and_exit_2(no_loader, args, message):
    result = validate(*[arg.format(no_loader=no_loader) for arg in args])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") <= 3 and "Traceback" not in result.stderr  # progress line(s) + the error
    assert result.stderr.splitlines()[-1].startswith("prec-advisor: error: ")
    assert message in result.stderr


def test_importing_the_command_imports_no_torch():
    code = ("import sys, advisor.validate.command, advisor.validate;"
            "print(sorted(m for m in ('torch', 'lightning', 'bitsandbytes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

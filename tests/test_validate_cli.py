"""`prec-advisor validate` end to end: real tiny models trained through the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REGRESSION = str(ROOT / "examples" / "regression.py")
OVERFLOW = str(ROOT / "examples" / "overflow.py")
QUICK = ["--steps", "5", "--warmup", "1", "--rounds", "1"]  # one round: 32-true, the candidates, 32-true
ONLY_BASELINE = ["--candidates", "32-true"]  # two runs of 32-true: for what any run shows

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


def validate(*args, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, "-m", "advisor", "validate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def report(result):
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def no_loader(tmp_path):
    path = tmp_path / "tiny_train.py"
    path.write_text(NO_LOADER)
    return str(path)


def test_regression_on_cpu_passes_bf16_mixed_and_gives_a_speed_verdict():
    result = validate(REGRESSION, "--steps", "8", "--rounds", "2", "--min-speedup", "0.05", "--format", "json")
    data = report(result)
    runs = {c["precision"]: c for c in data["candidates"]}
    assert list(runs) == ["32-true", "bf16-mixed", "bf16-true"]  # the CPU defaults
    assert data["baseline"] == "32-true" and data["hardware"]["device"] == "cpu" and data["model"] == "Regressor"
    assert runs["bf16-mixed"]["passed"] and runs["bf16-mixed"]["nan"] == 0
    assert data["speed_representative"] is False and "CPU" in data["speed_note"]
    assert data["noise"]["run_to_run_loss"] == 0.0  # seed-identical fp32 runs on a CPU repeat exactly
    assert data["tied"] and all(runs[name]["passed"] for name in data["tied"])
    assert data["winner"] is None or data["tied"] == [data["winner"]]
    # two interleaved rounds, so a drifting load hits every precision alike
    assert data["timing"]["order"] == ["32-true", "bf16-mixed", "bf16-true", "bf16-true", "bf16-mixed", "32-true"]
    assert data["timing"]["clock"] == "process CPU time" and data["timing"]["threads"] == 1
    assert data["timing"]["df"] == 3 and data["noise"]["run_to_run_speed"] > 0  # one per precision timed twice
    assert data["timing"]["false_winner"] == 0.05 and data["timing"]["tie_band"] == 0.05  # --min-speedup
    for run in runs.values():
        assert len(run["losses"]) == 13 and run["step_time_s"] > 0 and run["ci_s"] > 0 and run["throughput"] > 0
        assert run["windows"] >= 16 and len(run["run_step_times_s"]) == 2
        assert run["peak_memory_bytes"] > 50 * 2**20 and run["skipped_steps"] == 0
    for name in ("bf16-mixed", "bf16-true"):
        ratio = runs[name]["speed_ratio"]  # the shown 95% interval; the verdict's are wider (3 compared)
        assert ratio["low"] < ratio["ratio"] < ratio["high"]
        if name == data["winner"]:
            assert ratio["high"] < 1 / (1 + data["timing"]["tie_band"])
    assert result.returncode == (0 if runs[data["recommended"]]["passed"] else 1)


def test_fp16_overflow_fails_16_true_which_never_wins():
    result = validate(OVERFLOW, "--candidates", "16-true,bf16-mixed", *QUICK, "--format", "json")
    assert result.returncode == 1  # the recommended (first named) precision failed
    data = report(result)
    runs = {c["precision"]: c for c in data["candidates"]}
    assert not runs["16-true"]["passed"] and runs["16-true"]["nan"] == 6
    assert runs["16-true"]["reason"] == "loss not finite at 6 of 6 steps, first at step 1"
    assert runs["16-true"]["losses"] == [None] * 6  # strict JSON
    assert runs["bf16-mixed"]["passed"] and "16-true" not in data["tied"]
    assert data["recommended"] == "16-true" and data["recommended_passed"] is False


def test_exit_0_when_the_recommended_precision_passes_though_another_fails():
    result = validate(OVERFLOW, "--candidates", "bf16-mixed,16-true", *QUICK, "--format", "json")
    data = report(result)
    assert result.returncode == 0 and data["recommended"] == "bf16-mixed" and data["recommended_passed"]
    assert data["candidates"][2]["status"] == "fail"


@pytest.fixture(scope="module")
def fallback_and_bitsandbytes():
    """One run for two tests: 16-mixed (recommended, first) and the bitsandbytes modes on a CPU."""
    return validate(REGRESSION, "--candidates", "16-mixed,nf4,int8-training", *QUICK, "--format", "json")


def test_16_mixed_on_a_cpu_is_not_validated_here(fallback_and_bitsandbytes):
    result = fallback_and_bitsandbytes
    assert result.returncode == 1
    fallback = report(result)["candidates"][1]
    assert fallback["effective_precision"] == "bf16-mixed" and fallback["status"] == "not validated here"
    assert not fallback["passed"] and fallback["reason"].startswith("not validated here: Lightning ran bf16-mixed")


def test_table_progress_and_plot(tmp_path):
    plot = tmp_path / "loss.png"
    result = validate(REGRESSION, "--candidates", "bf16-mixed", *QUICK, "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("validate ") and "Regressor on cpu" in lines[0]
    assert lines[1] == "trainer: defaults; fp32 matmul precision 'highest' (torch default)"
    assert [line.split()[0] for line in lines[3:5]] == ["32-true", "bf16-mixed"]
    assert lines[-3].startswith("speed: NOT representative (ran on a CPU") and "timed by process CPU time" in lines[-3]
    assert lines[-2] == "recommended: bf16-mixed pass" and lines[-1].startswith("verdict: ")
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert progress == ["[1/3] 32-true: done", "[2/3] bf16-mixed: done", "[3/3] 32-true: done"]  # one round
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bitsandbytes_modes_run_on_cpu_through_the_wrapper(fallback_and_bitsandbytes):
    nf4, int8 = report(fallback_and_bitsandbytes)["candidates"][2:]
    assert nf4["plugin"] == "BitsandbytesPrecision(mode='nf4', dtype=torch.bfloat16) via CPU wrapper"
    assert "Lightning refuses BitsandbytesPrecision on CPU" in nf4["note"]
    assert nf4["nan"] == 0 and len(nf4["losses"]) == 6  # 4-bit trains: the LayerNorm stays trainable
    assert int8["plugin"].startswith("BitsandbytesPrecision(mode='int8-training', dtype=torch.float16)")


def test_user_prints_never_break_json_and_synthetic_batches(no_loader):
    data = report(validate(no_loader, "--synthetic", *ONLY_BASELINE, *QUICK, "--format", "json"))
    assert data["model"] == "Tiny" and len(data["candidates"][0]["losses"]) == 6


def test_datamodule(no_loader):
    data = report(validate(no_loader, "--datamodule", "Data", *ONLY_BASELINE, *QUICK, "--format", "json"))
    assert data["timing"]["order"] == ["32-true", "32-true"] and len(data["candidates"][0]["losses"]) == 6


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "missing.py: no such file"),
    (["{notes}"], "notes.txt:1: not a Python script (invalid syntax)"),
    (["examples"], "examples: is a directory"),
    ([REGRESSION, "--candidates", "bf16-mix"], "unknown candidate 'bf16-mix'; did you mean 'bf16-mixed'?"),
    ([REGRESSION, "--steps", "0"], "must be > 0"),
    ([REGRESSION, "--min-speedup", "-0.1"], "must be >= 0"),
    (["{no_loader}"], "Tiny has no train_dataloader(); pass --datamodule module:Name, or --synthetic"),
    (["{no_loader}", "--model", "make_broken"], "make_broken() failed: RuntimeError: no GPU found (at tiny_train.py:"),
    (["{no_loader}", "--model", "Nope"], "has no attribute 'Nope'"),
])
def test_bad_input_is_one_line_and_exit_2(no_loader, tmp_path, args, message):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes: try bf16 next week\n")
    result = validate(*[arg.format(no_loader=no_loader, notes=notes) for arg in args])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") <= 3 and "Traceback" not in result.stderr  # progress line(s) + the error
    assert result.stderr.splitlines()[-1].startswith("prec-advisor: error: ")
    assert message in result.stderr
    if args[0] in ("missing.py", "{notes}", "examples"):
        assert result.stderr.endswith(f"{message}\n") and result.stderr.count("\n") == 1  # no progress line


def test_importing_the_command_imports_no_torch():
    code = ("import sys, advisor.validate.command, advisor.validate;"
            "print(sorted(m for m in ('torch', 'lightning', 'bitsandbytes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


SEPARABLE = """\
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Separable(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.relu(1 - y * self.lin(x).squeeze(-1)).mean()  # hinge loss: exactly 0 once separated

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(512, 2, generator=g)
        y = torch.where(x[:, 0] > 0, 1.0, -1.0)
        x[:, 0] += 3 * y
        return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
"""


def test_a_loss_that_reaches_zero_still_passes_close_candidates(tmp_path):
    (tmp_path / "separable.py").write_text(SEPARABLE)
    data = report(validate("separable.py", "--candidates", "bf16-mixed,bf16-true", "--steps", "10", "--warmup", "2",
                           "--rounds", "1", "--format", "json", cwd=tmp_path))
    base, mixed, true = data["candidates"]
    assert base["losses"][-1] == 0.0 and base["losses"][0] > 0.5  # the baseline reached exactly zero
    assert mixed["passed"] and true["passed"], (mixed["reason"], true["reason"])
    assert data["noise"]["loss"] == pytest.approx(0.01 * base["losses"][0], rel=0.01)  # 1% of the early loss


USER_TRAINER = """\
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Checked(pl.LightningModule):
    \"\"\"Fails unless it trains the way its own Trainer below says: DDP over 2 gloo processes,
    gradients clipped to norm 0.5 (they are far larger), 2 batches per optimizer step.\"\"\"

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        if self.trainer.world_size != 2 or torch.distributed.get_backend() != "gloo":
            raise RuntimeError("not the user's DDP run")
        if self.trainer.accumulate_grad_batches != 2:
            raise RuntimeError("accumulation dropped")
        x, y = batch
        return torch.nn.functional.mse_loss(self.lin(x), y)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        if gradient_clip_val != 0.5:
            raise RuntimeError(f"clipping dropped: {gradient_clip_val}")
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.parameters()]))
        if norm > 0.5 * 1.001:
            raise RuntimeError(f"gradients not clipped: {norm}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        x = 10 * torch.randn(256, 8, generator=g)
        return DataLoader(TensorDataset(x, 100 * x.sum(1, keepdim=True)), batch_size=16)


if __name__ == "__main__":
    pl.Trainer(strategy="ddp", devices=2, accelerator="cpu", gradient_clip_val=0.5, accumulate_grad_batches=2,
               num_nodes=1, max_epochs=3).fit(Checked())
"""


def test_the_users_trainer_is_carried_ddp_on_two_cpu_processes_clipping_accumulation(tmp_path):
    (tmp_path / "user_train.py").write_text(USER_TRAINER)
    result = validate("user_train.py", "--candidates", "bf16-mixed", "--steps", "4", "--warmup", "1",
                      "--rounds", "1", "--format", "json", cwd=tmp_path)
    data = report(result)
    assert data["trainer"] == {"strategy": "ddp", "devices": 2, "gradient_clip_val": 0.5,
                               "accumulate_grad_batches": 2, "num_nodes": 1}
    for run in data["candidates"]:
        assert run["status"] in ("baseline", "pass"), run["reason"]
        assert len(run["losses"]) == 5  # optimizer steps, each over 2 batches
        assert run["throughput"] == pytest.approx(16 * 2 * 2 / run["step_time_s"])  # batch x accumulation x ranks
    assert result.returncode == 0


def test_check_fix_validate_never_applies_a_fallbacks_pass(tmp_path):
    script = tmp_path / "regression.py"
    original = (ROOT / "examples" / "regression.py").read_text().replace('accelerator="cpu"', 'accelerator="gpu"')
    script.write_text(original)
    result = subprocess.run([sys.executable, "-m", "advisor", "check", "regression.py", "--fix", "--validate",
                             "--gpu", "t4"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "regression.py: 16-mixed not validated here: Lightning ran bf16-mixed instead" in result.stderr
    assert "recommended fixes not applied" in result.stderr
    assert script.read_text() == original  # 16-mixed (fp16) was never run, so nothing is written
    assert result.returncode == 1  # the recommended finding remains

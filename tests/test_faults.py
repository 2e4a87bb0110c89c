"""`check --trace` and `validate` when user code misbehaves: our JSON on stdout still parses,
each failure is one line, nothing hangs and no process is left behind.

run_isolated itself (every fault, one call each) is tested in test_isolation.py and
trace_script in test_trace_api.py; here it is the command line a CI job would run.
"""
import json
import os
import time
from pathlib import Path

import pytest

from conftest import run_cli

BROKEN = "tests/models/broken.py"  # prints at import; factories that raise, exit, crash
SHORT_TIMEOUT, GENEROUS_TIMEOUT = 20, 120

FAULTY = '''\
"""A tiny LightningModule whose training_step misbehaves under one precision each."""
import os
import time

import lightning.pytorch as pl
import torch

print('{"version": 99, "findings": "printed by user code at import"}')
FAULTS = {"bf16-mixed": "raise", "16-true": "hard_exit", "64-true": "hog"}


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.example_input_array = torch.zeros(8, 4)

    def forward(self, x):
        return self.lin(x)

    def training_step(self, batch, batch_idx):
        print("printed by user code in training_step")
        fault = FAULTS.get(str(self.trainer.precision))
        if fault == "raise":
            raise RuntimeError("user bug in training_step")
        if fault == "hang":
            open("hung", "w").close()  # the test knows the hang was reached before the timeout hit
            time.sleep(3600)
        if fault == "hard_exit":
            os._exit(5)
        if fault == "hog":
            self.hog = bytearray(64 * 2**30)
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
'''

SPAWNS = '''\
import subprocess
import sys
import time


def spawns():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # {marker}"])
    open("spawned", "w").close()  # the test knows the orphan was started before the timeout hit
    time.sleep(3600)
'''


@pytest.mark.parametrize("factory, error", [
    ("raises", "raises: cannot trace: the forward raises RuntimeError: shape mismatch in user code (at broken.py:13)"),
    ("exits", "exits: tracing failed: user code called sys.exit(3)"),
    ("crashes", "crashes: tracing failed: child process exited with status 9 before finishing"),
])
def test_trace_faults_keep_the_json_whole(factory, error):
    # these factories end by themselves: the timeout is only a backstop, generous for a loaded machine
    result = run_cli("check", BROKEN, "--trace", "--model", factory, "--trace-timeout", "240", "--format", "json")
    data = json.loads(result.stdout)  # the script's print at import went to the child's log
    assert data["version"] == 1 and data["summary"]["files"] == 1
    (model,) = data["models"]  # the failed model is listed, with its error
    assert model["name"] == factory and model["trace"] == "failed" and model["error"].startswith(error)
    (line,) = result.stderr.splitlines()
    assert result.returncode == 2 and line.startswith(f"prec-advisor: error: {error}")


def _alive(marker: str) -> list:
    found = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in status.read_bytes():
                found.append(status.parent.name)
        except OSError:
            pass
    return found


def run_until_hung(run, reached: Path):
    """`run(timeout)`, first with a short timeout: a hang never ends, so that timeout fires however busy
    the machine is. Only reaching the hang takes machine time (the child imports torch), so when `reached`
    was not written in time the run is repeated with a generous timeout: no test depends on the short one
    being enough. Returns (the result, the timeout it ran under)."""
    for timeout in (SHORT_TIMEOUT, GENEROUS_TIMEOUT):
        result = run(timeout)
        if reached.exists():
            return result, timeout
    pytest.fail("the hang was never reached: nothing was tested")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_a_hung_trace_is_killed_with_the_processes_it_started(tmp_path):
    marker = f"prec-advisor-orphan-{os.getpid()}-{time.monotonic_ns()}"
    (tmp_path / "spawner.py").write_text(SPAWNS.replace("{marker}", marker))
    result, limit = run_until_hung(lambda limit: run_cli(
        "check", "spawner.py", "--trace", "--model", "spawns", "--trace-timeout", limit, "--format", "json",
        cwd=tmp_path), tmp_path / "spawned")
    assert [m["trace"] for m in json.loads(result.stdout)["models"]] in ([], ["failed"])
    assert result.stderr == f"prec-advisor: error: spawns: tracing failed: timed out after {limit} s\n"
    deadline = time.monotonic() + 120  # the kill is immediate; the loop ends as soon as the orphan is gone
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(marker) == []


def test_a_hung_validate_run_is_killed_at_its_timeout(tmp_path):
    # the baseline is the run that hangs: nothing that has to finish runs under the short timeout
    (tmp_path / "faulty.py").write_text(FAULTY.replace('FAULTS = {', 'FAULTS = {"32-true": "hang", '))
    result, limit = run_until_hung(lambda limit: run_cli(
        "validate", "faulty.py", "--synthetic", "--candidates", "bf16-mixed", "--steps", "2", "--warmup", "1",
        "--timeout", limit, "--format", "json", cwd=tmp_path, timeout=600), tmp_path / "hung")
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    error = result.stderr.splitlines()[-1]
    assert error == f"prec-advisor: error: baseline 32-true failed: timed out after {limit} s"


def test_validate_candidates_that_raise_exit_or_hog_are_judged_failed_in_valid_json(tmp_path):
    (tmp_path / "faulty.py").write_text(FAULTY)
    # every run ends by itself: the timeout is only a backstop, generous for a loaded machine
    result = run_cli("validate", "faulty.py", "--synthetic", "--candidates", "bf16-mixed,16-true,64-true",
                     "--steps", "2", "--warmup", "1", "--rounds", "1", "--timeout", GENEROUS_TIMEOUT,
                     "--memory-limit", "8192", "--format", "json", cwd=tmp_path, timeout=1200)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    runs = {c["precision"]: c for c in data["candidates"]}
    assert runs["32-true"]["passed"] and data["winner"] == "32-true"
    expected = {
        "bf16-mixed": "RuntimeError: user bug in training_step (at faulty.py:",
        "16-true": "child process exited with status 5 before finishing",
        "64-true": "MemoryError",
    }
    for precision, words in expected.items():
        assert not runs[precision]["passed"] and words in runs[precision]["reason"], runs[precision]
    assert "Traceback" not in result.stderr

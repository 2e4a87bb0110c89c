"""`prec-advisor env` for real on this machine (no GPU here), and with --gpu."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args, code=None):
    command = [sys.executable, "-m", "advisor", "env", *args] if code is None else [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_text_on_this_machine():
    done = run()
    assert done.returncode == 0, done.stderr
    assert "CPU:" in done.stdout and "recommended: precision=" in done.stdout
    if "GPUs: none detected" in done.stdout:
        assert "nvidia-smi:" in done.stdout and "nvml:" in done.stdout
    assert "Traceback" not in done.stderr


def test_json_on_this_machine():
    done = run("--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["version"] == 1 and data["machine"]["cpu"]["cores"] >= 1
    assert {p["source"] for p in data["machine"]["probes"]} >= {"torch", "nvidia-smi", "nvml", "rocm-smi"}
    assert data["recommendation"]["precision"] in ("bf16-mixed", "16-mixed", "32-true")
    if not data["machine"]["gpus"]:
        assert data["target"]["kind"] == "cpu"
        expected = "bf16-mixed" if data["machine"]["cpu"]["bf16_native"] else "32-true"
        assert data["recommendation"]["precision"] == expected


@pytest.mark.parametrize("gpu,precision", [("v100", "16-mixed"), ("T4", "16-mixed"), ("a100-80gb", "bf16-mixed"),
                                           ("h100", "bf16-mixed"), ("NVIDIA L4", "bf16-mixed")])
def test_named_gpu(gpu, precision):
    done = run("--gpu", gpu, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["machine"] is None and data["recommendation"]["precision"] == precision
    modes = {row["mode"]: row for row in data["devices"][0]["modes"]}
    assert modes["bf16-mixed"]["support"] == ("native" if precision == "bf16-mixed" else "emulated")


def test_named_gpu_text_shows_the_why():
    done = run("--gpu", "t4")
    assert done.returncode == 0
    assert "emulated" in done.stdout and "GiB/1B" in done.stdout and "is_bf16_supported" in done.stdout


def test_unknown_gpu_is_a_one_line_error():
    done = run("--gpu", "a1000")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "a100" in done.stderr and "Traceback" not in done.stderr


def test_env_does_not_import_torch_unless_asked():
    code = ("import sys, io, contextlib\nfrom advisor.commands.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['env'])\nprint('torch' in sys.modules)")
    done = run(code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_torch_probe_when_asked():
    pytest.importorskip("torch")
    done = run("--torch", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["machine"]["probes"][0]["source"] == "torch"

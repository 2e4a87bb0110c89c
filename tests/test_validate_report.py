"""report: table, strict JSON and the loss plot from a plain report dict."""
import json
import math

from advisor.validate.report import plot, table, to_json


def report():
    base = {"precision": "32-true", "effective_precision": "32-true", "plugin": "Precision", "losses": [3.0, 2.0],
            "skipped_steps": 0, "step_time_s": 0.002, "throughput": 32000.0, "peak_memory_bytes": 300 * 2**20,
            "note": None, "passed": True, "reason": "baseline", "deviation": 0.0, "nan": 0}
    half = {**base, "precision": "16-true", "effective_precision": "16-true", "plugin": "HalfPrecision",
            "losses": [math.inf, math.nan], "passed": False, "nan": 2, "deviation": None,
            "reason": "loss not finite at 2 of 2 steps, first at step 1"}
    bnb = {**base, "precision": "nf4", "losses": [3.0, 2.1], "note": "CPU wrapper", "reason": "loss within 0.1x",
           "deviation": 0.1}
    return {"version": 1, "script": "train.py", "model": "Net", "steps": 1, "warmup": 1, "seed": 0,
            "tolerance": 3.0, "hardware": {"device": "cpu", "name": "Test CPU", "capability": None},
            "baseline": "32-true", "candidates": [base, half, bnb], "winner": "32-true"}


def test_json_is_strict_with_null_for_non_finite_losses():
    data = json.loads(to_json(report()))
    assert data["candidates"][1]["losses"] == [None, None] and data["candidates"][1]["nan"] == 2
    assert data["winner"] == "32-true" and data["version"] == 1


def test_table_rows_notes_and_winner():
    text = table(report())
    lines = text.splitlines()
    assert lines[0] == "validate train.py: Net on cpu (Test CPU), 1 steps after 1 warm-up, seed 0"
    assert lines[1].split()[:3] == ["precision", "result", "last"]
    assert lines[2].split()[:2] == ["32-true", "base"] and "300 MiB" in lines[2]
    assert lines[3].split()[:3] == ["16-true", "FAIL", "nan"] and lines[3].endswith("first at step 1")
    assert "note (nf4): CPU wrapper" in text and lines[-1] == "winner: 32-true (fastest that passes)"


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "curves.png"
    plot(report(), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

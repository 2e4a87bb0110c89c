"""report: table, strict JSON and the loss plot from a plain report dict."""
import json
import math

from advisor.validate.report import figure, plot, table, to_json


def report():
    base = {"precision": "32-true", "effective_precision": "32-true", "plugin": "Precision", "losses": [3.0, 2.0],
            "skipped_steps": 0, "step_time_s": 0.002, "ci_s": 0.0001, "windows": 4, "throughput": 32000.0,
            "run_step_times_s": [0.002, 0.002], "speed_ratio": None,
            "peak_memory_bytes": 300 * 2**20, "note": None, "passed": True, "status": "baseline",
            "reason": "baseline", "deviation": 0.0, "nan": 0}
    half = {**base, "precision": "16-true", "effective_precision": "16-true", "plugin": "HalfPrecision",
            "losses": [math.inf, math.nan], "passed": False, "status": "fail", "nan": 2, "deviation": None,
            "reason": "loss not finite at 2 of 2 steps, first at step 1"}
    fallback = {**base, "precision": "16-mixed", "effective_precision": "bf16-mixed", "plugin": "MixedPrecision",
                "losses": [3.0, 2.01], "passed": False, "status": "not validated here", "deviation": 0.1,
                "reason": "not validated here: Lightning ran bf16-mixed instead"}
    bnb = {**base, "precision": "nf4", "effective_precision": "nf4", "losses": [3.0, 2.1], "note": "CPU wrapper",
           "status": "pass", "reason": "loss within 10% of the allowed gap", "deviation": 0.1, "ci_s": math.inf,
           "speed_ratio": {"ratio": 1.5, "low": 1.2, "high": 1.875}}
    return {"version": 3, "script": "train.py", "model": "Net", "steps": 1, "warmup": 1, "seed": 0,
            "tolerance": 3.0, "rtol": 0.02, "hardware": {"device": "cpu", "name": "Test CPU", "capability": None},
            "target": "NVIDIA T4", "speed_representative": False, "speed_note": "ran on a CPU",
            "trainer": {"gradient_clip_val": 0.5}, "trainer_not_carried": [
                {"argument": "num_nodes", "value": 4, "reason": "validate runs on one node"}],
            "trainer_notes": [], "matmul_precision": {"value": "high", "source": "train.py:3"},
            "noise": {"loss": 0.1, "run_to_run_loss": 0.0, "run_to_run_speed": 0.05, "repeat_error": None},
            "timing": {"clock": "process CPU time", "threads": 1, "order": ["32-true", "nf4", "nf4", "32-true"],
                       "tie_band": 0.05, "df": 2},
            "baseline": "32-true", "candidates": [base, half, fallback, bnb], "recommended": "16-mixed",
            "recommended_passed": False, "winner": None, "tied": ["32-true", "nf4"],
            "verdict": "no significant difference between 32-true, nf4: 16-mixed did not pass"}


def test_json_is_strict_with_null_for_non_finite_losses():
    data = json.loads(to_json(report()))
    assert data["candidates"][1]["losses"] == [None, None] and data["candidates"][1]["nan"] == 2
    assert data["candidates"][3]["ci_s"] is None  # one window: no interval, and strict JSON
    assert data["tied"] == ["32-true", "nf4"] and data["version"] == 3


def test_table_rows_notes_and_verdict():
    text = table(report())
    lines = text.splitlines()
    assert lines[0] == "validate train.py: Net on cpu (Test CPU), 1 steps after 1 warm-up, seed 0"
    assert lines[1] == "trainer: gradient_clip_val=0.5; fp32 matmul precision 'high' (train.py:3)"
    assert lines[2].split()[:3] == ["precision", "result", "ran"]
    assert lines[3].split()[:3] == ["32-true", "base", "32-true"] and "2.00 ±0.10" in lines[3]
    assert lines[4].split()[:4] == ["16-true", "FAIL", "16-true", "nan"] and lines[4].endswith("first at step 1")
    assert lines[5].split()[:3] == ["16-mixed", "not", "validated"] and "bf16-mixed" in lines[5]
    assert "note (nf4): CPU wrapper" in text and "not carried: num_nodes=4 (validate runs on one node)" in text
    assert lines[6].split()[0] == "nf4" and "1.50x [1.20-1.88]" in lines[6]  # step time vs the baseline, 95% CI
    assert "speed: NOT representative (ran on a CPU); timed by process CPU time, 1 thread; " \
           "run-to-run spread 5% (df 2); tie band 5%" in text
    assert lines[-2] == "recommended: 16-mixed not validated here"
    assert lines[-1] == "verdict: no significant difference between 32-true, nf4: 16-mixed did not pass"


def test_plot_draws_the_baseline_on_top_and_names_what_ran(tmp_path):
    drawn = figure(report())
    axes = drawn.axes[0]
    lines = {line.get_label(): line for line in axes.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"32-true: base", "16-true: FAIL", "16-mixed (ran bf16-mixed): not validated here",
                          "nf4: pass"}
    baseline = lines["32-true: base"]
    assert baseline.get_zorder() > max(line.get_zorder() for label, line in lines.items() if label != "32-true: base")
    assert axes.get_title() == "Net on cpu (Test CPU), advice for NVIDIA T4: loss per step"
    path = tmp_path / "curves.png"
    plot(report(), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""judge and speed: pass/fail, loss parity and the speed verdict, on plain recorded data."""
import math
import re

import pytest

from advisor.validate import speed
from advisor.validate.candidates import default_candidates, parse_candidates
from advisor.validate.judge import allowed_skips, deviation, judge, noise, spread

BASE = [10.0, 8.0, 9.0, 7.0, 6.5, 6.0, 5.0, 5.5, 4.0, 4.2]  # step-to-step noise: median |change| = 1.0
ZERO = [0.9, 0.4, 0.1] + [0.0] * 17  # a separable problem under a hinge loss: exactly zero from step 4


def run(losses, **extra):
    return {"precision": "bf16-mixed", "effective_precision": "bf16-mixed", "losses": losses, "skipped_steps": 0,
            **extra}


def test_noise_is_the_largest_of_step_change_run_to_run_spread_and_early_scale():
    assert noise(BASE) == 1.0
    assert noise([5.0] * 10) == pytest.approx(0.05)  # a flat curve: 1% of its early loss
    repeat = [x + 2.0 for x in BASE]  # a non-deterministic baseline: two identical runs 2.0 apart
    assert spread(BASE, repeat) == pytest.approx(2.0) and noise(BASE, repeat) == pytest.approx(2.0)


def test_a_loss_that_reaches_zero_keeps_a_meaningful_allowance():
    assert noise(ZERO) == pytest.approx(0.009)  # 1% of the early loss, not 1e-12
    late = ZERO[:2] + [0.12, 0.01] + [0.0] * 16  # reaches zero one step later
    assert judge(ZERO, run(late))["passed"]
    stuck = ZERO[:3] + [0.1] * 17  # never gets there: a real difference
    verdict = judge(ZERO, run(stuck))
    assert not verdict["passed"] and "drifts" in verdict["reason"]


def test_jitter_cancels_in_the_window_but_drift_does_not():
    jitter = [x + (0.4 if i % 2 else -0.4) for i, x in enumerate(BASE)]
    assert deviation(BASE, jitter) < 0.1
    drift = [x + 0.5 * i for i, x in enumerate(BASE)]
    # last window: mean gap 3.5, allowed 3 x 1.0 + 0.02 x mean |baseline| (4.94)
    assert deviation(BASE, drift) == pytest.approx(3.5 / (3.0 + 0.02 * 4.94))


def test_relative_tolerance_scales_with_the_loss():
    big = [1000.0 + x for x in BASE]
    shifted = [x * 1.01 for x in big]  # 1% off: within rtol 2% even with a tight absolute tolerance
    assert judge(big, run(shifted), tolerance=0.1)["passed"]
    assert not judge(big, run(shifted), tolerance=0.1, rtol=0.0)["passed"]


def test_close_curve_passes():
    verdict = judge(BASE, run([x * 1.01 for x in BASE]))
    assert verdict["passed"] and verdict["status"] == "pass" and verdict["nan"] == 0 and verdict["deviation"] < 0.2


@pytest.mark.parametrize("candidate, reason", [
    (run(BASE[:3] + [math.inf] + [math.nan] * 6), "loss not finite at 7 of 10 steps, first at step 4"),
    (run(BASE, skipped_steps=4), r"GradScaler skipped 4 of 10 steps \(allowed 3\)"),
    (run([x + 0.7 * i for i, x in enumerate(BASE)]), r"loss drifts 1.6x the allowed gap .*tolerance 3 x noise"),
    (run([], error="RuntimeError: boom"), "crashed: RuntimeError: boom"),
    (run([]), "no loss recorded"),
])
def test_failures_say_why(candidate, reason):
    verdict = judge(BASE, candidate)
    assert not verdict["passed"] and verdict["status"] == "fail"
    assert re.search(reason, verdict["reason"])


def test_a_fallback_precision_is_never_a_pass():
    fallback = run(BASE, precision="16-mixed", effective_precision="bf16-mixed")  # Lightning on a CPU
    verdict = judge(BASE, fallback)
    assert not verdict["passed"] and verdict["status"] == "not validated here"
    assert verdict["reason"].startswith("not validated here: Lightning ran bf16-mixed instead")


def test_tolerance_is_configurable():
    drift = run([x + 0.5 * i for i, x in enumerate(BASE)])
    assert not judge(BASE, drift)["passed"] and judge(BASE, drift, tolerance=4)["passed"]


def test_a_few_skips_are_allowed():
    assert allowed_skips(10) == 3 and allowed_skips(100) == 10
    assert judge(BASE, run(BASE, skipped_steps=3))["passed"]


def test_window_samples_take_the_median_so_one_slow_step_is_ignored():
    times = [0.010] * 24  # 8 windows of 3 steps
    times[5] = 1.0
    assert speed.window_samples(times) == [0.010] * 8
    assert len(speed.window_samples([0.01] * 50)) == 8 and len(speed.window_samples([0.01] * 5)) == 5


def test_summary_is_a_t_interval():
    summary = speed.summarize([1.0, 2.0, 3.0])
    assert summary["step_time_s"] == 2.0 and summary["windows"] == 3
    assert summary["ci_s"] == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert speed.summarize([1.0])["ci_s"] == math.inf and speed.summarize([])["step_time_s"] is None


def test_run_to_run_spread_has_a_floor():
    assert speed.run_to_run(1.0, 1.01) == speed.RUN_TO_RUN_FLOOR
    assert speed.run_to_run(1.0, 3.0) == pytest.approx(1.0)
    assert speed.run_to_run(1.0, None) == speed.RUN_TO_RUN_FLOOR


def timed(name, mean, ci, passed=True):
    return {"precision": name, "passed": passed, "step_time_s": mean, "ci_s": ci}


def test_a_winner_only_beyond_the_interval():
    runs = [timed("32-true", 1.0, 0.05), timed("bf16-mixed", 0.5, 0.05), timed("bf16-true", 0.52, 0.05),
            timed("16-true", 0.1, 0.01, passed=False)]
    assert speed.verdict(runs, 0.05) == {"winner": None, "tied": ["bf16-mixed", "bf16-true"]}
    runs[2]["step_time_s"] = 0.9
    assert speed.verdict(runs, 0.05) == {"winner": "bf16-mixed", "tied": ["bf16-mixed"]}
    assert speed.verdict(runs, 0.5)["winner"] is None  # a noisy machine: nothing is significant
    assert speed.verdict([runs[3]], 0.05) == {"winner": None, "tied": []}


def test_default_candidates_by_hardware():
    assert default_candidates("cuda", (9, 0)) == ["32-true", "bf16-mixed", "16-mixed", "bf16-true"]
    assert default_candidates("cuda", (7, 5)) == ["32-true", "16-mixed", "16-true"]
    assert default_candidates("mps", None) == ["32-true", "16-mixed", "bf16-mixed"]
    assert default_candidates("cpu", None) == ["32-true", "bf16-mixed", "bf16-true"]
    with_nf4 = ["32-true", "nf4", "bf16-mixed", "16-mixed", "bf16-true"]
    assert default_candidates("cuda", (8, 0), extra=["nf4"]) == with_nf4


def test_parse_candidates():
    assert parse_candidates("bf16-mixed, 32-true,nf4") == ["32-true", "bf16-mixed", "nf4"]
    with pytest.raises(ValueError, match="unknown candidate 'bf16-mix'; did you mean 'bf16-mixed'"):
        parse_candidates("bf16-mix")
    with pytest.raises(ValueError, match="empty"):
        parse_candidates(" , ")

"""judge: pass/fail and the winner, on plain recorded data."""
import math
import re

import pytest

from advisor.validate.candidates import default_candidates, parse_candidates
from advisor.validate.judge import allowed_skips, deviation, judge, noise, winner

BASE = [10.0, 8.0, 9.0, 7.0, 6.5, 6.0, 5.0, 5.5, 4.0, 4.2]  # step-to-step noise: median |change| = 1.0


def run(losses, **extra):
    return {"precision": "bf16-mixed", "losses": losses, "skipped_steps": 0, "step_time_s": 0.1, **extra}


def test_noise_is_median_step_change_with_a_relative_floor():
    assert noise(BASE) == 1.0
    assert noise([5.0] * 10) == pytest.approx(0.05)  # a flat curve: 1% of its loss


def test_jitter_cancels_in_the_window_but_drift_does_not():
    jitter = [x + (0.4 if i % 2 else -0.4) for i, x in enumerate(BASE)]
    assert deviation(BASE, jitter) < 0.1
    drift = [x + 0.5 * i for i, x in enumerate(BASE)]
    assert deviation(BASE, drift) == pytest.approx(3.5)  # last window's mean gap (2.5..4.5) / noise 1.0


def test_close_curve_passes():
    verdict = judge(BASE, run([x * 1.01 for x in BASE]))
    assert verdict["passed"] and verdict["nan"] == 0 and verdict["deviation"] < 0.2


@pytest.mark.parametrize("candidate, reason", [
    (run(BASE[:3] + [math.inf] + [math.nan] * 6), "loss not finite at 7 of 10 steps, first at step 4"),
    (run(BASE, skipped_steps=4), r"GradScaler skipped 4 of 10 steps \(allowed 3\)"),
    (run([x + 0.5 * i for i, x in enumerate(BASE)]), r"loss drifts 3.5x the baseline's noise .*tolerance 3\)"),
    (run([], error="RuntimeError: boom"), "crashed: RuntimeError: boom"),
    (run([]), "no loss recorded"),
])
def test_failures_say_why(candidate, reason):
    verdict = judge(BASE, candidate)
    assert not verdict["passed"]
    assert re.search(reason, verdict["reason"])


def test_tolerance_is_configurable():
    drift = run([x + 0.5 * i for i, x in enumerate(BASE)])
    assert judge(BASE, drift, tolerance=4)["passed"]


def test_a_few_skips_are_allowed():
    assert allowed_skips(10) == 3 and allowed_skips(100) == 10
    assert judge(BASE, run(BASE, skipped_steps=3))["passed"]


def test_winner_is_the_fastest_passing_and_ties_go_to_the_more_accurate():
    runs = [
        {"precision": "32-true", "passed": True, "step_time_s": 1.00, "deviation": 0.0},
        {"precision": "bf16-mixed", "passed": True, "step_time_s": 0.50, "deviation": 0.4},
        {"precision": "bf16-true", "passed": True, "step_time_s": 0.49, "deviation": 1.2},
        {"precision": "16-true", "passed": False, "step_time_s": 0.10, "deviation": None},
    ]
    assert winner(runs) == "bf16-mixed"
    runs[2]["step_time_s"] = 0.40
    assert winner(runs) == "bf16-true"
    assert winner([dict(runs[3])]) is None


def test_default_candidates_by_hardware():
    assert default_candidates("cuda", (9, 0)) == ["32-true", "bf16-mixed", "16-mixed", "bf16-true"]
    assert default_candidates("cuda", (7, 5)) == ["32-true", "16-mixed", "16-true"]
    assert default_candidates("cpu", None) == ["32-true", "bf16-mixed", "bf16-true"]
    with_nf4 = ["32-true", "nf4", "bf16-mixed", "16-mixed", "bf16-true"]
    assert default_candidates("cuda", (8, 0), extra=["nf4"]) == with_nf4


def test_parse_candidates():
    assert parse_candidates("bf16-mixed, 32-true,nf4") == ["32-true", "bf16-mixed", "nf4"]
    with pytest.raises(ValueError, match="unknown candidate 'bf16-mix'; did you mean 'bf16-mixed'"):
        parse_candidates("bf16-mix")
    with pytest.raises(ValueError, match="empty"):
        parse_candidates(" , ")

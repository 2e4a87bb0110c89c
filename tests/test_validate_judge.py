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


def runs(*means, within=None):
    return [{"mean": m, "within": within} for m in means]


def test_run_to_run_spread_is_pooled_over_precisions_on_a_log_scale():
    s, df = speed.spread([runs(1.0, 1.1), runs(2.0, 2.2), runs(5.0)])  # the single run adds nothing
    assert df == 2 and s == pytest.approx(math.log(1.1) / math.sqrt(2))
    assert speed.spread([runs(1.0), runs(2.0)]) == (None, 0)  # nothing ran twice: no spread, no winner
    # two runs that agree by chance do not hide the windows' own spread
    assert speed.spread([runs(1.0, 1.0, within=0.01)])[0] == pytest.approx(0.1)
    assert speed.run_time([1.0, 2.0, 3.0]) == {"mean": 2.0, "within": pytest.approx(1 / 3 / 4)}


def test_t_quantiles_match_the_tables():
    textbook = {(0.975, 1): 12.706, (0.975, 3): 3.182, (0.975, 6): 2.447, (0.975, 30): 2.042, (0.99, 10): 2.764,
                (0.995, 3): 5.841, (0.9995, 2): 31.599}
    for (p, df), value in textbook.items():
        assert speed.t_quantile(p, df) == pytest.approx(value, abs=1e-3), (p, df)
    assert speed.t_quantile(0.975, 0) == math.inf


def test_ratio_interval_and_summary():
    value = speed.ratio(runs(2.0, 2.0), runs(1.0, 1.0), 0.1, 3)
    half = speed.t95(3) * 0.1 * math.sqrt(1 / 2 + 1 / 2)
    assert value == {"ratio": 2.0, "low": pytest.approx(2 * math.exp(-half)), "high": pytest.approx(2 * math.exp(half))}
    assert speed.ratio(runs(2.0), runs(1.0), None, 0) == {"ratio": 2.0, "low": None, "high": None}
    summary = speed.summarize(runs(1.0, 4.0), 16, 0.1, 3)
    assert summary["step_time_s"] == pytest.approx(2.0) and summary["windows"] == 16
    assert summary["ci_s"] == pytest.approx(2.0 * (math.exp(speed.t95(3) * 0.1 / math.sqrt(2)) - 1))
    assert speed.summarize(runs(1.0), 8, None, 0)["ci_s"] == math.inf


def test_interleaved_rounds_cancel_a_drifting_load():
    from advisor.validate.session import interleaved
    assert interleaved(["32-true", "a", "b"], 2) == ["b", "a", "32-true"]
    assert interleaved(["32-true", "a"], 1) == ["32-true"]  # one round: only the baseline's repeat
    assert interleaved(["32-true", "a"], 3) == ["a", "32-true", "32-true", "a", "32-true"]
    # the machine slows 10% per run; in the order 32-true, a, a, 32-true both average the same load
    slowing = [1.1 ** i for i in range(4)]
    timed = {"32-true": runs(slowing[0], slowing[3]), "a": runs(slowing[1], slowing[2])}
    s, df = speed.spread(timed.values())
    assert speed.ratio(timed["a"], timed["32-true"], s, df)["ratio"] == pytest.approx(1.0)
    assert speed.verdict(timed, s, df) == {"winner": None, "tied": ["32-true", "a"]}


def test_a_winner_only_when_its_whole_interval_is_beyond_the_tie_band():
    timed = {"32-true": runs(1.0, 1.02), "bf16-mixed": runs(0.5, 0.51), "bf16-true": runs(0.52, 0.5)}
    s, df = speed.spread(timed.values())
    assert speed.verdict(timed, s, df) == {"winner": None, "tied": ["bf16-mixed", "bf16-true"]}
    timed["bf16-true"] = runs(0.9, 0.92)
    assert speed.verdict(timed, s, df) == {"winner": "bf16-mixed", "tied": ["bf16-mixed"]}
    assert speed.verdict(timed, 0.5, df)["winner"] is None  # a noisy machine: nothing is significant
    assert speed.verdict(timed, None, 0)["winner"] is None  # no spread measured: nothing is significant
    close = {"32-true": runs(1.0, 1.0), "bf16-mixed": runs(0.92, 0.92)}  # 8% faster, known exactly: inside the band
    assert speed.verdict(close, 1e-9, 2)["winner"] is None
    beyond = {"32-true": runs(1.0, 1.0), "bf16-mixed": runs(0.88, 0.88)}  # 12% faster: beyond the 10% band
    assert speed.verdict(beyond, 1e-9, 2)["winner"] == "bf16-mixed"
    assert speed.verdict(close, 1e-9, 2, band=0.05)["winner"] == "bf16-mixed"  # --min-speedup 0.05: 8% wins
    assert speed.verdict(beyond, 1e-9, 2, band=0.15)["winner"] is None  # --min-speedup 0.15: 12% does not
    assert speed.verdict({"32-true": runs(1.0)}, None, 0) == {"winner": "32-true", "tied": ["32-true"]}
    assert speed.verdict({}, None, 0) == {"winner": None, "tied": []}


def test_more_candidates_need_more_evidence_for_a_winner():
    # the winner is picked from the data, so each of its comparisons is at level 5% / (passing precisions)
    assert speed.verdict_quantile(2, 4) == pytest.approx(speed.t95(4))  # two: the plain 95% interval
    assert speed.verdict_quantile(3, 4) == pytest.approx(speed.t_quantile(1 - 0.05 / 3, 4))
    pair = {"32-true": runs(1.0, 1.0), "bf16-mixed": runs(0.78, 0.78)}  # 22% faster, spread 5% on 4 df
    assert speed.verdict(pair, 0.05, 4)["winner"] == "bf16-mixed"
    three = {**pair, "bf16-true": runs(1.0, 1.0)}  # the same 22% is within the corrected interval
    assert speed.verdict(three, 0.05, 4) == {"winner": None, "tied": ["32-true", "bf16-mixed", "bf16-true"]}


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


def test_a_candidate_passes_only_when_its_interleaved_repeat_does_too():
    from advisor.validate.session import judge_runs
    assert judge_runs(BASE, [run(BASE), run(BASE)], None, 3.0, 0.02)["passed"]
    crashed = judge_runs(BASE, [run(BASE), run([], error="MemoryError: out of memory")], None, 3.0, 0.02)
    assert not crashed["passed"] and crashed["reason"] == "repeat run: crashed: MemoryError: out of memory"

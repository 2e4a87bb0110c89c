"""Pass/fail for each candidate and the winner: pure functions of recorded runs.

A run is a dict with `precision`, `losses` (per step, NaN/inf kept),
`skipped_steps`, `step_time_s`, and `error` (a one-line crash, or None).
A candidate passes when every loss is finite, the GradScaler skipped few
steps, and its loss curve stays within `tolerance` x the baseline's noise of
the baseline. Noise is the median step-to-step change of the baseline loss
(at least 1% of its median loss, for curves that barely move); the gap is the
mean of (candidate - baseline) over a sliding window, so single-step jitter
cancels and a systematic drift does not.
"""
from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

DEFAULT_TOLERANCE = 3.0
WINDOW = 5
TIE = 0.05  # step times within 5% of the fastest count as a tie
MIN_NOISE_FRACTION = 0.01


def allowed_skips(steps: int) -> int:
    """A few skipped steps are normal while the GradScaler finds its scale."""
    return max(3, steps // 10)


def noise(baseline: Sequence[float]) -> float:
    """The baseline's own step-to-step noise, floored at 1% of its median loss."""
    steps = [abs(b - a) for a, b in itertools.pairwise(baseline)]
    floor = MIN_NOISE_FRACTION * statistics.median(abs(x) for x in baseline) if baseline else 0.0
    return max(statistics.median(steps) if steps else 0.0, floor, 1e-12)


def deviation(baseline: Sequence[float], losses: Sequence[float]) -> float:
    """Largest windowed mean gap between the curves, in units of the baseline's noise."""
    gaps = [c - b for b, c in zip(baseline, losses, strict=False)]
    width = min(WINDOW, len(gaps)) or 1
    worst = max((abs(sum(gaps[i:i + width]) / width) for i in range(len(gaps) - width + 1)), default=0.0)
    return worst / noise(baseline)


def judge(baseline: Sequence[float], run: dict, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """{"passed", "reason", "deviation", "nan"} for one run against the baseline's losses."""
    losses = run.get("losses") or []
    bad = [i for i, x in enumerate(losses) if not math.isfinite(x)]
    verdict = {"passed": False, "deviation": None, "nan": len(bad)}
    if run.get("error"):
        return {**verdict, "reason": f"crashed: {run['error']}"}
    if not losses:
        return {**verdict, "reason": "no loss recorded (training_step returned no loss)"}
    if bad:
        return {**verdict, "reason": f"loss not finite at {len(bad)} of {len(losses)} steps, "
                                     f"first at step {bad[0] + 1}"}
    skips = run.get("skipped_steps") or 0
    if skips > allowed_skips(len(losses)):
        return {**verdict, "reason": f"GradScaler skipped {skips} of {len(losses)} steps "
                                     f"(allowed {allowed_skips(len(losses))})"}
    gap = deviation(baseline, losses)
    verdict.update(deviation=gap)
    if gap > tolerance:
        return {**verdict, "reason": f"loss drifts {gap:.1f}x the baseline's noise from the baseline "
                                     f"(tolerance {tolerance:g})"}
    return {**verdict, "passed": True, "reason": f"loss within {gap:.2f}x the baseline's noise"}


def winner(runs: Sequence[dict]) -> str | None:
    """The fastest passing run's precision; near-ties (within 5%) go to the smaller deviation."""
    timed = [r for r in runs if r.get("passed") and r.get("step_time_s")]
    if not timed:
        return None
    fastest = min(r["step_time_s"] for r in timed)
    tied = [r for r in timed if r["step_time_s"] <= fastest * (1 + TIE)]
    return min(tied, key=lambda r: (r["deviation"] or 0.0, r["step_time_s"]))["precision"]

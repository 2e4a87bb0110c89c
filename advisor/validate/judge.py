"""Pass/fail for each candidate: pure functions of recorded runs.

A run is a dict with `precision`, `effective_precision`, `losses` (one per
optimizer step, NaN/inf kept), `skipped_steps` and `error` (a one-line crash,
or None). A candidate passes when Lightning ran exactly the precision asked
for, every loss is finite, the GradScaler skipped few steps, and its loss
curve stays near the baseline's: at every window of steps the mean gap
(candidate - baseline) is within

    tolerance x noise + rtol x |baseline loss in that window|

where noise is the largest of the baseline's median step-to-step change, the
gap between two seed-identical baseline runs (run-to-run spread), and 1% of
the loss scale early in the run. The early scale keeps the allowance
meaningful once the loss reaches zero (a memorised or separable problem),
where the curve's own noise vanishes.
"""
from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

DEFAULT_TOLERANCE = 3.0
DEFAULT_RTOL = 0.02
WINDOW = 5
EARLY_STEPS = 5
EARLY_FRACTION = 0.01
NOT_VALIDATED = "not validated here"


def allowed_skips(steps: int) -> int:
    """A few skipped steps are normal while the GradScaler finds its scale (from 2^16 down)."""
    return max(3, steps // 10)


def early_scale(baseline: Sequence[float]) -> float:
    """The largest |loss| of the first steps: the size of the problem before it is solved
    (a loss can reach zero from the second step on)."""
    return max((abs(x) for x in baseline[:EARLY_STEPS]), default=0.0)


def _windows(values: Sequence[float]) -> list[float]:
    width = min(WINDOW, len(values)) or 1
    return [sum(values[i:i + width]) / width for i in range(len(values) - width + 1)]


def spread(baseline: Sequence[float], repeat: Sequence[float] | None) -> float:
    """The largest windowed gap between two seed-identical baseline runs (0 when deterministic)."""
    if not repeat:
        return 0.0
    return max((abs(g) for g in _windows([b - a for a, b in zip(baseline, repeat, strict=False)])), default=0.0)


def noise(baseline: Sequence[float], repeat: Sequence[float] | None = None) -> float:
    """The absolute loss change that means nothing: step noise, run-to-run spread or 1% of the early loss."""
    steps = [abs(b - a) for a, b in itertools.pairwise(baseline)]
    return max(statistics.median(steps) if steps else 0.0, spread(baseline, repeat),
               EARLY_FRACTION * early_scale(baseline), 1e-12)


def deviation(baseline: Sequence[float], losses: Sequence[float], repeat: Sequence[float] | None = None,
              tolerance: float = DEFAULT_TOLERANCE, rtol: float = DEFAULT_RTOL) -> float:
    """The worst window's gap as a share of what that window allows (pass when <= 1)."""
    absolute = tolerance * noise(baseline, repeat)
    gaps = _windows([c - b for b, c in zip(baseline, losses, strict=False)])
    levels = _windows([abs(b) for b in baseline[:len(losses)]])
    return max((abs(gap) / (absolute + rtol * level) for gap, level in zip(gaps, levels, strict=False)), default=0.0)


def judge(baseline: Sequence[float], run: dict, repeat: Sequence[float] | None = None,
          tolerance: float = DEFAULT_TOLERANCE, rtol: float = DEFAULT_RTOL) -> dict:
    """{"passed", "status", "reason", "deviation", "nan"} for one run against the baseline's losses."""
    losses = run.get("losses") or []
    bad = [i for i, x in enumerate(losses) if not math.isfinite(x)]
    verdict = {"passed": False, "status": "fail", "deviation": None, "nan": len(bad)}
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
    gap = deviation(baseline, losses, repeat, tolerance, rtol)
    verdict.update(deviation=gap)
    parity = f"loss within {gap:.0%} of the allowed gap" if gap <= 1 else \
        f"loss drifts {gap:.1f}x the allowed gap from the baseline (tolerance {tolerance:g} x noise + {rtol:g} x loss)"
    effective = run.get("effective_precision")
    if effective and effective != run["precision"]:
        return {**verdict, "status": NOT_VALIDATED,
                "reason": f"{NOT_VALIDATED}: Lightning ran {effective} instead ({parity} as {effective})"}
    if gap > 1:
        return {**verdict, "reason": parity}
    return {**verdict, "passed": True, "status": "pass", "reason": parity}

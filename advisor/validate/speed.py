"""Step-time statistics and the speed verdict: pure functions of recorded times.

Each run's timed steps (after warm-up) are cut into consecutive windows; the
median of each window is one sample, so a single slow step (a page fault, a
neighbour process) moves one sample only. A run's speed is the mean of its
samples with a 95% confidence interval (Student's t), widened by the
run-to-run spread: the relative difference between two seed-identical baseline
runs, at least RUN_TO_RUN_FLOOR, because candidates run in separate processes
at different moments on a machine that others may share. A candidate wins only
when its interval lies wholly below every other passing run's; otherwise the
verdict is "no significant difference" and the recommendation stays.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

TARGET_WINDOWS = 8
RUN_TO_RUN_FLOOR = 0.05
# two-sided 95% Student t quantiles by degrees of freedom; larger df use the nearest smaller key
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    return _T95[max(k for k in _T95 if k <= df)] if df >= 1 else math.inf


def window_samples(times: Sequence[float]) -> list[float]:
    """The median step time of each of about TARGET_WINDOWS consecutive windows."""
    width = max(1, len(times) // TARGET_WINDOWS)
    return [statistics.median(times[i:i + width]) for i in range(0, len(times) - width + 1, width)]


def summarize(samples: Sequence[float]) -> dict:
    """{"step_time_s": mean, "ci_s": 95% half-width (inf with one sample), "windows": n}."""
    if not samples:
        return {"step_time_s": None, "ci_s": None, "windows": 0}
    mean = statistics.fmean(samples)
    half = t95(len(samples) - 1) * statistics.stdev(samples) / math.sqrt(len(samples)) if len(samples) > 1 else math.inf
    return {"step_time_s": mean, "ci_s": half, "windows": len(samples)}


def run_to_run(first: float | None, second: float | None) -> float:
    """Relative difference of two identical runs' mean step times, floored at RUN_TO_RUN_FLOOR."""
    if not first or not second:
        return RUN_TO_RUN_FLOOR
    return max(RUN_TO_RUN_FLOOR, abs(first - second) / ((first + second) / 2))


def interval(run: dict, relative: float) -> tuple[float, float]:
    """(low, high) bounds of a run's mean step time: the t interval, widened by the run-to-run spread."""
    mean, half = run["step_time_s"], run["ci_s"]
    return mean * (1 - relative) - half, mean * (1 + relative) + half


def verdict(runs: Sequence[dict], relative: float) -> dict:
    """{"winner": name | None, "tied": [names]} over the passing, timed runs (the baseline among them).

    `tied` lists the runs not significantly slower than the fastest; a winner
    exists only when that is the fastest alone.
    """
    timed = [r for r in runs if r.get("passed") and r.get("step_time_s")]
    if not timed:
        return {"winner": None, "tied": []}
    fastest = min(timed, key=lambda r: r["step_time_s"])
    _, high = interval(fastest, relative)
    tied = [r["precision"] for r in timed if interval(r, relative)[0] <= high]
    return {"winner": fastest["precision"] if tied == [fastest["precision"]] else None, "tied": tied}

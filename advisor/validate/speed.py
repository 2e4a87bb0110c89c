"""Step-time statistics and the speed verdict: pure functions of recorded times.

Every precision runs twice, interleaved (32-true, the candidates, the
candidates again in reverse order, 32-true again), so a load that drifts over
the session slows every precision alike on average. Each run's timed steps are
cut into consecutive windows; the median of each window is one sample (a
single slow step moves one sample only) and a run's time is the mean of its
samples. Two precisions are compared by the log ratio of their runs' geometric
means, with a 95% Student-t interval whose spread is the run-to-run variation
pooled over every precision timed twice (one degree of freedom each), never
less than the windows' own spread. A precision wins only when, against every
other passing precision, its whole interval lies beyond the tie band
(TIE_BAND faster); otherwise the verdict is "no significant difference".
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

TARGET_WINDOWS = 8
TIE_BAND = 0.05
# two-sided 95% Student t quantiles by degrees of freedom; larger df use the nearest smaller key
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    return _T95[max(k for k in _T95 if k <= df)] if df >= 1 else math.inf


def window_samples(times: Sequence[float]) -> list[float]:
    """The median step time of each of about TARGET_WINDOWS consecutive windows."""
    width = max(1, len(times) // TARGET_WINDOWS)
    return [statistics.median(times[i:i + width]) for i in range(0, len(times) - width + 1, width)]


def run_time(samples: Sequence[float]) -> dict:
    """One run: {"mean": its samples' mean, "within": the variance of log(mean) from its windows (or None)}."""
    mean = statistics.fmean(samples)
    within = statistics.variance(samples) / len(samples) / mean ** 2 if len(samples) > 1 and mean > 0 else None
    return {"mean": mean, "within": within}


def spread(runs_by_precision: Sequence[Sequence[dict]]) -> tuple[float | None, int]:
    """(s, df): the standard deviation of log run time around its precision's mean, pooled.

    A precision timed r times gives r - 1 degrees of freedom. s is at least
    the largest windows' spread of one run's mean, so two runs that agree by
    chance do not make a noisy machine look quiet. None when nothing ran twice.
    """
    squares, df, within = 0.0, 0, [0.0]
    for runs in runs_by_precision:
        logs = [math.log(r["mean"]) for r in runs if r["mean"] > 0]
        within += [r["within"] for r in runs if r["within"] is not None]
        if len(logs) > 1:
            centre = statistics.fmean(logs)
            squares += sum((x - centre) ** 2 for x in logs)
            df += len(logs) - 1
    if not df:
        return None, 0
    return math.sqrt(max(squares / df, max(within))), df


def level(runs: Sequence[dict]) -> float:
    """A precision's time: the geometric mean of its runs' times."""
    return math.exp(statistics.fmean(math.log(r["mean"]) for r in runs))


def ratio(runs: Sequence[dict], reference: Sequence[dict], s: float | None, df: int) -> dict:
    """{"ratio", "low", "high"}: time(runs) / time(reference) with its 95% interval (None bounds without s)."""
    value = level(runs) / level(reference)
    if s is None:
        return {"ratio": value, "low": None, "high": None}
    half = t95(df) * s * math.sqrt(1 / len(runs) + 1 / len(reference))
    return {"ratio": value, "low": value * math.exp(-half), "high": value * math.exp(half)}


def summarize(runs: Sequence[dict], samples: int, s: float | None, df: int) -> dict:
    """{"step_time_s", "ci_s" (95% half-width, inf without a spread), "windows", "run_step_times_s"}
    of one precision."""
    if not runs:
        return {"step_time_s": None, "ci_s": None, "windows": 0, "run_step_times_s": []}
    value = level(runs)
    half = math.inf if s is None else value * (math.exp(t95(df) * s / math.sqrt(len(runs))) - 1)
    return {"step_time_s": value, "ci_s": half, "windows": samples, "run_step_times_s": [r["mean"] for r in runs]}


def faster(interval: dict) -> bool:
    """Whether a ratio's whole interval lies beyond the tie band on the fast side."""
    return interval["high"] is not None and interval["high"] < 1 / (1 + TIE_BAND)


def verdict(timed: dict[str, Sequence[dict]], s: float | None, df: int) -> dict:
    """{"winner": name | None, "tied": [names]} over the passing precisions' runs (the baseline among them).

    `tied` lists the fastest and every precision it is not significantly faster
    than; a winner exists only when that is the fastest alone.
    """
    if not timed:
        return {"winner": None, "tied": []}
    fastest = min(timed, key=lambda name: level(timed[name]))
    tied = [name for name in timed
            if name == fastest or not faster(ratio(timed[fastest], timed[name], s, df))]
    return {"winner": fastest if tied == [fastest] else None, "tied": tied}

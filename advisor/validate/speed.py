"""Step-time statistics and the speed verdict: pure functions of recorded times.

Every precision runs several times, interleaved (32-true, the candidates,
the candidates again in reverse order, ...), so a load that drifts over the
session slows every precision alike on average. Each run's timed steps are
cut into consecutive windows; the median of each window is one sample (a
single slow step moves one sample only) and a run's time is the mean of its
samples. Two precisions are compared by the log ratio of their runs'
geometric means, with a Student-t interval whose spread is the run-to-run
variation pooled over every precision timed more than once, never less than
the windows' own spread. The winner is picked from the data among m passing
precisions, so its comparisons use one-sided level FALSE_WINNER / m each
(Bonferroni): noise alone names a winner at most FALSE_WINNER of the time,
however many candidates run. A precision wins only when, against every other
passing precision, that interval lies beyond the tie band (TIE_BAND faster:
the minimum practical effect); otherwise the verdict is "no significant
difference".
"""
from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence

TARGET_WINDOWS = 8
# The minimum practical effect. A precision change for less is not worth its numeric risk, and on a shared
# CPU the ratio between two precisions itself moves with the host's load: the same bf16/fp32 pair of steps
# measured 1.02x in a quiet moment and 1.4-1.7x in busy ones (docs/validate.md, Stability), which no
# interval over one session's runs can remove.
TIE_BAND = 0.10
FALSE_WINNER = 0.05  # the most often noise alone may name a winner, over all the candidates together


def t_quantile(p: float, df: int) -> float:
    """The p quantile (p >= 0.5) of Student's t with df degrees of freedom (inf without any)."""
    if df < 1:
        return math.inf
    return _t_quantile(p, df)


@functools.cache
def _t_quantile(p: float, df: int) -> float:
    low, high = 0.0, 1.0
    while _t_central(high, df) < p - 0.5:
        high *= 2
    for _ in range(60):  # bisection to float precision
        middle = (low + high) / 2
        low, high = (middle, high) if _t_central(middle, df) < p - 0.5 else (low, middle)
    return (low + high) / 2


def _t_central(x: float, df: int, intervals: int = 400) -> float:
    """P(0 < T < x): Simpson's rule on t's density (smooth, so 400 intervals give 6+ digits)."""
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = x / intervals
    weights = (1 if i in (0, intervals) else 4 if i % 2 else 2 for i in range(intervals + 1))
    return h / 3 * sum(w * scale * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i, w in enumerate(weights))


def t95(df: int) -> float:
    """The two-sided 95% quantile: the intervals the report shows."""
    return t_quantile(0.975, df)


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


def ratio(runs: Sequence[dict], reference: Sequence[dict], s: float | None, df: int, t: float | None = None) -> dict:
    """{"ratio", "low", "high"}: time(runs) / time(reference) with its interval (None bounds without s).

    The interval is the two-sided 95% one unless `t` gives another quantile.
    """
    value = level(runs) / level(reference)
    if s is None:
        return {"ratio": value, "low": None, "high": None}
    half = (t95(df) if t is None else t) * s * math.sqrt(1 / len(runs) + 1 / len(reference))
    return {"ratio": value, "low": value * math.exp(-half), "high": value * math.exp(half)}


def summarize(runs: Sequence[dict], samples: int, s: float | None, df: int) -> dict:
    """{"step_time_s", "ci_s" (95% half-width, inf without a spread), "windows", "run_step_times_s"}
    of one precision."""
    if not runs:
        return {"step_time_s": None, "ci_s": None, "windows": 0, "run_step_times_s": []}
    value = level(runs)
    half = math.inf if s is None else value * (math.exp(t95(df) * s / math.sqrt(len(runs))) - 1)
    return {"step_time_s": value, "ci_s": half, "windows": samples, "run_step_times_s": [r["mean"] for r in runs]}


def faster(interval: dict, band: float = TIE_BAND) -> bool:
    """Whether a ratio's whole interval lies beyond the tie band (`band` faster) on the fast side."""
    return interval["high"] is not None and interval["high"] < 1 / (1 + band)


def verdict_quantile(compared: int, df: int) -> float:
    """The t quantile of each comparison in the verdict among `compared` passing precisions (Bonferroni)."""
    return t_quantile(1 - FALSE_WINNER / max(compared, 2), df)


def verdict(timed: dict[str, Sequence[dict]], s: float | None, df: int, band: float = TIE_BAND) -> dict:
    """{"winner": name | None, "tied": [names]} over the passing precisions' runs (the baseline among them).

    `tied` lists the fastest and every precision it is not significantly more
    than `band` faster than; a winner exists only when that is the fastest alone.
    """
    if not timed:
        return {"winner": None, "tied": []}
    fastest = min(timed, key=lambda name: level(timed[name]))
    t = verdict_quantile(len(timed), df)
    tied = [name for name in timed
            if name == fastest or not faster(ratio(timed[fastest], timed[name], s, df, t), band)]
    return {"winner": fastest if tied == [fastest] else None, "tied": tied}

"""Run every precision in interleaved rounds, each run in its own child, and judge them.

`validate_candidates(...)` is the whole validation as one call returning the
JSON report (a dict); the CLI and `check --fix --validate` both use it. Each
round runs the previous one's order reversed (32-true, the candidates; the
passing candidates in reverse order, 32-true; ...), ending with 32-true
(seed-identical): a load that drifts over the session hits every precision
alike, the first and last baseline runs measure the loss's run-to-run
spread, and the repeats the speed's, which the verdicts allow for.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from advisor.hardware import table as hardware_table
from advisor.isolation import run_isolated
from advisor.validate import judge, speed
from advisor.validate.candidates import BASELINE, default_candidates, with_baseline
from advisor.validate.machine import advised, target_for
from advisor.validate.script import ScriptError, read_settings

RUNNER = "advisor.validate.runner:run_candidate"
REPORT_VERSION = 3
# 3 rounds: the speed spread gets 2 degrees of freedom per passing precision (2 rounds gave 1: an
# estimate from so few comes out under half its true size 1 time in 7, and a noisy machine looks quiet)
DEFAULT_ROUNDS = 3


class ValidationError(Exception):
    """Validation could not happen at all (bad script, the baseline did not run); one line for the user."""


def validate_candidates(
    script: str,
    candidates: Iterable[str] | None = None,
    *,
    model: str | None = None,
    datamodule: str | None = None,
    synthetic: bool = False,
    steps: int = 50,
    warmup: int = 5,
    seed: int = 0,
    tolerance: float = judge.DEFAULT_TOLERANCE,
    rtol: float = judge.DEFAULT_RTOL,
    rounds: int = DEFAULT_ROUNDS,
    min_speedup: float = speed.TIE_BAND,
    timeout: float = 900.0,
    memory_limit_bytes: int | None = None,
    target: str | hardware_table.Gpu | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train `32-true` and each candidate (default: the advisor's picks and the hardware's), then `rounds - 1`
    more rounds of the baseline and the passing candidates, each round in the previous one's order reversed,
    ending with `32-true`.

    `target` is the GPU the advice is for (a name or table row; default: this
    machine). Returns the report (see docs/validate.md); the baseline is the
    first entry of "candidates". Raises ValidationError when the script is not
    a Python file or the baseline fails. `on_progress` receives
    {"event": "start"|"done", "candidate", "index", "count", "ok"} and the
    child's {"candidate", "step", "total"} events.
    """
    try:
        settings = read_settings(script)
        target = hardware_table.lookup(target) if isinstance(target, str) else target
    except (ScriptError, hardware_table.UnknownGpu) as exc:
        raise ValidationError(str(exc)) from None
    payload = {"script": script, "model": model, "datamodule": datamodule, "synthetic": synthetic,
               "steps": steps, "warmup": warmup, "seed": seed, "trainer": settings.trainer,
               "matmul_precision": settings.matmul_precision, "memory_limit": memory_limit_bytes}
    notify = on_progress or (lambda event: None)
    names = with_baseline(candidates) if candidates is not None else [BASELINE]

    def run(name: str, index: int, count: int | None) -> dict:
        notify({"event": "start", "candidate": name, "index": index, "count": count})
        outcome = run_isolated(RUNNER, {**payload, "candidate": name}, timeout=timeout, on_progress=notify)
        notify({"event": "done", "candidate": name, "index": index, "count": count, "ok": outcome.ok})
        return {"precision": name,
                **(outcome.value if outcome.ok else {"error": outcome.error, "error_type": outcome.error_type})}

    planned = len(names) + len(interleaved(names, rounds))
    runs = [run(BASELINE, 1, planned if candidates is not None else None)]
    if runs[0].get("error"):
        cause = "" if runs[0]["error_type"] == "ModelLoadError" else f"baseline {BASELINE} failed: "
        raise ValidationError(cause + runs[0]["error"])
    if any(not math.isfinite(x) for x in runs[0]["losses"]):
        raise ValidationError(f"baseline {BASELINE} loss is not finite; fix the model in fp32 first")
    found = runs[0]["hardware"]
    advice = advised(target or target_for(found))
    if candidates is None:
        names = default_candidates(found["device"], found["capability"],
                                   extra=[*advice, *([settings.precision] if settings.precision else [])])
    planned = len(names) + len(interleaved(names, rounds))
    runs += [run(name, index, planned) for index, name in enumerate(names[1:], start=2)]
    first = {r["precision"]: judge.judge(runs[0]["losses"], r, None, tolerance, rtol) for r in runs[1:]}
    rest = interleaved([name for name in names if name == BASELINE or first[name]["passed"]], rounds)
    count = len(names) + len(rest)  # a failed candidate needs no timing: it is not run again
    runs += [run(name, index, count) for index, name in enumerate(rest, start=len(names) + 1)]
    recommended = names[1] if candidates is not None and len(names) > 1 else \
        next((pick for pick in [*advice, settings.precision] if pick in names), BASELINE)
    return _report(script, payload, settings, runs, recommended, target, tolerance, rtol, min_speedup)


def interleaved(names: list[str], rounds: int) -> list[str]:
    """The runs after the first round (`names`, the baseline first): each round runs the previous one's
    order reversed, so a load that drifts over the session hits every precision alike; the baseline
    also runs last, seed-identical, for the loss's run-to-run spread."""
    order = [name for extra in range(1, rounds) for name in (names[::-1] if extra % 2 else names)]
    return order if order and order[-1] == BASELINE else [*order, BASELINE]


def _report(script, payload, settings, runs, recommended, target, tolerance, rtol, min_speedup) -> dict:
    """Judge every precision on all its runs (loss on the first, speed on the interleaved pair)."""
    baseline, repeat = runs[0], runs[-1]
    repeat_losses = None if repeat.get("error") else repeat["losses"]
    by_name: dict[str, list[dict]] = {}
    for r in runs:
        by_name.setdefault(r["precision"], []).append(r)
    verdicts = {BASELINE: {"passed": True, "status": "baseline", "reason": "baseline", "deviation": 0.0, "nan": 0}}
    verdicts.update({name: judge_runs(baseline["losses"], own, repeat_losses, tolerance, rtol)
                     for name, own in by_name.items() if name != BASELINE})
    timings = {name: _timings(own) for name, own in by_name.items()}
    s, df = speed.spread([t for t, _ in timings.values()])
    entries = [_entry(own[0], verdicts[name], *timings[name], timings[BASELINE][0], s, df)
               for name, own in by_name.items()]
    outcome = speed.verdict({e["precision"]: timings[e["precision"]][0] for e in entries
                             if e["passed"] and timings[e["precision"]][0]}, s, df, min_speedup)
    focus = next(e for e in entries if e["precision"] == recommended)
    representative, speed_note = _representative(baseline["hardware"], target)
    return {
        "version": REPORT_VERSION, "script": script, "model": baseline["model"], "hardware": baseline["hardware"],
        "target": target.name if target else None, "speed_representative": representative, "speed_note": speed_note,
        "steps": payload["steps"], "warmup": payload["warmup"], "seed": payload["seed"],
        "tolerance": tolerance, "rtol": rtol, **settings.to_json(),
        "trainer_notes": baseline.get("trainer_notes") or [],
        "effective_matmul_precision": baseline.get("matmul_precision"),
        "timing": {"clock": baseline.get("clock"), "threads": baseline.get("threads"),
                   "order": [r["precision"] for r in runs], "tie_band": min_speedup, "df": df,
                   "false_winner": speed.FALSE_WINNER},
        "noise": {"loss": judge.noise(baseline["losses"], repeat_losses),
                  "run_to_run_loss": judge.spread(baseline["losses"], repeat_losses) if repeat_losses else None,
                  "run_to_run_speed": s, "repeat_error": repeat.get("error")},
        "baseline": BASELINE, "candidates": entries,
        "recommended": recommended, "recommended_passed": focus["passed"],
        "winner": outcome["winner"], "tied": outcome["tied"], "verdict": _verdict(outcome, focus),
    }


def judge_runs(baseline: list, own: list[dict], repeat_losses, tolerance: float, rtol: float) -> dict:
    """A candidate's verdict: its first run's, unless its interleaved repeat did worse."""
    verdict = judge.judge(baseline, own[0], repeat_losses, tolerance, rtol)
    for again in own[1:]:
        second = judge.judge(baseline, again, repeat_losses, tolerance, rtol)
        if verdict["passed"] and not second["passed"]:
            return {**second, "reason": f"repeat run: {second['reason']}"}
    return verdict


def _timings(own: list[dict]) -> tuple[list[dict], int]:
    """(each timed run's {"mean", "within"}, the number of window samples) of one precision."""
    samples = [speed.window_samples(r.get("step_times_s") or []) for r in own if not r.get("error")]
    return [speed.run_time(x) for x in samples if x], sum(len(x) for x in samples)


def _entry(run: dict, verdict: dict, timed: list[dict], samples: int, base: list[dict], s, df) -> dict:
    keys = ("precision", "effective_precision", "plugin", "losses", "skipped_steps", "peak_memory_bytes", "note")
    timing = speed.summarize(timed, samples, s, df)
    per_step = run.get("samples_per_step")
    throughput = per_step / timing["step_time_s"] if per_step and timing["step_time_s"] else None
    versus = speed.ratio(timed, base, s, df) if timed and base and run["precision"] != BASELINE else None
    return {**{key: run.get(key) for key in keys}, **timing, "throughput": throughput,
            "speed_ratio": versus, **verdict}


def _verdict(outcome: dict, focus: dict) -> str:
    keep = f"keep {focus['precision']}" if focus["passed"] else f"{focus['precision']} did not pass"
    if outcome["winner"]:
        return f"{outcome['winner']} is faster than every other passing run beyond the measured spread"
    return f"no significant difference between {', '.join(outcome['tied'])}: {keep}"


def _representative(found: dict, target: hardware_table.Gpu | None) -> tuple[bool, str]:
    """Whether these timings say something about the machine the advice is for."""
    if found["device"] == "cpu":
        return False, "ran on a CPU: timings say little about a GPU"
    if target is not None and target_for(found).key != target.key:
        return False, f"ran on {found['name']}, the advice is for {target.name}"
    return True, f"ran on {found['name']}"

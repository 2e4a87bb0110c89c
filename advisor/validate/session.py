"""Run the baseline, every candidate and a repeat of the baseline, each in its own child, and judge them.

`validate_candidates(...)` is the whole validation as one call returning the
JSON report (a dict); the CLI and `check --fix --validate` both use it. The
baseline runs twice, first and last, seed-identical: the two runs measure the
run-to-run spread of the loss and of the speed, which the verdicts allow for.
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
REPORT_VERSION = 2


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
    timeout: float = 900.0,
    memory_limit_bytes: int | None = None,
    target: str | hardware_table.Gpu | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train `32-true`, each candidate (default: the advisor's picks and the hardware's), then `32-true` again.

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

    runs = [run(BASELINE, 1, len(names) + 1 if candidates is not None else None)]
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
    runs += [run(name, index, len(names) + 1) for index, name in enumerate(names[1:], start=2)]
    repeat = run(BASELINE, len(names) + 1, len(names) + 1)
    recommended = names[1] if candidates is not None and len(names) > 1 else \
        next((pick for pick in [*advice, settings.precision] if pick in names), BASELINE)
    return _report(script, payload, settings, runs, repeat, recommended, target, tolerance, rtol)


def _report(script, payload, settings, runs, repeat, recommended, target, tolerance, rtol) -> dict:
    baseline = runs[0]
    repeat_losses = None if repeat.get("error") else repeat["losses"]
    entries = [_entry(run, judge.judge(baseline["losses"], run, repeat_losses, tolerance, rtol)) for run in runs[1:]]
    base_samples = speed.window_samples(baseline["step_times_s"])
    repeat_samples = [] if repeat.get("error") else speed.window_samples(repeat["step_times_s"])
    base = _entry(baseline, {"passed": True, "status": "baseline", "reason": "baseline", "deviation": 0.0,
                             "nan": 0}, base_samples + repeat_samples)
    entries.insert(0, base)
    relative = speed.run_to_run(speed.summarize(base_samples)["step_time_s"],
                                speed.summarize(repeat_samples)["step_time_s"])
    outcome = speed.verdict(entries, relative)
    focus = next(e for e in entries if e["precision"] == recommended)
    representative, speed_note = _representative(baseline["hardware"], target)
    return {
        "version": REPORT_VERSION, "script": script, "model": baseline["model"], "hardware": baseline["hardware"],
        "target": target.name if target else None, "speed_representative": representative, "speed_note": speed_note,
        "steps": payload["steps"], "warmup": payload["warmup"], "seed": payload["seed"],
        "tolerance": tolerance, "rtol": rtol, **settings.to_json(),
        "trainer_notes": baseline.get("trainer_notes") or [],
        "effective_matmul_precision": baseline.get("matmul_precision"),
        "noise": {"loss": judge.noise(baseline["losses"], repeat_losses),
                  "run_to_run_loss": judge.spread(baseline["losses"], repeat_losses) if repeat_losses else None,
                  "run_to_run_speed": relative, "repeat_error": repeat.get("error")},
        "baseline": BASELINE, "candidates": entries,
        "recommended": recommended, "recommended_passed": focus["passed"],
        "winner": outcome["winner"], "tied": outcome["tied"], "verdict": _verdict(outcome, focus),
    }


def _entry(run: dict, verdict: dict, samples: list | None = None) -> dict:
    keys = ("precision", "effective_precision", "plugin", "losses", "skipped_steps", "peak_memory_bytes", "note")
    timing = speed.summarize(samples if samples is not None else speed.window_samples(run.get("step_times_s") or []))
    per_step = run.get("samples_per_step")
    throughput = per_step / timing["step_time_s"] if per_step and timing["step_time_s"] else None
    return {**{key: run.get(key) for key in keys}, **timing, "throughput": throughput, **verdict}


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

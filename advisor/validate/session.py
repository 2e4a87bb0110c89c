"""Run the baseline and every candidate, each in its own child, and judge them.

`validate_candidates(...)` is the whole validation as one call returning the
JSON report (a dict); the CLI and `check --fix --validate` both use it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from advisor.isolation import run_isolated
from advisor.validate import judge
from advisor.validate.candidates import BASELINE, default_candidates, with_baseline
from advisor.validate.machine import advised

RUNNER = "advisor.validate.runner:run_candidate"
REPORT_VERSION = 1


class ValidationError(Exception):
    """Validation could not happen at all (the baseline did not run); one line for the user."""


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
    timeout: float = 900.0,
    memory_limit_bytes: int | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train `32-true` then each candidate (default: the hardware's) for warmup+steps steps.

    Returns the report: {"version", "script", "model", "hardware", "steps", "warmup",
    "seed", "tolerance", "baseline", "candidates": [...], "winner"}; the baseline is
    the first entry of "candidates". Raises ValidationError when the baseline fails.
    `on_progress` receives {"event": "start"|"done", "candidate", "index", "count"}
    and the child's {"candidate", "step", "total"} events.
    """
    payload = {"script": script, "model": model, "datamodule": datamodule, "synthetic": synthetic,
               "steps": steps, "warmup": warmup, "seed": seed}
    notify = on_progress or (lambda event: None)
    names = with_baseline(candidates) if candidates is not None else [BASELINE]
    runs: list[dict] = []
    while len(runs) < len(names):
        name = names[len(runs)]
        count = len(names) if candidates is not None or runs else None
        notify({"event": "start", "candidate": name, "index": len(runs) + 1, "count": count})
        outcome = run_isolated(RUNNER, {**payload, "candidate": name}, timeout=timeout,
                               memory_limit_bytes=memory_limit_bytes, on_progress=notify)
        run = {"precision": name, **(outcome.value if outcome.ok else {"error": outcome.error})}
        runs.append(run)
        notify({"event": "done", "candidate": name, "index": len(runs), "count": len(names), "ok": outcome.ok})
        if not runs[1:] and not outcome.ok:
            cause = "" if outcome.error_type == "ModelLoadError" else f"baseline {BASELINE} failed: "
            raise ValidationError(cause + outcome.error)
        if not runs[1:] and candidates is None:
            hardware = run["hardware"]
            names = default_candidates(hardware["device"], hardware["capability"], extra=advised(hardware))
    return _report(script, payload, runs, tolerance)


def _report(script: str, payload: dict, runs: list[dict], tolerance: float) -> dict:
    baseline = runs[0]
    if any(not math.isfinite(x) for x in baseline["losses"]):
        raise ValidationError(f"baseline {BASELINE} loss is not finite; fix the model in fp32 first")
    entries = [_entry(run, judge.judge(baseline["losses"], run, tolerance)) for run in runs]
    entries[0]["reason"] = "baseline"
    return {
        "version": REPORT_VERSION, "script": script, "model": baseline["model"], "hardware": baseline["hardware"],
        "steps": payload["steps"], "warmup": payload["warmup"], "seed": payload["seed"], "tolerance": tolerance,
        "baseline": BASELINE, "candidates": entries, "winner": judge.winner(entries),
    }


def _entry(run: dict, verdict: dict) -> dict:
    keys = ("precision", "effective_precision", "plugin", "losses", "skipped_steps", "step_time_s",
            "throughput", "peak_memory_bytes", "note")
    return {**{key: run.get(key) for key in keys}, **verdict}

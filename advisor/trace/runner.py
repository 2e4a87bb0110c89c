"""What runs in the child: find the models, count each on meta, trace it under the precision.

`run(payload)` is called by `advisor.isolation` in a fresh process; it
returns JSON-able facts: {"models": [...], "ops": [...], "errors": [...]}.
Strategies, cheapest first, when the model has an example input: the
dispatch recorder on a meta forward (dispatch-meta), then on a CPU build of
a small model (dispatch-cpu, for branches on values); both run under the
precision being judged, so each op's dtypes are what really ran. Without an
example input, torch.fx symbolic tracing of the meta model (symbolic) finds
the ops without their dtypes.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import asdict

from advisor import userpaths
from advisor.isolation import describe_exception, report_progress
from advisor.modelload import ModelLoadError, import_script, lightning_framework, load_models
from advisor.trace import census, dispatch, graph
from advisor.trace.names import canonical

CPU_FALLBACK_MAX_PARAMS = 500_000_000  # ~2 GiB in fp32: more is not built for real just to trace it


def model_specs(scripts: list, spec) -> list:
    """(script, spec) pairs: the --model spec, or every LightningModule class the scripts define."""
    if spec:
        return [(scripts[0], spec)]
    found = []
    for script in scripts:
        module = import_script(script)
        found += [(script, name) for name, obj in vars(module).items()
                  if inspect.isclass(obj) and obj.__module__ == module.__name__ and lightning_framework(obj)]
    return found


def leaf_test(leaves: set, aliases: dict):
    """class -> whether fx keeps its instances whole: it or a base is in `leaves` (canonical names)."""
    cache: dict = {}

    def is_leaf_class(cls) -> bool:
        if cls not in cache:
            cache[cls] = any(canonical(n, aliases) in leaves for n in graph.class_names(cls))
        return cache[cls]

    return is_leaf_class


def _dispatch(script: str, spec: str, loaded, params: int, precision: dict) -> tuple:
    """(mode, reason, op facts) from running the forward, or (None, reason, []) when none ran."""
    mode, dtype = precision["mode"], precision["dtype"]
    try:
        return "dispatch-meta", None, dispatch.record_ops(loaded.module, loaded.example_input, "meta", mode, dtype)
    except dispatch.ForwardFailed as failed:
        reason = f"the meta forward needs real values ({describe_exception(failed.error)})"
    if params > CPU_FALLBACK_MAX_PARAMS:
        return None, f"{reason}; {params:,} parameters are too many to build on CPU", []
    report_progress(model=spec, step="cpu forward")
    try:
        return "dispatch-cpu", f"{reason}; ran on CPU", _cpu_forward(script, spec, mode, dtype)
    except dispatch.ForwardFailed as failed:
        half_error, half_sites = describe_exception(failed.error), failed.sites
    if mode == "32":
        return None, f"the forward raises {half_error}", []
    try:
        _cpu_forward(script, spec, "32", dtype)
    except dispatch.ForwardFailed as failed:
        return None, f"the forward raises {describe_exception(failed.error)}", []
    return "dispatch-cpu", f"{reason}; ran on CPU, where it works in fp32 but fails under " \
                           f"{precision['name']}: {half_error}", half_sites


def _cpu_forward(script: str, spec: str, mode: str, dtype: str) -> list:
    real = load_models(script, spec)[0]
    if real.example_input is None:
        raise dispatch.ForwardFailed(ModelLoadError("no example_input_array on the CPU model"), [])
    return dispatch.record_ops(real.module, real.example_input, None, mode, dtype)


def _trace(script: str, spec: str, loaded, params: int, is_leaf_class, precision: dict) -> tuple:
    """(trace, mode, reason, op facts) for one model built on meta."""
    if loaded.example_input is not None:
        mode, reason, ops = _dispatch(script, spec, loaded, params, precision)
        return ("dispatch", mode, reason, ops) if mode else ("failed", None, reason, [])
    reason = "no example_input_array to run the forward with: dtypes not observed"
    try:
        return "symbolic", "symbolic", reason, graph.trace_ops(loaded.module, is_leaf_class)
    except Exception as exc:  # noqa: BLE001 - fx raises TraceError, TypeError, user errors...
        return "failed", None, f"{reason}; symbolic_trace failed: {describe_exception(exc)}", []


def _entry(name: str, path: str, line: int, **fields) -> dict:
    base = {"name": name, "path": path, "line": line, "params": 0, "trainable_params": 0, "linear_params": 0,
            "trace": "failed", "mode": None, "precision": None, "reason": None, "error": None, "time_s": 0.0,
            "census": None}
    return {**base, **fields}


def _one(script: str, spec: str, is_leaf_class, precision: dict) -> tuple:
    """(model entry, op facts) for one model; a model that cannot be built or traced is an entry too."""
    start = time.perf_counter()
    report_progress(model=spec, step="census")
    name = spec.rpartition(":")[2]
    try:
        loaded = load_models(script, spec, device="meta")[0]
    except ModelLoadError as exc:
        return _entry(name, script, 0, error=str(exc), time_s=round(time.perf_counter() - start, 3)), []
    counted = census.count(loaded.module, loaded.name)
    report_progress(model=spec, step="trace")
    try:
        trace, mode, reason, ops = _trace(script, spec, loaded, counted.params, is_leaf_class, precision)
        error = f"{loaded.name}: cannot trace: {reason}" if trace == "failed" else None
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        trace, mode, reason, ops = "failed", None, None, []
        error = f"{loaded.name}: tracing failed: {describe_exception(exc)}"
    entry = _entry(loaded.name, loaded.path, loaded.line, params=counted.params,
                   trainable_params=counted.trainable_params, linear_params=counted.linear_params, trace=trace,
                   mode=mode, precision=precision["name"] if mode and mode != "symbolic" else None, reason=reason,
                   error=error, time_s=round(time.perf_counter() - start, 3), census=asdict(counted))
    return entry, [dict(op, model=loaded.name, model_path=loaded.path, model_line=loaded.line) for op in ops]


def run(payload: dict) -> dict:
    """payload: scripts (and how the user named them: shown), model (spec or None), leaves (class
    names kept whole), aliases, roots (the project's folders), precision ({"name", "mode", "dtype"})."""
    scripts, spec = payload["scripts"], payload.get("model")
    userpaths.set_roots(payload["roots"])
    is_leaf_class = leaf_test(set(payload["leaves"]), payload["aliases"])
    try:
        specs = model_specs(scripts, spec)
    except ModelLoadError as exc:
        return {"models": [], "ops": [], "errors": [str(exc)]}
    if not specs:
        named = ", ".join(payload.get("shown") or scripts)
        return {"models": [], "ops": [], "errors": [
            f"{named}: no LightningModule subclass defined here; name one with --model path.py:Name"]}
    models, ops = [], []
    for script, name in specs:
        entry, found = _one(script, name, is_leaf_class, payload["precision"])
        models.append(entry)
        ops.extend(found)
    return {"models": models, "ops": ops, "errors": [m["error"] for m in models if m["error"]]}

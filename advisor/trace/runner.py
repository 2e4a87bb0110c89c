"""What runs in the child: load each model, count it on meta, trace it.

`run(payload)` is called by `advisor.isolation` in a fresh process; it
returns JSON-able facts: {"models": [...], "ops": [...], "errors": [...]}.
Strategies, cheapest first: fx symbolic tracing of the meta model; if fx
fails (data-dependent control flow), the dispatch recorder on a meta forward;
if that needs real values, a CPU build of a small model on its example input.
"""
from __future__ import annotations

import inspect
from dataclasses import asdict

from advisor.isolation import describe_exception, report_progress
from advisor.modelload import ModelLoadError, import_script, lightning_framework, load_models
from advisor.trace import census, dispatch, graph
from advisor.trace.names import canonical

CPU_FALLBACK_MAX_PARAMS = 500_000_000  # ~2 GiB in fp32: more is not built for real just to trace it


def model_names(script: str, spec) -> list:
    """The --model spec, or every LightningModule class defined in the script."""
    if spec:
        return [spec]
    module = import_script(script)
    return [name for name, obj in vars(module).items()
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and lightning_framework(obj)]


def leaf_test(leaves: set, aliases: dict):
    """class -> whether fx keeps its instances whole: it or a base is in `leaves` (canonical names)."""
    cache: dict = {}

    def is_leaf_class(cls) -> bool:
        if cls not in cache:
            cache[cls] = any(canonical(n, aliases) in leaves for n in graph.class_names(cls))
        return cache[cls]

    return is_leaf_class


def _trace(loaded, script: str, spec: str, is_leaf_class, params: int) -> tuple:
    """(strategy, reason, op facts) for one model built on meta."""
    try:
        return "symbolic", None, graph.trace_ops(loaded.module, is_leaf_class)
    except Exception as exc:  # noqa: BLE001 - fx raises TraceError, TypeError, user errors...
        reason = f"symbolic_trace failed: {describe_exception(exc)}"
    if loaded.example_input is None:
        return "failed", f"{reason}; no example_input_array to run the forward with", []
    try:
        return "dispatch", reason, dispatch.record_ops(loaded.module, loaded.example_input, device="meta")
    except Exception as exc:  # noqa: BLE001
        reason += f"; the meta forward needs real values ({describe_exception(exc)})"
    if params > CPU_FALLBACK_MAX_PARAMS:
        return "failed", f"{reason}; {params:,} parameters are too many to build on CPU", []
    report_progress(model=spec, step="cpu forward")
    real = load_models(script, spec)[0]
    if real.example_input is None:
        return "failed", f"{reason}; no example_input_array on the CPU model", []
    return "dispatch", f"{reason}; ran on CPU", dispatch.record_ops(real.module, real.example_input)


def _one(script: str, spec: str, is_leaf_class) -> tuple:
    """(model entry, op facts) for one model; ModelLoadError or user errors propagate."""
    report_progress(model=spec, step="census")
    loaded = load_models(script, spec, device="meta")[0]
    counted = census.count(loaded.module, loaded.name)
    report_progress(model=spec, step="trace")
    strategy, reason, ops = _trace(loaded, script, spec, is_leaf_class, counted.params)
    entry = {"name": loaded.name, "path": loaded.path, "line": loaded.line, "params": counted.params,
             "trainable_params": counted.trainable_params, "linear_params": counted.linear_params,
             "trace": strategy, "reason": reason, "census": asdict(counted)}
    return entry, [dict(op, model=loaded.name) for op in ops]


def run(payload: dict) -> dict:
    """payload: script, model (spec or None), leaves (class names kept whole), aliases."""
    script, spec = payload["script"], payload.get("model")
    is_leaf_class = leaf_test(set(payload["leaves"]), payload["aliases"])
    models, ops, errors = [], [], []
    try:
        names = model_names(script, spec)
    except ModelLoadError as exc:
        return {"models": [], "ops": [], "errors": [str(exc)]}
    if not names:
        errors.append(f"{script}: no LightningModule subclass defined here; name one with --model path.py:Name")
    for name in names:
        try:
            entry, found = _one(script, name, is_leaf_class)
        except ModelLoadError as exc:
            errors.append(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
            errors.append(f"{name}: tracing failed: {describe_exception(exc)}")
            continue
        models.append(entry)
        ops.extend(found)
        if entry["trace"] == "failed":
            errors.append(f"{entry['name']}: cannot trace: {entry['reason']}")
    return {"models": models, "ops": ops, "errors": errors}

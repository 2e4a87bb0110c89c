"""What `check --trace` calls: trace the scripts' models in one child, get facts back.

    result = trace_scripts(["train.py", "helpers.py"], model_spec=None, timeout=120,
                           roots=["."], precision="bf16-mixed")
    result.ops      # OpSites (source "trace") at the user's code, only those some op rule matches
    result.models   # JSON entries for the report's "models", failed ones included
    result.errors   # one line each: the model and what went wrong
    result.census   # the largest model's ModelCensus, for the recommendation

torch is never imported here: the child (advisor.trace.runner) does that.
"""
from __future__ import annotations

import linecache
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from advisor import lightning
from advisor.catalogue import Catalogue, load_catalogue
from advisor.checks.ops import matching_rules
from advisor.facts import NOT_STATIC, FileFacts, ModelCensus, OpSite, Span
from advisor.isolation import run_isolated
from advisor.scan.noqa import noqa_lines
from advisor.trace.names import canonical

DEFAULT_TIMEOUT_S = 120.0
ASSUMED_PRECISION = "bf16-mixed"  # judged when no static precision is found: what an Ampere+ GPU runs
HALF_DTYPES = ("torch.float16", "torch.bfloat16")
MODEL_KEYS = ("name", "path", "line", "params", "trainable_params", "linear_params", "trace", "mode", "precision",
              "reason", "error", "time_s")


@dataclass
class TraceResult:
    ops: list = field(default_factory=list)  # OpSite
    models: list = field(default_factory=list)  # dicts with MODEL_KEYS
    errors: list = field(default_factory=list)  # str
    censuses: list = field(default_factory=list)  # ModelCensus, one per traced model

    @property
    def census(self) -> ModelCensus | None:
        """The largest model's census: what must fit on the device."""
        return max(self.censuses, key=lambda c: c.params, default=None)


def judged_precision(values) -> dict:
    """The precision the trace runs under: the first half-precision setting among `values`
    (normalized Lightning values), else fp32 when every setting is full precision,
    else (none static) ASSUMED_PRECISION. {"name", "mode": mixed|true|32, "dtype"}."""
    values = [v for v in values if v]
    half = [v for v in values if "16" in v.split("-")[0] or v.startswith("transformer-engine")]
    name = half[0] if half else (values[0] if values else ASSUMED_PRECISION)
    dtype = "float16" if lightning.is_fp16(name) else "bfloat16"
    mode = "true" if lightning.is_true_half(name) else "mixed" if (half or not values) else "32"
    return {"name": name, "mode": mode, "dtype": dtype, "assumed": not values}


def display_path(path: str, script: str) -> str:
    """The script as the user named it, other files relative to the cwd when below it."""
    if os.path.realpath(path) == os.path.realpath(script):
        return str(Path(script))
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _span(path: str, line: int) -> Span:
    """The whole source line (without indentation), or column 1 when it cannot be read."""
    text = linecache.getline(path, line).rstrip()
    start = len(text) - len(text.lstrip()) + 1
    return Span(line, start, line, len(text) + 1 if text else 1)


def _candidates(raw: dict, catalogue: Catalogue) -> list:
    """(kind, op) spellings to try: a module is tried as each class of its MRO,
    as a `module` pattern names it and as a `subclass` + method pattern does."""
    if raw["kind"] == "method":
        return [("method", f"Tensor.{raw['op']}")]
    if raw["kind"] != "module":
        return [(raw["kind"], canonical(raw["op"], catalogue.aliases))]
    names = [canonical(n, catalogue.aliases) for n in raw["mro"]]
    methods = {(p.subclass, p.method) for r in catalogue.op_rules() for p in r.patterns if p.subclass}
    return [spelling for name in names
            for spelling in [("function", name)] + [("subclass", f"{b}.{m}") for b, m in sorted(methods) if b == name]]


def _short(op: str) -> str:
    """`aten.scatter_add_` for `aten.scatter_add_.default`."""
    return op.rsplit(".", 1)[0] if op.startswith("aten.") else op


def _observed(raw: dict, precision: str) -> str | None:
    """What the trace saw, for the message; None for an op that ran only in fp32/fp64."""
    names = [*raw["chain"], _short(raw["op"])]
    chain = " -> ".join(f"`{name}`" if name != "..." else name
                        for name in (names if len(names) <= 4 else [*names[:2], "...", *names[-2:]]))
    through = f", through {chain}" if raw["chain"] else ""
    if "dtypes" not in raw:
        return f"(traced with torch.fx, dtype not observed{through})"
    half = [d.removeprefix("torch.") for d in raw["dtypes"] if d in HALF_DTYPES]
    if raw.get("failed"):
        return f"(traced under {precision}: fails in {'/'.join(half) or 'its dtypes'}: {raw['failed']}{through})"
    if not half:
        return None
    return f"(traced under {precision}: observed running in {'/'.join(half)}{through})"


def op_sites(raw: dict, script: str, catalogue: Catalogue, precision: str = ASSUMED_PRECISION) -> list:
    """The OpSite for one raw fact from the child, if some op rule matches it and it ran in half."""
    observed = _observed(raw, precision)
    if observed is None:
        return []
    keywords = {**raw["keywords"], **dict.fromkeys(raw["dynamic"], NOT_STATIC)}
    real_path, line = (raw["path"], raw["line"]) if raw["path"] else (raw["model_path"], raw["model_line"])
    path = display_path(real_path, script)
    for kind, op in _candidates(raw, catalogue):
        site = OpSite(op=op, path=path, span=_span(real_path, line), kind=kind, context="forward",
                      function=raw["function"], keywords=keywords,
                      keyword_names=tuple(k for k in keywords if not k.startswith("#")),
                      source="trace", chain=(*raw["chain"], _short(raw["op"])), observed=observed)
        if matching_rules(site, catalogue.op_rules()):
            return [site]
    return []


def leaf_classes(catalogue: Catalogue) -> list:
    """Class names the tracer keeps whole: those a `module` or `subclass` pattern names."""
    return sorted({p.module or p.subclass for r in catalogue.op_rules() for p in r.patterns if p.module or p.subclass})


def _first_per_line(sites: list, catalogue: Catalogue) -> list:
    """One site per (path, line, rule): a layer call issuing three scatters is one finding."""
    seen, kept = set(), []
    for site in sites:
        keys = {(site.path, site.span.line, rule.code) for rule in matching_rules(site, catalogue.op_rules())}
        if not keys <= seen:
            kept.append(site)
        seen |= keys
    return kept


def trace_scripts(scripts: list, model_spec: str | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                  catalogue: Catalogue | None = None, memory_limit_bytes: int | None = None,
                  roots: list | None = None, precision: str | None = None) -> TraceResult:
    """Census and trace the models the scripts define (or `model_spec`) in one child process,
    under `precision` (a Lightning value; ASSUMED_PRECISION when None); never raises for user code.
    `roots` are the project's folders (default: the scripts' folders): the rest is library code."""
    catalogue = catalogue or load_catalogue()
    judged = judged_precision([precision] if precision else [])
    roots = roots if roots is not None else [str(Path(s).resolve().parent) for s in scripts]
    payload = {"scripts": [str(Path(s).resolve()) for s in scripts], "shown": list(scripts), "model": model_spec,
               "leaves": leaf_classes(catalogue), "aliases": catalogue.aliases,
               "roots": [str(Path(r).resolve()) for r in roots], "precision": judged}
    current = {"model": model_spec or ", ".join(Path(s).name for s in scripts)}
    outcome = run_isolated("advisor.trace.runner:run", payload, timeout=timeout,
                           memory_limit_bytes=memory_limit_bytes, on_progress=current.update)
    if not outcome.ok:
        name = current["model"].rpartition(":")[2]
        return TraceResult(models=[_failed_entry(name, scripts[0], outcome.error)],
                           errors=[f"{name}: tracing failed: {outcome.error}"])
    value = outcome.value
    result = TraceResult(errors=list(value["errors"]))
    by_script = {str(Path(s).resolve()): s for s in scripts}
    for entry in value["models"]:
        if entry["census"]:
            counted = {**entry["census"], "by_module_type": tuple(map(tuple, entry["census"]["by_module_type"]))}
            result.censuses.append(ModelCensus(**counted))
        shown = display_path(entry["path"], by_script.get(entry["path"], entry["path"]))
        result.models.append({**{k: entry[k] for k in MODEL_KEYS}, "path": shown})
    for raw in value["ops"]:
        result.ops.extend(op_sites(raw, by_script.get(raw["path"] or "", scripts[0]), catalogue, judged["name"]))
    result.ops = _first_per_line(result.ops, catalogue)
    return result


def trace_script(script: str, model_spec: str | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 catalogue: Catalogue | None = None, memory_limit_bytes: int | None = None,
                 **options) -> TraceResult:
    """`trace_scripts` for one script."""
    return trace_scripts([script], model_spec, timeout, catalogue, memory_limit_bytes, **options)


def _failed_entry(name: str, script: str, error: str) -> dict:
    """A model entry for a child that never answered (timeout, crash): name, error, nothing counted."""
    entry = dict.fromkeys(MODEL_KEYS)
    entry.update(name=name, path=display_path(script, script), line=0, params=0, trainable_params=0,
                 linear_params=0, trace="failed", error=f"{name}: tracing failed: {error}", time_s=0.0)
    return entry


def add_to_facts(facts: list, sites: list) -> list:
    """New FileFacts list: the static facts with the traced sites added per file, so
    `op_findings` judges both; the given facts are not changed (finalize may run twice).

    A traced site in a file that was not checked (a helper module, a library)
    gets a new FileFacts whose `# noqa` comments are read, so they still apply.
    """
    merged = {file.path: replace(file, ops=list(file.ops)) for file in facts}
    for site in sites:
        if site.path not in merged:
            try:
                noqa = noqa_lines(Path(site.path).read_text(encoding="utf-8", errors="replace"))
            except OSError:
                noqa = {}
            merged[site.path] = FileFacts(path=site.path, module=f"<traced {site.path}>", noqa=noqa)
        merged[site.path].ops.append(site)
    return list(merged.values())

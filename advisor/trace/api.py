"""What `check --trace` calls: trace one script's models in a child, get facts back.

    result = trace_script("train.py", model_spec=None, timeout=120)
    result.ops      # OpSites (source "trace"), only those some op rule matches
    result.models   # JSON entries for the report's "models"
    result.errors   # one line each: the model and what went wrong
    result.census   # the largest model's ModelCensus, for the recommendation

torch is never imported here: the child (advisor.trace.runner) does that.
"""
from __future__ import annotations

import linecache
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from advisor.catalogue import Catalogue, load_catalogue
from advisor.checks.ops import matching_rules
from advisor.facts import FileFacts, ModelCensus, OpSite, Span
from advisor.isolation import run_isolated
from advisor.scan.noqa import noqa_lines
from advisor.scan.values import NOT_STATIC
from advisor.trace.names import canonical

DEFAULT_TIMEOUT_S = 120.0
MODEL_KEYS = ("name", "path", "line", "params", "trainable_params", "linear_params", "trace", "reason")


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


def op_sites(raw: dict, script: str, catalogue: Catalogue) -> list:
    """The OpSite for one raw fact from the child, if some op rule matches it."""
    keywords = {**raw["keywords"], **dict.fromkeys(raw["dynamic"], NOT_STATIC)}
    path = display_path(raw["path"], script)
    for kind, op in _candidates(raw, catalogue):
        site = OpSite(op=op, path=path, span=_span(raw["path"], raw["line"]), kind=kind, context="forward",
                      function=raw["function"], keywords=keywords,
                      keyword_names=tuple(k for k in keywords if not k.startswith("#")),
                      source="trace", chain=tuple(raw["chain"]))
        if matching_rules(site, catalogue.op_rules()):
            return [site]
    return []


def leaf_classes(catalogue: Catalogue) -> list:
    """Class names the tracer keeps whole: those a `module` or `subclass` pattern names."""
    return sorted({p.module or p.subclass for r in catalogue.op_rules() for p in r.patterns if p.module or p.subclass})


def trace_script(script: str, model_spec: str | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 catalogue: Catalogue | None = None, memory_limit_bytes: int | None = None) -> TraceResult:
    """Census and trace the script's models in a child process; never raises for user code."""
    catalogue = catalogue or load_catalogue()
    payload = {"script": str(Path(script).resolve()), "model": model_spec,
               "leaves": leaf_classes(catalogue), "aliases": catalogue.aliases}
    current = {"model": model_spec or Path(script).name}
    outcome = run_isolated("advisor.trace.runner:run", payload, timeout=timeout,
                           memory_limit_bytes=memory_limit_bytes, on_progress=current.update)
    if not outcome.ok:
        return TraceResult(errors=[f"{current['model']}: tracing failed: {outcome.error}"])
    value = outcome.value
    result = TraceResult(errors=list(value["errors"]))
    for entry in value["models"]:
        counted = {**entry["census"], "by_module_type": tuple(map(tuple, entry["census"]["by_module_type"]))}
        result.censuses.append(ModelCensus(**counted))
        result.models.append({**{k: entry[k] for k in MODEL_KEYS}, "path": display_path(entry["path"], script)})
    for raw in value["ops"]:
        result.ops.extend(op_sites(raw, script, catalogue))
    return result


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

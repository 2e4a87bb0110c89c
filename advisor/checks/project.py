"""Project-wide judgement of op sites: where each op really runs.

An op in a helper counts as "in forward" when a forward or `*_step` of the
project reaches the helper, in the same file or another one; a forward that
calls a project helper in another file performing an op gets a finding at
the call, naming the chain. One pass over the index the scanner built.
"""
from __future__ import annotations

from collections import deque

from advisor import lightning
from advisor.catalogue import Catalogue, Rule
from advisor.checks.ops import (
    canonical_op,
    describe_context,
    matched_detail,
    matching_rules,
    op_rules_for,
    severity_for,
)
from advisor.checks.registry import Hit, report
from advisor.facts import FileFacts, FunctionInfo, OpSite
from advisor.findings import Finding
from advisor.fix.fp32 import device_type_for, fp32_region_fix
from advisor.scan.opindex import OpIndex
from advisor.scan.scanner import locate_call

ENTRY_CONTEXTS = ("forward", "step")


def _precision_profile(facts: list[FileFacts]) -> tuple[bool, bool]:
    """(true half anywhere, fp16 possible): no static setting means anything is possible."""
    values = [lightning.normalize(v) for f in facts for s in f.settings for v in s.values]
    dynamic = any(not s.literals for f in facts for s in f.settings) or not values
    true_half = any(lightning.is_true_half(v) for v in values)
    fp16 = dynamic or any(lightning.is_fp16(v) for v in values)
    return true_half, fp16


def _reachability(functions: dict[str, FunctionInfo]) -> dict[str, str]:
    """function key -> the forward/step that reaches it (breadth first, nearest wins)."""
    reached: dict[str, str] = {}
    queue = deque((key, info.qualname) for key, info in functions.items() if info.context in ENTRY_CONTEXTS)
    while queue:
        key, root = queue.popleft()
        for callee, _ in functions[key].calls:
            if callee in functions and callee not in reached and functions[callee].context == "helper":
                reached[callee] = root
                queue.append((callee, root))
    return reached


KERNELS = {  # PRC203's words for where the model runs
    "cuda": "CUDA has no fp16/bf16 kernels for decompositions and solves (\"not implemented for 'Half'\"), "
            "and CUDA autocast does not upcast them",
    "cpu": "the CPU has no fp16/bf16 kernels for decompositions and solves (\"Low precision dtypes not "
           "supported\"); CPU autocast upcasts them, -true half precision does not",
}


def _device(facts: list[FileFacts]) -> str:
    """"cpu" when every setting that names an accelerator names the CPU, else "cuda"."""
    named = {s.accelerator.lower() for f in facts for s in f.settings if s.accelerator}
    return "cpu" if named == {"cpu"} else "cuda"


def _site_values(site: OpSite, rule: Rule, op: str, context: str, device: str = "cuda") -> dict:
    dtype = site.keywords.get("dtype")
    return {"op": op, "context": context, "detail": matched_detail(site, rule),
            "base": op.rsplit(".", 1)[-1].rstrip("_"), "dtype": dtype if isinstance(dtype, str) else "a half dtype",
            "kernels": KERNELS[device]}


def op_findings(facts: list[FileFacts], catalogue: Catalogue, index: OpIndex, texts: dict) -> list[Finding]:
    """PRC2xx findings; `texts` (path -> scanned text) lets each carry its FP32-region fix."""
    true_half, fp16_possible = _precision_profile(facts)
    rules = op_rules_for(catalogue, fp16_possible)
    functions = {f"{info.module}.{name}": info for f in facts for name, info in f.functions.items()}
    reached = _reachability(functions)
    device = _device(facts)
    noqa = {file.path: file.noqa for file in facts}
    findings: list[Finding] = []
    performs: dict[str, list[tuple[Rule, OpSite]]] = {}
    for file, site in ((f, s) for f in facts for s in f.ops):
        if site.in_fp32_region:
            continue
        key = f"{file.module}.{site.function}" if site.function else None
        context, reached_from = site.context, None
        if context == "helper" and key in reached:
            context, reached_from = "forward", reached[key]
        for rule in matching_rules(site, rules):
            if key:
                performs.setdefault(key, []).append((rule, site))
            severity = severity_for(rule, context, true_half)
            if severity is None:
                continue
            op = canonical_op(site, rule)
            where = describe_context(context, reached_from)
            values = _site_values(site, rule, op, f"{where} {site.observed}" if site.observed else where, device)
            statement = (site.statement_span.end_line,) if site.statement_span else ()
            fix = (fp32_region_fix(site, texts[site.path], file.imports_torch_as, rule, device_type_for(file))
                   if site.path in texts else None)
            extra = {"context": context, **({"chain": list(site.chain)} if site.chain else {})}
            hit = Hit(site.span, values, fix.edits if fix else (), statement, severity, op, site.source, extra)
            findings.append(report(rule, site.path, hit, noqa.get(site.path)))
    findings += _chain_findings(functions, reached, performs, true_half, index, noqa)
    return _once([f for f in findings if f is not None])


def _once(findings: list[Finding]) -> list[Finding]:
    """A traced op that the static scan already reported at the same place is reported once."""
    static = {(f.path, f.line, f.code) for f in findings if f.source == "static"}
    return [f for f in findings if f.source == "static" or (f.path, f.line, f.code) not in static]


def _first_op(key: str, functions: dict, performs: dict, seen: set) -> tuple | None:
    """(rule, site, chain) of an op the function performs, directly or through project calls."""
    if key in seen:
        return None
    seen.add(key)
    if performs.get(key):
        rule, site = performs[key][0]
        return rule, site, (canonical_op(site, rule),)
    for callee, _ in functions[key].calls:
        if callee in functions:
            found = _first_op(callee, functions, performs, seen)
            if found:
                rule, site, chain = found
                return rule, site, (functions[callee].qualname, *chain)
    return None


def _chain_findings(functions: dict, reached: dict, performs: dict, true_half: bool, index: OpIndex,
                    noqa: dict) -> list[Finding]:
    findings = []
    for key, info in functions.items():
        if info.context not in ENTRY_CONTEXTS and key not in reached:
            continue
        for callee, _ in info.calls:
            target = functions.get(callee)
            if target is None or target.path == info.path:
                continue
            found = _first_op(callee, functions, performs, set())
            span = locate_call(info.path, info.qualname, callee, index) if found else None
            if span is None:
                continue
            rule, site, chain = found
            chain = (target.qualname, *chain)
            context = f"{describe_context('forward', None)}, through `{'` -> `'.join(chain)}`"
            values = _site_values(site, rule, target.qualname, context)
            hit = Hit(span, values, severity=severity_for(rule, "forward", true_half), op=canonical_op(site, rule),
                      extra={"context": "forward", "chain": list(chain)})
            findings.append(report(rule, info.path, hit, noqa.get(info.path)))
    return findings

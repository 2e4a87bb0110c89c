"""Project-wide judgement of op sites and settings: where each op really runs.

An op in a helper counts as "in forward" when a forward or `*_step` of the
project reaches the helper, in any module. A function whose body (or a
project function it calls) accumulates data derived from its parameters is
summarized as "accumulates its argument N", with the dtype facts that make
it safe; a forward calling it with such data gets a finding at the call,
naming the chain (`energy -> snn.scatter_add -> _scatter_add -> Tensor.index_add`).
Calls of Trainer subclasses defined in other modules become settings here.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from advisor import lightning
from advisor.catalogue import Catalogue, Rule
from advisor.checks.ops import (
    canonical_op,
    describe_context,
    fp32_region_fix,
    matched_detail,
    matching_rules,
    op_rules_for,
    pattern_matches,
    severity_for,
)
from advisor.checks.registry import Hit, report
from advisor.facts import NOT_STATIC, CallEdge, FileFacts, FunctionInfo, OpSite, Setting
from advisor.findings import Finding
from advisor.scan.modules import ModuleIndex
from advisor.scan.roles import STEP_RE, is_module_base

ENTRY_CONTEXTS = ("forward", "step")
SAFE_KINDS = ("int", "fp32")
AUTOCAST_RULE_CONTEXT = "autocast"  # rules (BCE) that only an autocast-disabled region makes safe
MAX_ENTRIES = 4  # summary entries kept per function: the first few are enough to report


@dataclass(frozen=True)
class Entry:
    """One way a function reaches an op: the op, the chain below it, the parameters whose data reach it."""

    rule: Rule
    site: OpSite
    chain: tuple  # callee texts down to the op, e.g. ("scatter_sum", "Tensor.scatter_add_")
    flows: frozenset  # parameter indices of the summarized function
    unless: tuple | None = None  # safe unless the caller passes one of these parameters
    bound: tuple = ()  # (site argument key, parameter index): `reduce=reduce` takes the caller's value


class Project:
    """Every scanned file's facts, resolved against each other."""

    def __init__(self, facts: list[FileFacts], catalogue: Catalogue):
        self.facts = facts
        self.catalogue = catalogue
        self.index = ModuleIndex(facts)
        self.files = {f.path: f for f in facts}
        self.functions: dict[str, tuple[FileFacts, FunctionInfo]] = {
            _key(f.path, name): (f, info) for f in facts for name, info in f.functions.items()}
        self.contexts = {key: self._context(file, info) for key, (file, info) in self.functions.items()}
        self._edges: dict[str, list] = {}

    # -- names ------------------------------------------------------------------
    def _class(self, file: FileFacts, qualified: str) -> tuple[FileFacts, str] | None:
        found = self.index.resolve(qualified, file)
        if found and found[1] in found[0].classes:
            return found
        return None

    def ancestors(self, file: FileFacts, qualname: str, seen=None):
        """Every base name of a project class, its project bases followed (qualified names)."""
        seen = seen if seen is not None else set()
        if (file.path, qualname) in seen:
            return
        seen.add((file.path, qualname))
        for base in file.classes[qualname].bases:
            yield base
            project = self._class(file, base)
            if project:
                yield from self.ancestors(*project, seen)

    def lineage(self, file: FileFacts, qualname: str, seen=None):
        """(file, qualname) of a project class, then of its project bases, depth first."""
        seen = seen if seen is not None else set()
        if (file.path, qualname) in seen or qualname not in file.classes:
            return
        seen.add((file.path, qualname))
        yield file, qualname
        for base in file.classes[qualname].bases:
            project = self._class(file, base)
            if project:
                yield from self.lineage(*project, seen)

    def method(self, file: FileFacts, qualname: str, name: str) -> str | None:
        """The function key of `name` on a class, looked up along its project bases."""
        return next((_key(f.path, f"{q}.{name}") for f, q in self.lineage(file, qualname)
                     if f"{q}.{name}" in f.functions), None)

    def accumulates(self, file: FileFacts, qualname: str) -> bool | None:
        """Does a MessagePassing class's aggregation accumulate? The nearest class (itself, then its
        project bases) whose __init__ chooses one decides; `aggr=self.NAME` reads the class attribute
        NAME as the class itself or a base defines it. None: unknown, or nobody chose (the base default)."""
        lineage = [f.classes[q] for f, q in self.lineage(file, qualname)]
        chooser = next((info for info in lineage if info.aggr_set), None)
        if chooser is None or chooser.aggr_attribute is None:
            return chooser.accumulates if chooser else None
        name = chooser.aggr_attribute
        return next((info.attribute_accumulates[name] for info in lineage if name in info.attribute_accumulates),
                    None)

    def derives(self, file: FileFacts, qualname: str, base: str) -> bool:
        return qualname in file.classes and (base in file.classes[qualname].bases
                                             or base in self.ancestors(file, qualname))

    def _context(self, file: FileFacts, info: FunctionInfo) -> str:
        """The scanner's context, corrected for classes whose nn.Module base lives in another module."""
        if info.context != "helper" or info.owner is None or "<locals>" in info.qualname:
            return info.context
        name = info.qualname.rsplit(".", 1)[-1]
        if name != "forward" and not STEP_RE.search(name):
            return info.context
        if any(is_module_base(base) for base in self.ancestors(file, info.owner)):
            return "forward" if name == "forward" else "step"
        return info.context

    def edges(self, key: str) -> list[tuple[CallEdge, str, int]]:
        """(edge, callee key, positional shift) for the calls of a function that reach project functions."""
        if key not in self._edges:
            file, info = self.functions[key]
            resolved = []
            for edge in info.calls:
                target = self._target(file, info, edge)
                if target is not None and target[0] in self.functions:
                    resolved.append((edge, *target))
            self._edges[key] = resolved
        return self._edges[key]

    def _target(self, file: FileFacts, info: FunctionInfo, edge: CallEdge) -> tuple[str, int] | None:
        if edge.callee.startswith("self."):
            if info.owner is None:
                return None
            name = edge.callee[5:]
            method = self.method(file, info.owner, name)
            if method:
                return method, 1
            attribute = self._attribute(file, info.owner, name)
            if attribute:  # `self.aggr = SumAggr()`, then `self.aggr(x, index)` runs SumAggr.forward
                method = self.method(*attribute, "forward")
                return (method, 1) if method else None
            return None
        found = self.index.resolve(edge.callee, file)
        if found is None:
            return None
        target_file, name = found
        return (_key(target_file.path, name), 0) if name in target_file.functions else None

    def _attribute(self, file: FileFacts, qualname: str, name: str) -> tuple[FileFacts, str] | None:
        callee = file.classes[qualname].attributes.get(name) if qualname in file.classes else None
        return self._class(file, callee) if callee else None

    # -- settings ----------------------------------------------------------------
    def settings(self) -> list[tuple[FileFacts, Setting, bool]]:
        """Every setting, with the calls of project Trainer subclasses settled; (file, setting, resolved here)."""
        found = []
        for file in self.facts:
            for setting in file.settings:
                if setting.kind is not None:
                    found.append((file, setting, False))
                    continue
                kind, lite = self.setting_kind(file, setting.callee)
                if kind:
                    found.append((file, replace(setting, kind=kind, lite=lite), True))
        return found

    def setting_kind(self, file: FileFacts, callee: str) -> tuple[str | None, bool]:
        project = self._class(file, callee)
        if project is None:
            return None, False
        for base in self.ancestors(*project):
            kind = lightning.setting_kind(base) or self.catalogue.setting_classes.get(base)
            if kind:
                return kind, False
            if lightning.is_lite(base):
                return "Fabric", True
        return None, False


def _key(path: str, qualname: str) -> str:
    return f"{path}::{qualname}"


def _precision_profile(settings: list[Setting]) -> tuple[bool, bool]:
    """(true half anywhere, fp16 possible): no static setting means anything is possible."""
    values = [lightning.normalize(v) for s in settings for v in s.values]
    dynamic = any(not s.literals for s in settings) or not values
    true_half = any(lightning.is_true_half(v) for v in values)
    fp16 = dynamic or any(lightning.is_fp16(v) for v in values)
    return true_half, fp16


def _safe_here(site: OpSite, rule: Rule) -> bool:
    """Safe where it is written: integer data, fp32 by construction or cast, or (BCE) autocast off."""
    if rule.context == AUTOCAST_RULE_CONTEXT:
        return site.autocast_off
    return site.integer or site.in_fp32_region


KERNELS = {  # PRC203's words for where the model runs
    "cuda": "CUDA has no fp16/bf16 kernels for decompositions and solves (\"not implemented for 'Half'\"), "
            "and CUDA autocast does not upcast them",
    "cpu": "the CPU has no fp16/bf16 kernels for decompositions and solves (\"Low precision dtypes not "
           "supported\"); CPU autocast upcasts them, -true half precision does not",
}


def _device(settings: list[Setting]) -> str:
    """"cpu" when every setting that names an accelerator names the CPU, else "cuda"."""
    named = {s.accelerator.lower() for s in settings if s.accelerator}
    return "cpu" if named == {"cpu"} else "cuda"


def _site_values(site: OpSite, rule: Rule, op: str, context: str, device: str = "cuda") -> dict:
    dtype = site.keywords.get("dtype")
    return {"op": op, "context": context, "detail": matched_detail(site, rule),
            "base": op.rsplit(".", 1)[-1].rstrip("_"), "dtype": dtype if isinstance(dtype, str) else "a half dtype",
            "kernels": KERNELS[device]}


class _Judge:
    """Where each op site is reported: an op in a helper that project functions call, on data they
    pass in, is judged at those calls (reported at the nearest one that may pass 16-bit data, with the
    chain; not at all when every caller passes fp32 or integer data); every other one where it is written."""

    def __init__(self, project: Project, rules: list[Rule], true_half: bool, device: str = "cuda"):
        self.project = project
        self.rules = rules
        self.true_half = true_half
        self.device = device
        self.summaries: dict[str, list[Entry]] = {}
        self.reached: dict[str, str] = {}
        self.ops = {file.path: [site for site in file.ops if self._runs(file, site)] for file in project.facts}
        self.called = {callee for key in project.functions for _, callee, _ in project.edges(key) if callee != key}

    def _runs(self, file: FileFacts, site: OpSite) -> bool:
        """A catalogued base's method called in a subclass: does the class derive from that base, and does
        the aggregation it (or a project base) chose accumulate?"""
        if site.kind != "subclass" or site.source != "static" or not site.function:
            return True
        key = _key(file.path, site.function)
        owner = self.project.functions[key][1].owner if key in self.project.functions else None
        if owner is None or owner not in file.classes:
            return True
        base = site.op.rsplit(".", 1)[0]
        return self.project.derives(file, owner, base) and self.project.accumulates(file, owner) is not False

    def reachability(self) -> None:
        """function key -> the forward/step that reaches it (breadth first, nearest wins)."""
        project = self.project
        queue = deque((key, project.functions[key][1].qualname) for key, context in project.contexts.items()
                      if context in ENTRY_CONTEXTS)
        while queue:
            key, root = queue.popleft()
            for _, callee, _ in project.edges(key):
                if callee not in self.reached and project.contexts[callee] == "helper":
                    self.reached[callee] = root
                    queue.append((callee, root))

    def summarize(self) -> None:
        """Entries per function: its own unsafe op sites, then (to a fixed point) its calls'; an entry
        several calls bring keeps the parameters any of them passes on."""
        project = self.project
        for key, (file, info) in project.functions.items():
            own = []
            for site in (s for s in self.ops.get(file.path, ()) if s.function == info.qualname):
                for rule in matching_rules(site, self.rules):
                    if _safe_here(site, rule) and not (site.safe_unless and rule.context != AUTOCAST_RULE_CONTEXT):
                        continue
                    unless = site.safe_unless if rule.context != AUTOCAST_RULE_CONTEXT else None
                    own.append(Entry(rule, site, (canonical_op(site, rule),), frozenset(site.flows), unless,
                                     site.parameters))
            if own:
                self.summaries[key] = own[:MAX_ENTRIES]
        changed = True
        rounds = 0
        while changed and rounds < 32:
            changed, rounds = False, rounds + 1
            for key in project.functions:
                entries = self.summaries.get(key, [])
                known = {_identity(e): i for i, e in enumerate(entries)}
                for edge, callee, shift in project.edges(key):
                    for entry in self.applicable(edge, callee, shift):
                        flows = _caller_flows(edge, project.functions[callee][1], shift, entry)
                        at = known.get(_identity(entry))
                        if at is not None:
                            if not flows <= entries[at].flows:
                                entries[at] = replace(entries[at], flows=entries[at].flows | flows)
                                changed = True
                            continue
                        if len(entries) >= MAX_ENTRIES:
                            continue
                        known[_identity(entry)] = len(entries)
                        entries = [*entries, replace(entry, chain=(edge.text, *entry.chain), flows=flows, unless=None)]
                        changed = True
                if entries:
                    self.summaries[key] = entries

    def applicable(self, edge: CallEdge, callee: str, shift: int) -> list[Entry]:
        """The callee's entries that this call's arguments (or its autocast-disabled region) do not make safe."""
        info = self.project.functions[callee][1]
        if edge.autocast_off and (not self.true_half and _passes_only_fp32(edge)):
            return []  # fp32 data and no autocast: what the callee computes stays fp32
        found = []
        for entry in self.summaries.get(callee, ()):
            if entry.rule.context == AUTOCAST_RULE_CONTEXT and edge.autocast_off:
                continue  # autocast is off where the callee runs: BCE is allowed
            passed = {param: _argument(edge, info, shift, param) for param in range(len(info.params))}
            if entry.unless is not None:
                names = [info.params.index(name) for name in entry.unless if name in info.params]
                if not any(passed.get(index) for index in names):
                    continue  # the fp32 accumulator the callee makes is the one used
            if entry.rule.context != AUTOCAST_RULE_CONTEXT and entry.flows:
                given = [passed.get(index) for index in entry.flows]
                if all(arg is None or arg[1] in SAFE_KINDS for arg in given):
                    continue  # integer or fp32 data: nothing accumulates in half
            entry = _bind(entry, passed)
            if entry is not None:
                found.append(entry)
        return found

    def deferred(self, key: str | None, entry: Entry) -> bool:
        """Is this entry of a function judged at its callers instead of in it? Yes for a helper other
        project functions call, when what it accumulates comes from its parameters (BCE: when autocast
        may be off where it is called)."""
        if key not in self.called or self.project.contexts[key] != "helper":
            return False
        if all(_identity(e) != _identity(entry) for e in self.summaries.get(key, ())):
            return False  # beyond the entries a summary keeps: reported here
        return entry.rule.context == AUTOCAST_RULE_CONTEXT or bool(entry.flows) or entry.unless is not None

    def _where(self, key: str | None, context: str) -> tuple[str, str | None]:
        """(the context a finding reports, the forward/step whose call path it is in)."""
        if context == "helper" and key in self.reached:
            return "forward", self.reached[key]
        return context, None

    def findings(self) -> list[Finding]:
        return self._site_findings() + self._call_findings()

    def _site_findings(self) -> list[Finding]:
        project, findings = self.project, []
        for file in project.facts:
            for site in self.ops[file.path]:
                key = _key(file.path, site.function) if site.function else None
                context, reached_from = self._where(key, project.contexts.get(key, site.context))
                for rule in matching_rules(site, self.rules):
                    if _safe_here(site, rule):
                        continue
                    severity = severity_for(rule, context, self.true_half)
                    if severity is None:
                        continue
                    if site.source == "static" and self.deferred(key, Entry(
                            rule, site, (), frozenset(site.flows),
                            site.safe_unless if rule.context != AUTOCAST_RULE_CONTEXT else None)):
                        continue  # judged at its callers
                    op = canonical_op(site, rule)
                    where = describe_context(context, reached_from)
                    values = _site_values(site, rule, op, f"{where} {site.observed}" if site.observed else where,
                                          self.device)
                    statement = (site.statement_span.end_line,) if site.statement_span else ()
                    fix = fp32_region_fix(site, rule)
                    extra = {"context": context, **({"chain": list(site.chain)} if site.chain else {})}
                    hit = Hit(site.span, values, fix.edits if fix else (), statement, severity, op, site.source, extra)
                    findings.append(report(rule, site.path, hit, file.noqa))
        return [f for f in findings if f is not None]

    def _call_findings(self) -> list[Finding]:
        """Calls, in any module, to helpers whose op was left to their callers: reported at the nearest
        call that does not leave it to its own callers in turn."""
        project, findings = self.project, []
        for key, (file, info) in project.functions.items():
            context, reached_from = self._where(key, project.contexts[key])
            for edge, callee, shift in project.edges(key):
                if edge.span is None:
                    continue
                codes = set()
                for entry in self.applicable(edge, callee, shift):
                    severity = severity_for(entry.rule, context, self.true_half)
                    if entry.rule.code in codes or severity is None or not self.deferred(callee, entry):
                        continue  # not run under autocast here, or already reported where it happens
                    flows = _caller_flows(edge, project.functions[callee][1], shift, entry)
                    if self.deferred(key, replace(entry, flows=flows, unless=None)):
                        continue  # this function passes its own parameters on: its callers are judged
                    chain = (info.qualname.rsplit(".", 1)[-1], edge.text, *entry.chain)
                    where = f"{describe_context(context, reached_from)}, through `{'` -> `'.join(chain)}`"
                    values = _site_values(entry.site, entry.rule, edge.text, where, self.device)
                    hit = Hit(edge.span, values, severity=severity, op=canonical_op(entry.site, entry.rule),
                              extra={"context": context, "chain": list(chain)})
                    findings.append(report(entry.rule, file.path, hit, file.noqa))
                    codes.add(entry.rule.code)  # one finding per call and rule
        return [f for f in findings if f is not None]


def _passes_only_fp32(edge: CallEdge) -> bool:
    kinds = [arg[1] for arg in edge.args] + [keyword[2] for keyword in edge.keywords]
    return bool(kinds) and all(kind in SAFE_KINDS for kind in kinds)


def _identity(entry: Entry) -> tuple:
    return entry.rule.code, entry.site.path, entry.site.span


def _bind(entry: Entry, passed: dict) -> Entry | None:
    """The entry with the caller's literals in place of the parameters its op reads (`reduce="max"`
    makes a `reduce=reduce` scatter accumulate nothing: None); parameters the caller forwards stay bound."""
    if not entry.bound:
        return entry
    keywords, bound = dict(entry.site.keywords), []
    for key, param in entry.bound:
        arg = passed.get(param)
        if arg is None:
            continue
        flows, _, value = arg
        if value is not NOT_STATIC:
            keywords[key] = value
        elif len(flows) == 1:
            bound.append((key, flows[0]))
    site = replace(entry.site, keywords=keywords)
    if not any(pattern_matches(pattern, site) for pattern in entry.rule.patterns):
        return None
    return replace(entry, site=site, bound=tuple(bound))


def _argument(edge: CallEdge, info: FunctionInfo, shift: int, param: int):
    """(flows, dtype, static value) of what the call passes for the callee's parameter `param`, or None."""
    position = param - shift
    if 0 <= position < len(edge.args):
        return edge.args[position]
    name = info.params[param] if param < len(info.params) else None
    return next(((flows, dtype, value) for keyword, flows, dtype, value in edge.keywords if keyword == name), None)


def _caller_flows(edge: CallEdge, info: FunctionInfo, shift: int, entry: Entry) -> frozenset:
    flows = frozenset()
    for param in entry.flows:
        passed = _argument(edge, info, shift, param)
        if passed is not None:
            flows |= frozenset(passed[0])
    return flows


def wrapper_names(facts: list[FileFacts], catalogue: Catalogue) -> frozenset:
    """Names a file must mention to call a project function that accumulates (or construct a module
    whose forward does), or a project Trainer/Fabric subclass: such a file is worth parsing."""
    project = Project(facts, catalogue)
    judge = _Judge(project, op_rules_for(catalogue, True), False)
    judge.summarize()
    names = set()
    for key in judge.summaries:
        info = project.functions[key][1]
        if info.owner is None and "." not in info.qualname:
            names.add(info.qualname)  # a module-level function
        elif info.owner and "." not in info.owner and info.qualname == f"{info.owner}.forward":
            names.add(info.owner)  # a module class: its instances are called (`self.aggr(x, index)`)
    for file in facts:
        for qualname in file.classes:
            if "." not in qualname and project.setting_kind(file, f"{file.module}.{qualname}")[0]:
                names.add(qualname)
    return frozenset(names)


def op_findings(facts: list[FileFacts], catalogue: Catalogue, settings: list | None = None,
                project: Project | None = None) -> list[Finding]:
    """PRC2xx findings, each with the FP32-region fix its scan built (`OpSite.fp32_fix`).

    `settings` (default: the facts' own) decide which precisions can run; `project`
    reuses a module index already built for these facts.
    """
    project = project or Project(facts, catalogue)
    settings = settings if settings is not None else [s for _, s, _ in project.settings()]
    true_half, fp16_possible = _precision_profile(settings)
    judge = _Judge(project, op_rules_for(catalogue, fp16_possible), true_half, _device(settings))
    judge.reachability()
    judge.summarize()
    return _once(judge.findings())


def _once(findings: list[Finding]) -> list[Finding]:
    """One finding per line and rule: a traced op the static scan already reported, or a call
    whose line already holds the op itself, is reported once."""
    seen, kept = set(), []
    for finding in sorted(findings, key=lambda f: (f.source != "static", "chain" in f.extra)):
        where = (finding.path, finding.line, finding.code)
        if where not in seen:
            seen.add(where)
            kept.append(finding)
    return kept

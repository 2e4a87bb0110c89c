"""The public Python API: what the CLI, the flake8 plugin and the tests call."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advisor import engine
from advisor.catalogue import Catalogue, builtin_rules_dir, load_catalogue
from advisor.config import Config
from advisor.engine import FileResult, Report
from advisor.facts import ModelCensus
from advisor.scan.cache import FileCache, default_folder
from advisor.scan.opindex import AMP_TRIGGERS, HALF_CALL, OpIndex

# With a target, a call without precision= matters too, and so do what the memory model reads.
TARGET_TRIGGERS = ("Trainer", "Fabric", "configure_optimizers", "init_module")


@dataclass
class Checker:
    """One configured check: `scan` reads files, `judge` turns their results into a report.

    `--fix` re-judges re-scanned texts with the same checker, so a fix pass
    sees exactly the rules, target and census the first check saw.
    """

    config: Config
    catalogue: Catalogue
    index: OpIndex
    target: object = None  # an advisor.hardware.table.Gpu: turns on the hardware rules and the recommendation
    census: ModelCensus | None = None  # from --trace: sizes the quantization advice
    cache: FileCache | None = None  # per-file results of earlier runs (the CLI's default; --no-cache)

    @classmethod
    def create(cls, config: Config | None = None, target=None, census: ModelCensus | None = None,
               use_cache: bool = False) -> Checker:
        config = config or Config()
        catalogue = load_catalogue(config.extra_rules)
        index = OpIndex.build(catalogue, (*(TARGET_TRIGGERS if target is not None else ()), *AMP_TRIGGERS),
                              (HALF_CALL,))
        cache = FileCache(default_folder(), _rules_fingerprint(catalogue, index)) if use_cache else None
        if cache is not None:
            cache.prune()
        return cls(config, catalogue, index, target, census, cache)

    def scan(self, paths: list[str], stdin: tuple | None = None, jobs: int | None = None) -> list[FileResult]:
        return engine.run(paths, self.config, self.catalogue, self.index, jobs=jobs, stdin=stdin, cache=self.cache)

    def trace(self, scripts: list[str], model: str | None = None, timeout: float = 120.0,
              results: list[FileResult] = (), roots: list | None = None) -> list:
        """Trace the models the scripts define (or `model`) in one child process (runs user code:
        opt-in), under the precision the scanned `results` set; the largest model's census then
        sizes the quantization advice. Files that define no class are left to the static check."""
        from advisor.trace.api import judged_precision, trace_scripts
        from advisor.trace.sources import defines_classes
        candidates = scripts if model else [s for s in scripts if defines_classes(s)]
        if not candidates:
            return []
        values = [s.normalized for r in results if r.facts is not None for s in r.facts.settings]
        precision = judged_precision(values)["name"] if any(values) else None
        traced = trace_scripts(candidates, model, timeout, self.catalogue, roots=roots, precision=precision)
        if self.census is None and traced.census is not None:
            self.census = traced.census
        return [traced]

    def judge(self, results: list[FileResult], extra_ops=()) -> Report:
        report = engine.finalize(results, self.catalogue, self.config, self.index, extra_ops=extra_ops)
        if self.target is None:
            return report
        from advisor.checks.hardware import hardware_findings
        from advisor.hardware.memory import from_facts
        from advisor.hardware.recommend import recommend
        reported = {(f.path, f.line) for f in report.findings if f.code.startswith("PRC2")}
        fp32_ops = [op for f in report.facts for op in f.ops if (op.path, op.span.line) in reported]
        optimizer, init_module = from_facts(report.facts)
        recommendation = recommend(self.target, report.settings, fp32_ops, self.census, devices=self.config.devices,
                                   optimizer=optimizer, init_module=init_module, te_available=_te_importable(),
                                   config={"memory-headroom": self.config.memory_headroom, "task": self.config.task})
        noqa, torch_names = {f.path: f.noqa for f in report.facts}, {f.path: f.imports_torch_as for f in report.facts}
        extra = hardware_findings(report.settings, self.target, recommendation, self.catalogue, self.census, noqa,
                                  torch_names)
        capability = self.target.compute_capability if self.target.kind == "cuda" else None
        amp_facts = [f.amp for f in report.facts if f.amp]
        if amp_facts:
            from advisor.checks.amp import target_findings  # with libcst: only when a file has AMP code

            extra += target_findings(amp_facts, capability, self.catalogue, noqa)
        engine.add_findings(report, extra, self.config)
        report.recommendation = recommendation
        return report


def _rules_fingerprint(catalogue: Catalogue, index: OpIndex) -> str:
    """What per-file results depend on besides the file: every rule file's text and the pre-filter's words."""
    origins = sorted({rule.origin for rule in catalogue} | set(map(str, builtin_rules_dir().glob("*.toml"))))
    texts = []
    for origin in origins:
        try:
            texts.append(Path(origin).read_text(encoding="utf-8"))
        except OSError:
            texts.append("")
    triggers = index.triggers
    return repr((texts, sorted(triggers.words), sorted(triggers.regexes), sorted(triggers.prefixes)))


def _te_importable() -> bool:
    """Whether transformer_engine is installed (looked up, never imported: no torch here)."""
    import importlib.util
    return importlib.util.find_spec("transformer_engine") is not None


def check(paths: list[str], config: Config | None = None, *, stdin: tuple | None = None,
          jobs: int | None = None, target=None, census: ModelCensus | None = None) -> Report:
    """Check files and folders (or one `(name, text)` from stdin) with a config."""
    checker = Checker.create(config, target, census)
    return checker.judge(checker.scan(paths, stdin, jobs))


def check_text(text: str, path: str = "<string>", config: Config | None = None, **options) -> Report:
    """Check one source text as if it were the file `path` (options as for `check`)."""
    return check([path], config, stdin=(path, text), **options)

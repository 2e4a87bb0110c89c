"""The public Python API: what the CLI, the flake8 plugin and the tests call."""
from __future__ import annotations

from typing import Optional

from advisor import engine
from advisor.catalogue import load_catalogue
from advisor.config import Config
from advisor.engine import Report
from advisor.facts import ModelCensus
from advisor.scanner import OpIndex

TARGET_TRIGGERS = ("Trainer", "Fabric")  # with a target, a call without precision= matters too


def check(paths: list[str], config: Optional[Config] = None, *, stdin: Optional[tuple] = None,
          jobs: Optional[int] = None, target=None, census: Optional[ModelCensus] = None) -> Report:
    """Check files and folders (or one `(name, text)` from stdin) with a config.

    `target` (an advisor.hardware.Gpu) turns on the hardware rules and the
    recommendation; `census` (from --trace) sizes the quantization advice.
    """
    config = config or Config()
    catalogue = load_catalogue(config.extra_rules)
    index = OpIndex.build(catalogue, TARGET_TRIGGERS if target is not None else ())
    results = engine.run(paths, config, catalogue, index, jobs=jobs, stdin=stdin)
    report = engine.finalize(results, catalogue, config, index)
    if target is None:
        return report
    from advisor.hardware_rules import hardware_findings
    from advisor.recommend import recommend
    reported = {(f.path, f.line) for f in report.findings if f.code.startswith("PRC2")}
    fp32_ops = [op for f in report.facts for op in f.ops if (op.path, op.span.line) in reported]
    recommendation = recommend(target, report.settings, fp32_ops, census, devices=config.devices)
    extra = hardware_findings(report.settings, [op for f in report.facts for op in f.ops], target, recommendation,
                              catalogue, census)
    report = engine.finalize(results, catalogue, config, index, extra_findings=extra)
    report.recommendation = recommendation
    return report


def check_text(text: str, path: str = "<string>", config: Optional[Config] = None, **options) -> Report:
    """Check one source text as if it were the file `path` (options as for `check`)."""
    return check([path], config, stdin=(path, text), **options)

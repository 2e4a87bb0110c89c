"""Run the fixer on real files through the engine, as `check --fix/--diff` does.

`attach_fp32_fixes` stands in for the project.py call to
advisor.fp32_fix.fp32_region_fix until op findings carry their fixes;
it only fills findings that have none, so it is a no-op after that.
"""
from __future__ import annotations

import io
from pathlib import Path

from advisor import engine, fixer, sourcefile
from advisor.catalogue import load_catalogue
from advisor.config import Config
from advisor.fp32_fix import device_type_for, fp32_region_fix
from advisor.scanner import OpIndex


def attach_fp32_fixes(report, catalogue, texts):
    facts = {f.path: f for f in report.facts}
    for finding in report.findings:
        if not finding.op or finding.fix is not None or finding.path not in facts:
            continue
        file = facts[finding.path]
        site = next((s for s in file.ops if s.span == finding.span), None)
        if site is None:
            continue
        text = texts[finding.path] if finding.path in texts else sourcefile.read(Path(finding.path)).text
        finding.fix = fp32_region_fix(site, text, file.imports_torch_as, catalogue[finding.code],
                                      device_type_for(file))
    return report


def run_fixer(paths, mode="fix", unsafe=False, target_known=False, config=None):
    """(outcome, stdout, stderr) of one fixer run over `paths`."""
    config = config or Config()
    catalogue = load_catalogue()
    index = OpIndex.build(catalogue)
    results = engine.run([str(p) for p in paths], config, catalogue, index, jobs=1)
    report = attach_fp32_fixes(engine.finalize(results, catalogue, config, index), catalogue, {})
    static = fixer.rechecker(results, catalogue, config, index)
    recheck = lambda texts: attach_fp32_fixes(static(texts), catalogue, texts)  # noqa: E731
    out, err = io.StringIO(), io.StringIO()
    outcome = fixer.apply(report, recheck, mode, unsafe, target_known, out, err)
    return outcome, out.getvalue(), err.getvalue()

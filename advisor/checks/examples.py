"""Running a rule's catalogue examples through the real checker, as the CLI would.

The rule-examples test and `explain` both read the examples this way, so
what a page shows is what the checker does. A runtime rule's examples are
training scripts: `run_example` runs one, as its user would.
"""
from __future__ import annotations

import os
import runpy
from pathlib import Path

from advisor.api import Checker
from advisor.catalogue import Example, Rule
from advisor.config import Config
from advisor.engine import Report
from advisor.facts import ModelCensus
from advisor.scan.sourcefile import SourceFile

PATH = "example.py"


def _checker(example: Example) -> Checker:
    """The check an example's options ask for: a target GPU and, for census rules, a model size."""
    from advisor.hardware.table import lookup
    options = example.options_dict
    target = lookup(options["gpu"]) if "gpu" in options else None
    census = None
    if "params" in options:
        census = ModelCensus("example", options["params"], options.get("trainable_params", options["params"]),
                             options.get("linear_params", 0))
    return Checker.create(Config(), target, census)


def check_example(example: Example) -> Report:
    checker = _checker(example)
    return checker.judge(checker.scan([PATH], stdin=(PATH, example.code)))


def fixed_example(example: Example, rule: Rule) -> str:
    """What `check --fix` (with `--unsafe-fixes` for an unsafe rule) makes of the example."""
    from advisor.fix import fixer
    checker = _checker(example)
    results = checker.scan([PATH], stdin=(PATH, example.code))
    recheck = fixer.rechecker(results, checker.catalogue, checker.index, checker.judge)
    source = SourceFile(PATH, example.code, "utf-8", example.code.encode("utf-8"))
    plan = fixer.plan_fixes(checker.judge(results), recheck, rule.fix == "unsafe", checker.target is not None,
                            {PATH: source})
    return plan.files[PATH].text if PATH in plan.files else example.code


def run_example(example: Example, folder) -> list:
    """The findings the PrecisionAdvisor callbacks of a runtime rule's example script report when it
    runs here, in `folder` (its logs go there): the script is real code, run in this process."""
    from advisor.callback import AdvisorHooks

    script = Path(folder) / PATH
    script.write_text(example.code, encoding="utf-8")
    before = os.getcwd()
    os.chdir(folder)
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
    finally:
        os.chdir(before)
    return [f for value in namespace.values() if isinstance(value, AdvisorHooks) for f in value.findings]

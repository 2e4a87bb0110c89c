"""Run the fixer on real files through the public checker, as `check --fix/--diff` does."""
from __future__ import annotations

import io

from advisor import fixer
from advisor.api import Checker


def run_fixer(paths, mode="fix", unsafe=False, target_known=False, config=None):
    """(outcome, stdout, stderr) of one fixer run over `paths`."""
    checker = Checker.create(config)
    results = checker.scan([str(p) for p in paths], jobs=1)
    recheck = fixer.rechecker(results, checker.catalogue, checker.index, checker.judge)
    out, err = io.StringIO(), io.StringIO()
    outcome = fixer.apply(checker.judge(results), recheck, mode, unsafe, target_known, out, err)
    return outcome, out.getvalue(), err.getvalue()

"""Run the fixer on real files through the public checker, as `check --fix/--diff` does."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import libcst as cst

from advisor.api import Checker
from advisor.fix import fixer


def run_fixer(paths, mode="fix", unsafe=False, target_known=False, config=None):
    """(outcome, stdout, stderr) of one fixer run over `paths`."""
    checker = Checker.create(config)
    results = checker.scan([str(p) for p in paths], jobs=1)
    recheck = fixer.rechecker(results, checker.catalogue, checker.index, checker.judge)
    out, err = io.StringIO(), io.StringIO()
    outcome = fixer.apply(checker.judge(results), recheck, mode, unsafe, target_known, out, err)
    return outcome, out.getvalue(), err.getvalue()


def fix_twice(program: str):
    """`--fix --unsafe-fixes` twice on `program` as a file: the first output parses (a file that
    cannot be checked is left untouched), the second run changes nothing. The first outcome."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.py"
        path.write_bytes(program.encode("utf-8"))
        first, _, _ = run_fixer([path], unsafe=True)
        once = path.read_bytes()
        if first.report.errors:
            assert once == program.encode("utf-8")
            return first
        cst.parse_module(once.decode("utf-8"))
        second, _, _ = run_fixer([path], unsafe=True)
        assert path.read_bytes() == once and second.fixed == 0
        return first

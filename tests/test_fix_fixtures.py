"""Whole-script rewrites: each `X.py` under fixtures/fix becomes `X.fixed.py`, byte for byte.

`unsafe_*` fixtures run with `--unsafe-fixes`. A second run must change nothing.
"""
import shutil
from pathlib import Path

import pytest

from fixing import run_fixer

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CASES = sorted(p for p in FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_fixture_is_rewritten_exactly(case, tmp_path):
    target = tmp_path / case.name
    shutil.copyfile(case, target)
    unsafe = case.name.startswith("unsafe_")
    outcome, _, err = run_fixer([target], unsafe=unsafe)
    assert target.read_bytes() == case.with_suffix(".fixed.py").read_bytes(), err
    assert outcome.fixed > 0 and outcome.remaining == [] and outcome.exit_code == 0
    again, _, _ = run_fixer([target], unsafe=unsafe)
    assert again.fixed == 0 and target.read_bytes() == case.with_suffix(".fixed.py").read_bytes()

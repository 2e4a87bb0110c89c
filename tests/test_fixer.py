"""The fix engine through its public functions: modes, fix kinds, safety guarantees."""
import os
import stat

import pytest

from advisor.engine import Report
from advisor.facts import Span
from advisor.findings import Edit, Finding, Fix
from advisor.fix import fixer

from fixing import run_fixer

LEGACY = "import lightning as L\n\ntrainer = L.Trainer(precision=16)  # fp16 AMP\n"
FIXED = "import lightning as L\n\ntrainer = L.Trainer(precision=\"16-mixed\")  # fp16 AMP\n"
SCATTER = ("import torch as T\nimport lightning as L\n\n\nclass Net(L.LightningModule):\n"
           "    def forward(self, x, index):\n        y = T.scatter_add(x, 0, index, x)\n        return y\n")


def finding(line, column, end_line, end_column, content, applicability="safe", code="PRC101"):
    span = Span(line, column, end_line, end_column)
    return Finding(code=code, rule="r", severity="warning", path="f.py", span=span, message="m",
                   fix=Fix(applicability, "t", (Edit(span, content),)))


def test_fix_writes_the_fix_and_reports_what_remains(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(LEGACY + "y = 1\n")
    outcome, _, err = run_fixer([path])
    assert path.read_text() == FIXED + "y = 1\n"
    assert outcome.fixed == 1 and outcome.exit_code == 0 and "Fixed 1 finding in 1 file; 0 remaining." in err


def test_fix_exits_1_when_findings_remain(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(SCATTER)
    outcome, _, _ = run_fixer([path])
    assert path.read_text() == SCATTER  # the scatter fix is unsafe: not applied by --fix
    assert outcome.exit_code == 1 and [f.code for f in outcome.remaining] == ["PRC201"]


def test_unsafe_fixes_wrap_the_op_with_the_files_torch_alias(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(SCATTER)
    outcome, _, _ = run_fixer([path], unsafe=True)
    assert "        with T.autocast(device_type=\"cuda\", enabled=False):\n" \
           "            y = T.scatter_add(x.float(), 0, index, x.float()).to(x.dtype)\n" in path.read_text()
    assert outcome.exit_code == 0 and "import torch\n" not in path.read_text()


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(LEGACY)
    outcome, out, err = run_fixer([path], mode="diff")
    assert path.read_text() == LEGACY and outcome.exit_code == 1
    assert f"--- {path}\n+++ {path}\n" in out
    assert "-trainer = L.Trainer(precision=16)  # fp16 AMP\n+trainer = L.Trainer(precision=\"16-mixed\")" in out
    assert "Would fix 1 finding in 1 file." in err


def test_diff_of_a_clean_file_is_empty_and_exits_0(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(FIXED)
    outcome, out, _ = run_fixer([path], mode="diff")
    assert out == "" and outcome.exit_code == 0


def test_file_mode_is_kept_and_no_temp_file_is_left(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(LEGACY)
    path.chmod(0o754)
    run_fixer([path])
    assert stat.S_IMODE(path.stat().st_mode) == 0o754 and sorted(os.listdir(tmp_path)) == ["train.py"]


def test_a_symlink_stays_a_link_and_its_target_is_fixed(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(LEGACY)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    run_fixer([link])
    assert link.is_symlink() and real.read_text() == FIXED


def test_a_file_that_does_not_parse_is_left_byte_identical_with_exit_2(tmp_path):
    path = tmp_path / "broken.py"
    data = b"import lightning as L\nL.Trainer(precision=16\n"
    path.write_bytes(data)
    outcome, _, _ = run_fixer([path])
    assert path.read_bytes() == data and outcome.exit_code == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
def test_an_unwritable_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(LEGACY)
    path.chmod(0o444)
    outcome, _, err = run_fixer([path])
    assert path.read_text() == LEGACY and outcome.exit_code == 2
    assert f"prec-advisor: error: {path}: cannot write: file is not writable\n" in err


def test_a_file_gone_before_the_fix_is_a_one_line_error(tmp_path):
    import io

    from advisor import engine
    from advisor.catalogue import load_catalogue
    from advisor.config import Config
    from advisor.scan.opindex import OpIndex
    path = tmp_path / "train.py"
    path.write_text(LEGACY)
    catalogue, config = load_catalogue(), Config()
    index = OpIndex.build(catalogue)
    results = engine.run([str(path)], config, catalogue, index, jobs=1)
    report = engine.finalize(results, catalogue, config, index)
    path.unlink()
    path.mkdir()
    err = io.StringIO()
    recheck = fixer.rechecker(results, catalogue, index, lambda fresh: engine.finalize(fresh, catalogue, config, index))
    outcome = fixer.apply(report, recheck, "fix", False, False, io.StringIO(), err)
    assert outcome.exit_code == 2 and err.getvalue().count(f"prec-advisor: error: {path}:1: is a directory\n") == 1


def test_noqa_lines_are_not_rewritten():
    text = "a = (\n    16,  # noqa: PRC101\n)\n"
    new, applied, skipped = fixer.fix_text(text, [finding(1, 5, 3, 2, "('16-mixed')")], {2: frozenset({"PRC101"})})
    assert new == text and applied == [] and skipped[0][1] == "not applied (# noqa on line 2)"
    new, applied, _ = fixer.fix_text(text, [finding(1, 5, 3, 2, "('16-mixed')")], {2: frozenset({"PRC201"})})
    assert new == "a = ('16-mixed')\n" and len(applied) == 1


def test_overlapping_fixes_apply_the_first_and_report_the_rest():
    text = "x = f(16, 32)\n"
    outer, inner, other = finding(1, 5, 1, 14, "g()"), finding(1, 7, 1, 9, "'16-mixed'"), finding(1, 1, 1, 2, "y")
    new, applied, skipped = fixer.fix_text(text, [inner, other, outer], {})
    assert new == "y = g()\n" and applied == [other, outer]
    assert skipped == [(inner, "not applied (overlaps another fix; a later pass retries it)")]


def test_adjacent_fixes_both_apply_and_same_point_insertions_do_not():
    text = "f(a)\n"
    new, applied, _ = fixer.fix_text(text, [finding(1, 3, 1, 4, "b"), finding(1, 4, 1, 4, ", c=1")], {})
    assert new == "f(b, c=1)\n" and len(applied) == 2
    new, applied, skipped = fixer.fix_text(text, [finding(1, 4, 1, 4, ", c=1"), finding(1, 4, 1, 4, ", d=2")], {})
    assert new == "f(a, c=1)\n" and len(skipped) == 1


def test_a_fix_that_would_not_parse_is_reported_and_the_others_kept():
    text = "a = 1\nb = 2\n"
    good, bad = finding(1, 5, 1, 6, "10"), finding(2, 5, 2, 6, "(")
    new, applied, skipped = fixer.fix_text(text, [good, bad], {})
    assert new == "a = 10\nb = 2\n" and applied == [good]
    assert skipped == [(bad, "not applied (the result would not parse)")]


def test_overlapping_rules_on_one_call_reach_a_fixed_point(tmp_path):
    """PRC104 (drop precision= next to a plugin) contains PRC101's literal edit: one pass, then nothing left."""
    path = tmp_path / "train.py"
    path.write_text("import lightning as L\nfrom lightning.pytorch.plugins import MixedPrecision\n"
                    "L.Trainer(plugins=[MixedPrecision(\"16-mixed\", \"cuda\")], precision=16)\n")
    outcome, _, err = run_fixer([path])
    assert "precision=16" not in path.read_text() and outcome.remaining == [] and outcome.exit_code == 0, err


def recommended_report(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("import lightning as L\nL.Trainer()\n")
    span = Span(2, 11, 2, 11)
    found = Finding(code="PRC122", rule="precision-missing-on-gpu", severity="warning", path=str(path), span=span,
                    message="m", fix=Fix("recommended", "Add", (Edit(span, 'precision="bf16-mixed"'),)))
    return path, Report(findings=[found], files_checked=1)


@pytest.mark.parametrize("target_known", [False, True])
def test_recommended_fixes_need_a_hardware_target(tmp_path, target_known):
    import io
    path, report = recommended_report(tmp_path)
    outcome = fixer.apply(report, lambda texts: Report(files_checked=1), "fix", False, target_known,
                          io.StringIO(), io.StringIO())
    assert ('precision="bf16-mixed"' in path.read_text()) is target_known
    assert outcome.fixed == int(target_known)


def test_enabled_by_applicability():
    safe, recommended, unsafe = (finding(1, 1, 1, 2, "x", kind) for kind in ("safe", "recommended", "unsafe"))
    assert [fixer.enabled(f, False, False) for f in (safe, recommended, unsafe)] == [True, False, False]
    assert [fixer.enabled(f, True, True) for f in (safe, recommended, unsafe)] == [True, True, True]

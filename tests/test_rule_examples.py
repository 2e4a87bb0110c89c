"""Every rule's own examples through the public API, and the rule model's bookkeeping:
each TOML code has a Python rule or patterns, each Python rule a TOML entry in the file
named like its module, and no page shows an unfilled `{placeholder}`."""
import re
from pathlib import Path

import pytest

from advisor.catalogue import load_catalogue
from advisor.checks import registry
from advisor.checks.examples import check_example, fixed_example, run_example
from advisor.commands.explain import rule_page, rules_markdown

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = load_catalogue()
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}")


def _cases(kind):
    """A runtime rule's example ids end in "-runtime": conftest marks them as torch tests."""
    for rule in CATALOGUE:
        for number, example in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, example, id=f"{rule.code}-{kind}-{number}" + ("-runtime" if rule.runtime else ""))


def _findings(rule, example, folder):
    """What the checker reports for a static rule's snippet; what a runtime rule's script reports when it runs."""
    return run_example(example, folder) if rule is not None and rule.runtime else check_example(example).findings


def _codes(example, rule=None, folder=None):
    return [f.code for f in _findings(rule, example, folder)]


@pytest.mark.parametrize("rule, example", list(_cases("invalid")))
def test_invalid_example_is_flagged(rule, example, tmp_path):
    assert rule.code in _codes(example, rule, tmp_path)


@pytest.mark.parametrize("rule, example", list(_cases("valid")))
def test_valid_example_is_not_flagged(rule, example, tmp_path):
    assert rule.code not in _codes(example, rule, tmp_path)


@pytest.mark.parametrize("rule, example", [case for case in _cases("invalid") if case.values[1].fixed is not None])
def test_fixed_text_is_what_the_fix_produces(rule, example):
    fixed = fixed_example(example, rule)
    assert fixed == example.fixed
    assert rule.code not in _codes(type(example)(fixed, example.options))


@pytest.mark.parametrize("rule", [r for r in CATALOGUE if not r.runtime], ids=lambda r: r.code)
def test_a_rule_fixes_what_it_says_it_fixes(rule):
    """`fix = "safe"/"unsafe"` is a promise (explain, docs and `[*]` say so): some invalid example gets
    a fix of that kind; `fix = "none"` rules never offer one."""
    kinds = {f.fix.applicability if f.fix else "none" for example in rule.invalid
             for f in check_example(example).findings if f.code == rule.code}
    assert (rule.fix in kinds) if rule.fix != "none" else kinds == {"none"}, kinds


@pytest.mark.parametrize("rule", [r for r in CATALOGUE if r.family != "PRC0xx"],
                         ids=lambda r: r.code + ("-runtime" if r.runtime else ""))
def test_a_noqa_on_the_line_silences_every_rule(rule, tmp_path):
    """One `report()` applies noqa to every family alike (the tool's own PRC0xx are about noqa)."""
    example = rule.invalid[0]
    line = next(f.line for f in _findings(rule, example, tmp_path) if f.code == rule.code)
    lines = example.code.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].rstrip("\n") + f"  # noqa: {rule.code}\n"
    assert rule.code not in _codes(type(example)("".join(lines), example.options), rule, tmp_path)


def test_every_rule_has_both_kinds_of_examples():
    for rule in CATALOGUE:
        assert rule.invalid, f"{rule.code} has no invalid example"
        assert rule.valid, f"{rule.code} has no valid example"


def test_every_code_is_one_python_rule_or_patterns_in_the_file_of_its_family():
    registered = registry.load_all()
    for rule in CATALOGUE:
        family = Path(rule.origin).stem
        assert (ROOT / "advisor" / "checks" / f"{family}.py").is_file(), f"{rule.origin}: no advisor/checks/{family}.py"
        if rule.patterns:
            assert rule.code not in registered, f"{rule.code} has patterns and a Python rule"
        else:
            assert rule.code in registered, f"{rule.code} has neither a Python rule nor patterns"
            assert registered[rule.code].family == family, f"{rule.code} is judged outside checks/{family}.py"
    for code, entry in registered.items():
        assert code in CATALOGUE.rules, f"Python rule {code} ({entry.function.__name__}) has no TOML entry"


def test_use_instead_shows_the_fixed_text_or_other_code():
    for rule in CATALOGUE:
        page = rule_page(rule)
        shown = rule.invalid[0].fixed if rule.invalid[0].fixed is not None else rule.valid[0].code
        assert shown.rstrip() in page.split("Use instead:", 1)[1], rule.code
        # the same code is a fair "use instead" only for another traced model, never for another GPU
        assert shown != rule.invalid[0].code or "params" in rule.valid[0].options_dict, rule.code


def test_no_page_has_an_unfilled_placeholder():
    for rule in CATALOGUE:
        assert not PLACEHOLDER.findall(rule_page(rule)), rule.code
    docs = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert not PLACEHOLDER.findall(docs)
    assert not PLACEHOLDER.findall(rules_markdown(CATALOGUE))

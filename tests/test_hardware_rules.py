"""Hardware-dependent rules: every example in rules/hardware.toml through the real scanner, and the fixes."""
import re

import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.hardware import hardware_findings
from advisor.facts import ModelCensus
from advisor.fix.edits import LineIndex
from advisor.hardware.recommend import recommend
from advisor.hardware.table import lookup
from advisor.scan.opindex import OpIndex
from advisor.scan.scanner import scan

CATALOGUE = load_catalogue()
INDEX = OpIndex.build(CATALOGUE, extra_triggers=("Trainer", "Fabric"))  # PRC122 needs calls without precision=
RULES = [rule for rule in CATALOGUE if rule.origin.endswith("hardware.toml")]


def findings_for(code: str, gpu: str, params=None, linear_params=None, trainable_params=None):
    facts, *_ = scan("example.py", code, INDEX)
    target = lookup(gpu)
    census = ModelCensus("example", params, trainable_params or params, linear_params) if params else None
    rec = recommend(target, facts.settings, facts.ops, census)
    torch_names = {facts.path: facts.imports_torch_as}
    return hardware_findings(facts.settings, target, rec, CATALOGUE, census, torch_names=torch_names)


def apply(code: str, finding) -> str:
    index = LineIndex(code)
    for edit in sorted(finding.fix.edits, key=lambda e: (e.span.line, e.span.column), reverse=True):
        start = index.offset(edit.span.line, edit.span.column)
        end = index.offset(edit.span.end_line, edit.span.end_column)
        code = code[:start] + edit.content + code[end:]
    return code


def examples(kind):
    return [pytest.param(rule, example, id=f"{rule.code}-{i}")
            for rule in RULES for i, example in enumerate(getattr(rule, kind))]


def test_codes_are_in_the_reserved_ranges():
    assert all(re.fullmatch(r"PRC12[0-9]|PRC30[1-9]", rule.code) for rule in RULES)
    for rule in RULES:
        assert rule.references and rule.invalid and rule.valid
        assert (rule.fix == "none") == (not rule.fix_title)


@pytest.mark.parametrize("rule,example", examples("invalid"))
def test_invalid_examples_are_flagged(rule, example):
    found = [f for f in findings_for(example.code, **example.options_dict) if f.code == rule.code]
    assert found, f"{rule.code} missed:\n{example.code}"
    finding = found[0]
    assert finding.rule == rule.name and finding.severity == rule.severity
    assert not re.search(r"\{[a-z_]+[!:}]", finding.message), finding.message  # every placeholder was filled
    if finding.fix:
        assert finding.fix.applicability == rule.fix
        fixed = apply(example.code, finding)
        compile(fixed, "fixed.py", "exec")
        assert not [f for f in findings_for(fixed, **example.options_dict) if f.code == rule.code]


@pytest.mark.parametrize("rule,example", examples("valid"))
def test_valid_examples_are_not_flagged(rule, example):
    assert not [f for f in findings_for(example.code, **example.options_dict) if f.code == rule.code]


def only(code, gpu, rule, **census):
    found = [f for f in findings_for(code, gpu, **census) if f.code == rule]
    assert len(found) == 1, found
    return found[0]


def test_fp16_to_bf16_keeps_the_quote_style():
    code = "import lightning as L\ntrainer = L.Trainer(precision='16-mixed', max_epochs=3)\n"
    assert apply(code, only(code, "a100", "PRC120")) == code.replace("'16-mixed'", "'bf16-mixed'")


def test_legacy_int_precision_becomes_a_string():
    code = "import lightning as L\ntrainer = L.Trainer(precision=16)\n"
    assert 'precision="bf16-mixed"' in apply(code, only(code, "h100", "PRC120"))


def test_bf16_to_fp16_on_t4():
    code = 'import lightning as L\ntrainer = L.Trainer(precision="bf16-true")\n'
    assert 'precision="16-true"' in apply(code, only(code, "t4", "PRC121"))


@pytest.mark.parametrize("code,expected", [
    ("import lightning as L\ntrainer = L.Trainer()\n", 'L.Trainer(precision="bf16-mixed")'),
    ("import lightning as L\ntrainer = L.Trainer(max_epochs=3, devices=1)\n",
     'L.Trainer(max_epochs=3, devices=1, precision="bf16-mixed")'),
    ("import lightning as L\ntrainer = L.Trainer(max_epochs=3,)\n", 'L.Trainer(max_epochs=3, precision="bf16-mixed",)'),
    ("import lightning as L\ntrainer = L.Trainer(logger='csv')\n", "L.Trainer(logger='csv', precision='bf16-mixed')"),
    ("import lightning as L\ntrainer = L.Trainer(\n    max_epochs=3,\n    devices=1,\n)\n",
     'L.Trainer(\n    max_epochs=3,\n    devices=1,\n    precision="bf16-mixed",\n)'),
])
def test_missing_precision_is_inserted_in_the_call_layout(code, expected):
    assert expected in apply(code, only(code, "a100", "PRC122"))


def test_missing_precision_on_t4_recommends_fp16():
    code = "from lightning.fabric import Fabric\nfabric = Fabric(devices=2)\n"
    assert 'Fabric(devices=2, precision="16-mixed")' in apply(code, only(code, "t4", "PRC122"))


def test_missing_precision_not_reported_with_a_precision_plugin():
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4'))\n")
    assert not [f for f in findings_for(code, "a100") if f.code == "PRC122"]


def test_transformer_engine_below_ada_is_replaced_by_the_recommendation():
    code = 'import lightning as L\ntrainer = L.Trainer(precision="transformer-engine")\n'
    assert 'precision="16-mixed"' in apply(code, only(code, "v100", "PRC123"))


def test_int8_dtype_fix_keeps_the_module_alias():
    code = ("import torch as th\nimport lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='int8', dtype=th.bfloat16))\n")
    assert "dtype=th.float16" in apply(code, only(code, "a100", "PRC303"))


def test_four_bit_dtype_inserted_below_ampere():
    code = ("import torch\nimport lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4-dq'))\n")
    fixed = apply(code, only(code, "v100", "PRC308"))
    assert "BitsandbytesPrecision(mode='nf4-dq', dtype=torch.float16)" in fixed
    assert only(code.replace("import torch\n", ""), "v100", "PRC308").fix is None  # torch.float16: a NameError


def test_census_rules_need_a_census():
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4'))\n")
    codes = {f.code for f in findings_for(code, "a100")}
    assert not codes & {"PRC301", "PRC306"}
    no_linear = only(code, "a100-80gb", "PRC306", params=10**9, linear_params=0)
    assert "TypeError" in no_linear.message


def test_fsdp_sharding_decides_whether_16_bit_fits():
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(strategy='fsdp', devices=8, plugins=BitsandbytesPrecision(mode='nf4'))\n")
    lora = {"params": 70 * 10**9, "linear_params": 66 * 10**9, "trainable_params": 10**8}
    assert only(code, "a100", "PRC301", **lora)
    single = code.replace("strategy='fsdp', devices=8, ", "")
    assert not [f for f in findings_for(single, "a100", **lora) if f.code == "PRC301"]


@pytest.mark.parametrize("value,problem", [
    ("'lm_head'", "each character"),
    ("{'self.model.lm_head'}", "drop 'self.'"),
    ("['']", "every name"),
    ("{'layers[0]'}", "dotted attribute path"),
])
def test_ignore_modules_that_cannot_match(value, problem):
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            f"trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4', ignore_modules={value}))\n")
    assert problem in only(code, "a100", "PRC307").message


def test_bitsandbytes_on_cpu_target():
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4'))\n")
    assert "'cpu'" in only(code, "cpu", "PRC305").message

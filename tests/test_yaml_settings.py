"""YAML configs as precision settings: LightningCLI and Hydra, checked against real PyYAML and ruamel.yaml."""
import io

import pytest
import yaml
from ruamel.yaml import YAML

from advisor.catalogue import load_catalogue
from advisor.checks.hardware import hardware_findings
from advisor.checks.settings import setting_findings
from advisor.facts import Span
from advisor.findings import Edit, Finding, Fix
from advisor.fix.edits import LineIndex
from advisor.hardware.table import lookup
from advisor.scan.yaml_settings import is_yaml, scan_yaml, yaml_safe_fixes

CATALOGUE = load_catalogue()

CLI_CONFIG = """\
# LightningCLI config
seed_everything: 42
model:
  precision: 16        # a model argument, not a setting
trainer:
  accelerator: gpu
  devices: 2
  precision: &prec 16  # keep me
  max_epochs: 3
data:
  batch_size: 8
"""


def apply(text, findings):
    """Apply the findings' edits to the text, last first."""
    index = LineIndex(text)
    edits = sorted((e for f in findings for e in f.fix.edits), key=lambda e: (e.span.line, e.span.column), reverse=True)
    for edit in edits:
        start = index.offset(edit.span.line, edit.span.column)
        end = index.offset(edit.span.end_line, edit.span.end_column)
        text = text[:start] + edit.content + text[end:]
    return text


def settings(text, path="configs/config.yaml"):
    return scan_yaml(path, text).settings


def test_lightning_cli_trainer_section_is_a_setting():
    [setting] = settings(CLI_CONFIG)
    assert setting.to_json() | {"path": "p"} == {
        "kind": "LightningCLI", "path": "p", "line": 8, "column": 3, "callee": "lightning.pytorch.cli.LightningCLI",
        "precision": "16", "normalized": "16-mixed", "values": ["16"], "plugins": [], "accelerator": "gpu",
        "devices": "2", "strategy": None,
    }
    assert setting.precision.span == Span(8, 20, 8, 22)  # the value only: the anchor stays


def test_same_rules_and_a_value_only_fix_that_keeps_comments_anchors_and_layout():
    [setting] = settings(CLI_CONFIG)
    [finding] = setting_findings(setting, CLI_CONFIG, CATALOGUE)
    assert (finding.code, finding.line, finding.column) == ("PRC101", 8, 20)
    fixed = apply(CLI_CONFIG, [finding])
    assert fixed == CLI_CONFIG.replace("precision: &prec 16  #", 'precision: &prec "16-mixed"  #')
    round_trip = YAML().load(fixed)
    assert round_trip["trainer"]["precision"] == "16-mixed" and round_trip["model"]["precision"] == 16
    assert yaml.safe_load(fixed)["trainer"] == yaml.safe_load(CLI_CONFIG)["trainer"] | {"precision": "16-mixed"}


def test_quoted_16_is_the_int_16_for_lightning_cli_and_quotes_are_kept():
    text = "trainer:\n  precision: '16'\n"
    [setting] = settings(text)
    assert setting.values == (16,) and setting.normalized == "16-mixed"
    [finding] = setting_findings(setting, text, CATALOGUE)
    assert apply(text, [finding]) == "trainer:\n  precision: '16-mixed'\n"


@pytest.mark.parametrize("spelling", [
    "16", "'16'", '"bf16-mixed"', "bf16", "16-mixed", "!!str 32", "&a bf16-true", "null", "~", "true", "16.0",
    "'it''s'", '"a\\tb"', "64  # comment", "transformer-engine",
])
def test_values_agree_with_pyyaml_and_ruamel(spelling):
    text = f"trainer:\n  _target_: lightning.pytorch.Trainer\n  precision: {spelling}\n"
    [setting] = settings(text)
    expected = yaml.safe_load(text)["trainer"]["precision"]
    assert setting.precision.value == expected == YAML(typ="safe", pure=True).load(text)["trainer"]["precision"]


def test_precision_outside_a_trainer_section_is_not_a_setting():
    assert settings("model:\n  precision: 16\noptimizer:\n  precision: bf16\n") == []


def test_section_without_precision_is_reported_at_its_key():
    [setting] = settings("seed: 1\ntrainer:\n  max_epochs: 2\n")
    assert (setting.line, setting.precision, setting.literals) == (2, None, ())
    [empty] = settings("trainer:\n")
    assert empty.line == 1


def test_subcommand_sections_and_flow_mappings():
    text = "fit:\n  trainer: {precision: bf16, max_epochs: 3}\ntest:\n  trainer:\n    precision: 32\n"
    found = settings(text)
    assert [(s.line, s.values, s.precision.span) for s in found] == [
        (2, ("bf16",), Span(2, 24, 2, 28)), (5, (32,), Span(5, 16, 5, 18))]


def test_hydra_target_anywhere_keeps_quoted_strings():
    text = """\
defaults:
  - _self_
experiment:
  trainer:
    _target_: pytorch_lightning.Trainer
    precision: '16'
    strategy:
      _target_: lightning.pytorch.strategies.DeepSpeedStrategy
  other:
    _target_: my.Trainer
    precision: 16
"""
    [setting] = settings(text)
    assert (setting.callee, setting.line, setting.values, setting.strategy) == (
        "pytorch_lightning.Trainer", 6, ("16",), "DeepSpeedStrategy")


def test_hydra_target_without_precision_is_reported_at_the_target_key():
    [setting] = settings("trainer:\n  _target_: lightning.Trainer\n  max_epochs: 1\n")
    assert (setting.span.line, setting.span.column, setting.callee) == (2, 3, "lightning.Trainer")


def test_hydra_trainer_config_group_file():
    text = "defaults:\n  - default\n\naccelerator: gpu\nprecision: 16\n"
    [setting] = settings(text, "conf/trainer/gpu.yaml")
    assert (setting.line, setting.values, setting.accelerator) == (5, (16,), "gpu")
    assert settings(text, "conf/model/gpu.yaml") == []
    assert settings("max_epochs: 3\n", "conf/trainer/short.yaml") == []


def test_bitsandbytes_plugin_in_yaml_feeds_the_hardware_rules():
    text = """\
trainer:
  accelerator: gpu
  precision: 16-mixed
  plugins:
    - class_path: lightning.pytorch.plugins.BitsandbytesPrecision
      init_args:
        mode: fp4
"""
    [setting] = settings(text)
    [call] = setting.plugin_calls
    assert (call.name, call.span.line, call.arguments["mode"].value) == (
        "lightning.pytorch.plugins.BitsandbytesPrecision", 5, "fp4")
    assert [f.code for f in setting_findings(setting, text, CATALOGUE)] == ["PRC104"]
    found = yaml_safe_fixes(hardware_findings([setting], lookup("a100"), None, CATALOGUE))
    by_code = {f.code: f for f in found}
    assert "PRC302" in by_code and "PRC120" not in by_code  # PRC104 owns precision: next to the plugin
    assert apply(text, [by_code["PRC302"]]) == text.replace("mode: fp4", 'mode: "nf4"')
    v100 = {f.code: f for f in yaml_safe_fixes(hardware_findings([setting], lookup("v100"), None, CATALOGUE))}
    assert v100["PRC308"].fix is None  # the rule inserts a Python keyword: not valid in YAML


def test_yaml_safe_fixes_keeps_value_replacements_and_python_files():
    edit_value = Edit(Span(2, 14, 2, 16), '"16-mixed"')
    insert = Edit(Span(2, 16, 2, 16), ", dtype=torch.float16")

    def finding(path, edit):
        return Finding("PRC101", "x", "warning", path, Span(2, 14, 2, 16), "m", Fix("safe", "t", (edit,)))
    kept = yaml_safe_fixes([finding("a.yaml", edit_value), finding("a.yml", insert), finding("a.py", insert)])
    assert [f.fix is not None for f in kept] == [True, False, True]


def test_noqa_comments_in_yaml():
    text = "trainer:\n  precision: 16  # noqa: PRC101\n  devices: 1 # noqa\nurl: 'a # not a comment'\n"
    assert scan_yaml("c.yaml", text).noqa == {2: frozenset({"PRC101"}), 3: None}


@pytest.mark.parametrize("text", [
    # GitHub workflow, Helm template, GitLab tags, block scalars, multi-line flow, documents, tabs, junk
    "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - run: |\n          trainer:\n            precision: 16\n",
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.trainer }}\n{{- if .Values.x }}\n  a: b\n{{- end }}\n",
    "job:\n  script:\n    - !reference [.setup, script]\ntrainer: !custom\n  precision: !!str 16\n",
    "trainer: {\n  precision: 16,\n}\n",
    "---\ntrainer:\n  precision: 16\n...\n---\ntrainer:\n  precision: bf16\n",
    "trainer:\n\tprecision: 16\n",
    "trainer: [1, 2\n- : :\n'unclosed\n\"also\n  - - - x\n?\n",
    "",
])
def test_odd_yaml_never_raises(text):
    found = settings(text)
    for setting in found:
        assert setting.kind == "LightningCLI" and setting.span.line >= 1


def test_documents_each_have_their_section():
    found = settings("---\ntrainer:\n  precision: 16\n...\n---\ntrainer:\n  precision: bf16\n")
    assert [(s.line, s.values) for s in found] == [(3, (16,)), (7, ("bf16",))]


def test_is_yaml():
    assert is_yaml("a/b.YAML") and is_yaml("c.yml") and not is_yaml("d.py")


def test_crlf_positions():
    text = "trainer:\r\n  precision: 16\r\n"
    [setting] = settings(text)
    [finding] = setting_findings(setting, text, CATALOGUE)
    assert apply(text, [finding]) == 'trainer:\r\n  precision: "16-mixed"\r\n'
    assert YAML().load(io.StringIO(apply(text, [finding])))["trainer"]["precision"] == "16-mixed"

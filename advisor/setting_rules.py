"""PRC1xx rules that need no hardware: each is a function of one Setting.

A rule function yields (code, span, message values, fix or None); `check`
turns them into findings with the catalogue's wording.
"""
from __future__ import annotations

from typing import Iterator, Optional

from advisor import edits, lightning
from advisor.catalogue import Catalogue
from advisor.facts import Setting
from advisor.findings import Finding, Fix, from_rule

Hit = tuple  # (code, span, values: dict, fix: Optional[Fix])


def _replace_literal(code: str, catalogue: Catalogue, literal, new_value: str, title_values: dict) -> Fix:
    rule = catalogue[code]
    content = edits.quote_like(literal.text, new_value)
    return Fix(rule.fix, rule.fix_title.format(**title_values), (edits.replace(literal.span, content),))


def legacy_values(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    for literal in setting.literals:
        value = literal.value
        if isinstance(value, bool) or value not in lightning.ALIASES or value in lightning.VALID_PRECISIONS:
            continue
        code = "PRC101" if value in lightning.DISCOURAGED_ALIASES else "PRC102"
        replacement = lightning.ALIASES[value]
        values = {"value": literal.text, "replacement": replacement, "kind": setting.kind}
        yield code, literal.span, values, _replace_literal(code, catalogue, literal, replacement, values)


def invalid_values(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    for literal in setting.literals:
        if lightning.normalize(literal.value) is not None or literal.value is None:
            continue
        closest = lightning.closest_valid(literal.value)
        values = {"value": literal.text, "closest": closest or "one of " + ", ".join(lightning.VALID_PRECISIONS),
                  "kind": setting.kind}
        fix = _replace_literal("PRC103", catalogue, literal, closest, values) if closest else None
        yield "PRC103", literal.span, values, fix


def _precision_plugin(setting: Setting) -> Optional[str]:
    for name in setting.plugins:
        short = name.rsplit(".", 1)[-1]
        if lightning.SUFFIXED_PLUGINS.get(short, short) in lightning.PRECISION_PLUGINS:
            return short
    return None


def precision_with_plugin(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    plugin = _precision_plugin(setting)
    if setting.precision is None or plugin is None or setting.precision.value is None and setting.precision.static:
        return
    values = {"plugin": plugin, "value": setting.precision.text, "kind": setting.kind}
    edit = edits.remove_keyword(text, setting, "precision")
    rule = catalogue["PRC104"]
    fix = Fix(rule.fix, rule.fix_title.format(**values), (edit,)) if edit else None
    yield "PRC104", setting.precision.span, values, fix


def removed_arguments(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    if setting.kind != "Trainer":
        return
    rule = catalogue["PRC105"]
    for name in lightning.REMOVED_TRAINER_ARGUMENTS:
        argument = setting.arguments.get(name)
        if argument is None:
            continue
        values = {"argument": name}
        edit = edits.remove_keyword(text, setting, name)
        fix = Fix(rule.fix, rule.fix_title.format(**values), (edit,)) if edit else None
        yield "PRC105", argument.arg_span or argument.span, values, fix


def strategy_rejects(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    family = lightning.strategy_family(setting.strategy)
    rejected = lightning.STRATEGY_REJECTS.get(family, ())
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        if normalized in rejected:
            yield "PRC106", literal.span, {"value": literal.text, "normalized": normalized,
                                           "strategy": setting.strategy}, None


def accelerator_conflicts(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    accelerator = (setting.accelerator or "").lower()
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        values = {"value": literal.text, "accelerator": accelerator, "kind": setting.kind}
        if accelerator == "cpu" and normalized == "16-mixed":
            yield "PRC107", literal.span, values, _replace_literal("PRC107", catalogue, literal, "bf16-mixed", values)
        elif accelerator in ("cpu", "mps", "tpu") and normalized and normalized.startswith("transformer-engine"):
            yield "PRC108", literal.span, values, None
        elif accelerator == "mps" and normalized == "64-true":
            yield "PRC111", literal.span, values, None


def plugin_namespaces(setting: Setting, text: str, catalogue: Catalogue) -> Iterator[Hit]:
    for call in setting.plugin_calls:
        root = call.name.split(".")[0]
        fabric = call.name.startswith(("lightning.fabric.", "lightning_fabric."))
        if setting.kind == "Trainer" and fabric:
            yield "PRC109", call.span, {"plugin": call.name, "short": call.short_name}, None
        if call.short_name in lightning.SUFFIXED_PLUGINS and root in lightning.LIGHTNING_ROOTS:
            yield "PRC110", call.span, {"plugin": call.short_name,
                                        "replacement": lightning.SUFFIXED_PLUGINS[call.short_name]}, None


SETTING_RULES = (legacy_values, invalid_values, precision_with_plugin, removed_arguments, strategy_rejects,
                 accelerator_conflicts, plugin_namespaces)


def setting_findings(setting: Setting, text: str, catalogue: Catalogue) -> list[Finding]:
    findings = []
    for rule_function in SETTING_RULES:
        for code, span, values, fix in rule_function(setting, text, catalogue):
            findings.append(from_rule(catalogue[code], setting.path, span, values, fix,
                                      noqa_lines=(setting.call_span.end_line,)))
    return findings

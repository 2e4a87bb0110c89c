"""PRC1xx rules that need no hardware: each is a function of one Setting.

A rule function yields (code, span, message values, fix or None); `check`
turns them into findings with the catalogue's wording.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from advisor import lightning
from advisor.catalogue import Catalogue
from advisor.facts import Setting
from advisor.findings import Finding, Fix, from_rule
from advisor.fix import edits

Hit = tuple  # (code, span, values: dict, fix: Fix | None)
LITE_NOTE = (" (a Lightning 1.x `LightningLite` subclass: Lite is Fabric now, `lightning.fabric.Fabric`,"
             " which reads the 2.x values)")


@dataclass(frozen=True)
class Context:
    """What a setting rule may read beyond the setting: the file's text (to remove an
    argument cleanly), the catalogue (wording), and how the file spells torch (for fixes)."""

    text: str
    catalogue: Catalogue
    torch_name: str | None = None


def _replace_literal(code: str, catalogue: Catalogue, literal, new_value: str, title_values: dict) -> Fix:
    rule = catalogue[code]
    content = edits.quote_like(literal.text, new_value)
    return Fix(rule.fix, rule.fix_title.format(**title_values), (edits.replace(literal.span, content),))


def legacy_values(setting: Setting, ctx: Context) -> Iterator[Hit]:
    for literal in setting.literals:
        value = literal.value
        if isinstance(value, bool) or value not in lightning.ALIASES or value in lightning.VALID_PRECISIONS:
            continue
        code = "PRC101" if value in lightning.DISCOURAGED_ALIASES else "PRC102"
        replacement = lightning.ALIASES[value]
        values = {"value": literal.text, "replacement": replacement, "kind": setting.kind}
        yield code, literal.span, values, _replace_literal(code, ctx.catalogue, literal, replacement, values)


def invalid_values(setting: Setting, ctx: Context) -> Iterator[Hit]:
    for literal in setting.literals:
        if lightning.normalize(literal.value) is not None or literal.value is None:
            continue
        closest = lightning.closest_valid(literal.value)
        values = {"value": literal.text, "closest": closest or "one of " + ", ".join(lightning.VALID_PRECISIONS),
                  "kind": setting.kind}
        fix = _replace_literal("PRC103", ctx.catalogue, literal, closest, values) if closest else None
        yield "PRC103", literal.span, values, fix


def _precision_plugin(setting: Setting) -> str | None:
    for name in setting.plugins:
        short = name.rsplit(".", 1)[-1]
        if lightning.SUFFIXED_PLUGINS.get(short, short) in lightning.PRECISION_PLUGINS:
            return short
    return None


def precision_with_plugin(setting: Setting, ctx: Context) -> Iterator[Hit]:
    plugin = _precision_plugin(setting)
    if setting.precision is None or plugin is None or setting.precision.value is None and setting.precision.static:
        return
    values = {"plugin": plugin, "value": setting.precision.text, "kind": setting.kind}
    edit = edits.remove_keyword(ctx.text, setting, "precision")
    rule = ctx.catalogue["PRC104"]
    fix = Fix(rule.fix, rule.fix_title.format(**values), (edit, *_fold_dtype(setting, ctx))) if edit else None
    yield "PRC104", setting.precision.span, values, fix


def _fold_dtype(setting: Setting, ctx: Context) -> tuple:
    """Keep the dropped precision's 16-bit choice: BitsandbytesPrecision(dtype=...) when it has none."""
    dtype = {"bf16": "bfloat16", "16": "float16"}.get((setting.normalized or "").split("-")[0])
    call = next((c for c in setting.plugin_calls if c.short_name.startswith("BitsandbytesPrecision")), None)
    if dtype is None or call is None or "dtype" in call.arguments or ctx.torch_name is None:
        return ()
    return (edits.insert_keyword(call.span, list(call.arguments.values()), f"dtype={ctx.torch_name}.{dtype}", False),)


def removed_arguments(setting: Setting, ctx: Context) -> Iterator[Hit]:
    if setting.kind != "Trainer":
        return
    rule = ctx.catalogue["PRC105"]
    for name in lightning.REMOVED_TRAINER_ARGUMENTS:
        argument = setting.arguments.get(name)
        if argument is None:
            continue
        values = {"argument": name}
        edit = edits.remove_keyword(ctx.text, setting, name)
        fix = Fix(rule.fix, rule.fix_title.format(**values), (edit,)) if edit else None
        yield "PRC105", argument.arg_span or argument.span, values, fix


def strategy_rejects(setting: Setting, ctx: Context) -> Iterator[Hit]:
    family = lightning.strategy_family(setting.strategy)
    rejected = lightning.STRATEGY_REJECTS.get(family, ())
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        if normalized in rejected:
            yield "PRC106", literal.span, {"value": literal.text, "normalized": normalized,
                                           "strategy": setting.strategy}, None


def accelerator_conflicts(setting: Setting, ctx: Context) -> Iterator[Hit]:
    accelerator = (setting.accelerator or "").lower()
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        values = {"value": literal.text, "accelerator": accelerator, "kind": setting.kind}
        if accelerator == "cpu" and normalized == "16-mixed":
            fix = _replace_literal("PRC107", ctx.catalogue, literal, "bf16-mixed", values)
            yield "PRC107", literal.span, values, fix
        elif accelerator in ("cpu", "mps", "tpu") and normalized and normalized.startswith("transformer-engine"):
            yield "PRC108", literal.span, values, None
        elif accelerator == "mps" and normalized == "64-true":
            yield "PRC111", literal.span, values, None


def plugin_namespaces(setting: Setting, ctx: Context) -> Iterator[Hit]:
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


def setting_findings(setting: Setting, text: str, catalogue: Catalogue, torch_name: str | None = None) -> list[Finding]:
    ctx = Context(text, catalogue, torch_name)
    findings = []
    for rule_function in SETTING_RULES:
        for code, span, values, fix in rule_function(setting, ctx):
            finding = from_rule(catalogue[code], setting.path, span, values, fix,
                                noqa_lines=(setting.call_span.end_line,))
            if setting.lite:
                finding.message += LITE_NOTE
            findings.append(finding)
    return findings

"""PRC1xx rules that need no hardware: each is a function of one setting.

Each rule yields `Hit`s; `registry.report` words them from rules/settings.toml.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from advisor import lightning
from advisor.catalogue import Catalogue
from advisor.checks import registry
from advisor.checks.registry import Hit, rule
from advisor.facts import Setting
from advisor.findings import Finding
from advisor.fix import edits

LITE_NOTE = (" (a Lightning 1.x `LightningLite` subclass: Lite is Fabric now, `lightning.fabric.Fabric`,"
             " which reads the 2.x values)")


@dataclass(frozen=True)
class SettingContext:
    """A setting and what its rules may read beyond it: the file's text (to remove an
    argument cleanly) and how the file spells torch (for fixes)."""

    setting: Setting
    text: str
    torch_name: str | None = None


def _replace_literal(literal, new_value: str) -> tuple:
    return (edits.replace(literal.span, edits.quote_like(literal.text, new_value)),)


def _aliases(setting: Setting, discouraged: bool) -> Iterator[Hit]:
    for literal in setting.literals:
        value = literal.value
        if isinstance(value, bool) or value not in lightning.ALIASES or value in lightning.VALID_PRECISIONS:
            continue
        if (value in lightning.DISCOURAGED_ALIASES) == discouraged:
            replacement = lightning.ALIASES[value]
            yield Hit(literal.span, {"value": literal.text, "replacement": replacement, "kind": setting.kind},
                      _replace_literal(literal, replacement))


@rule("PRC101", "setting")
def discouraged_alias(ctx: SettingContext) -> Iterator[Hit]:
    return _aliases(ctx.setting, discouraged=True)


@rule("PRC102", "setting")
def legacy_alias(ctx: SettingContext) -> Iterator[Hit]:
    return _aliases(ctx.setting, discouraged=False)


@rule("PRC103", "setting")
def invalid_value(ctx: SettingContext) -> Iterator[Hit]:
    for literal in ctx.setting.literals:
        if lightning.normalize(literal.value) is not None or literal.value is None:
            continue
        closest = lightning.closest_valid(literal.value)
        values = {"value": literal.text, "closest": closest or "one of " + ", ".join(lightning.VALID_PRECISIONS),
                  "kind": ctx.setting.kind}
        yield Hit(literal.span, values, _replace_literal(literal, closest) if closest else ())


def _is_precision_plugin(name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return lightning.SUFFIXED_PLUGINS.get(short, short) in lightning.PRECISION_PLUGINS


@rule("PRC104", "setting")
def precision_with_plugin(ctx: SettingContext) -> Iterator[Hit]:
    """Both set: Lightning raises. The fix (drop `precision=`) is safe only when both are certain on
    this path: a literal precision and a plugin built unconditionally; a variable precision next to
    a plugin built in one branch is the run-time choice of one or the other (litgpt), no finding."""
    setting = ctx.setting
    plugin = next((name.rsplit(".", 1)[-1] for name in setting.plugins if _is_precision_plugin(name)), None)
    if setting.precision is None or plugin is None or setting.precision.value is None and setting.precision.static:
        return
    literal = bool(setting.literals)
    certain_plugin = not any(c.conditional for c in setting.plugin_calls if _is_precision_plugin(c.name))
    if not literal and not certain_plugin:
        return
    edit = edits.remove_keyword(ctx.text, setting, "precision") if literal and certain_plugin else None
    yield Hit(setting.precision.span, {"plugin": plugin, "value": setting.precision.text, "kind": setting.kind},
              (edit, *_fold_dtype(ctx)) if edit else ())


def _fold_dtype(ctx: SettingContext) -> tuple:
    """Keep the dropped precision's 16-bit choice: BitsandbytesPrecision(dtype=...) when it has none."""
    setting = ctx.setting
    dtype = {"bf16": "bfloat16", "16": "float16"}.get((setting.normalized or "").split("-")[0])
    call = next((c for c in setting.plugin_calls if c.short_name.startswith("BitsandbytesPrecision")), None)
    if dtype is None or call is None or "dtype" in call.arguments or ctx.torch_name is None:
        return ()
    return (edits.insert_keyword(call.span, list(call.arguments.values()), f"dtype={ctx.torch_name}.{dtype}", False),)


@rule("PRC105", "setting")
def removed_argument(ctx: SettingContext) -> Iterator[Hit]:
    """Trainer(amp_backend=...), and the same keys in a LightningCLI/YAML trainer section (reported, not fixed)."""
    if ctx.setting.kind not in ("Trainer", "LightningCLI"):
        return
    for name in lightning.REMOVED_TRAINER_ARGUMENTS:
        argument = ctx.setting.arguments.get(name)
        if argument is not None:
            edit = edits.remove_keyword(ctx.text, ctx.setting, name) if ctx.setting.kind == "Trainer" else None
            yield Hit(argument.arg_span or argument.span, {"argument": name}, (edit,) if edit else ())


@rule("PRC106", "setting")
def strategy_rejects(ctx: SettingContext) -> Iterator[Hit]:
    setting = ctx.setting
    rejected = lightning.STRATEGY_REJECTS.get(lightning.strategy_family(setting.strategy), ())
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        if normalized in rejected:
            yield Hit(literal.span, {"value": literal.text, "normalized": normalized, "strategy": setting.strategy})


def _on_accelerator(setting: Setting, accelerators: tuple, accepts) -> Iterator[tuple]:
    """(literal, message values) of the precision literals `accepts` refuses on this accelerator."""
    accelerator = (setting.accelerator or "").lower()
    if accelerator not in accelerators:
        return
    for literal in setting.literals:
        normalized = lightning.normalize(literal.value)
        if normalized and accepts(normalized):
            yield literal, {"value": literal.text, "accelerator": accelerator, "kind": setting.kind}


@rule("PRC107", "setting")
def fp16_mixed_on_cpu(ctx: SettingContext) -> Iterator[Hit]:
    for literal, values in _on_accelerator(ctx.setting, ("cpu",), lambda n: n == "16-mixed"):
        yield Hit(literal.span, values, _replace_literal(literal, "bf16-mixed"))


@rule("PRC108", "setting")
def transformer_engine_off_cuda(ctx: SettingContext) -> Iterator[Hit]:
    for literal, values in _on_accelerator(ctx.setting, ("cpu", "mps", "tpu"),
                                           lambda n: n.startswith("transformer-engine")):
        yield Hit(literal.span, values)


@rule("PRC111", "setting")
def double_on_mps(ctx: SettingContext) -> Iterator[Hit]:
    for literal, values in _on_accelerator(ctx.setting, ("mps",), lambda n: n == "64-true"):
        yield Hit(literal.span, values)


@rule("PRC109", "setting")
def fabric_plugin_in_trainer(ctx: SettingContext) -> Iterator[Hit]:
    if ctx.setting.kind != "Trainer":
        return
    for call in ctx.setting.plugin_calls:
        if call.name.startswith(("lightning.fabric.", "lightning_fabric.")):
            yield Hit(call.span, {"plugin": call.name, "short": call.short_name})


@rule("PRC110", "setting")
def suffixed_plugin_name(ctx: SettingContext) -> Iterator[Hit]:
    for call in ctx.setting.plugin_calls:
        if call.short_name in lightning.SUFFIXED_PLUGINS and call.name.split(".")[0] in lightning.LIGHTNING_ROOTS:
            yield Hit(call.span, {"plugin": call.short_name,
                                  "replacement": lightning.SUFFIXED_PLUGINS[call.short_name]})


@rule("PRC112", "setting")
def precision_not_literal(ctx: SettingContext) -> Iterator[Hit]:
    """No silent pass: a precision the scan cannot read (a name, an attribute, a call, **kwargs) is said so."""
    setting, arg = ctx.setting, ctx.setting.precision
    if setting.literals or (arg is not None and arg.static and arg.value is None):
        return
    if arg is not None:
        yield Hit(arg.span, {"what": f"precision={arg.text} is not a literal", "kind": setting.kind})
    elif setting.has_star_kwargs and setting.kind in ("Trainer", "Fabric"):
        yield Hit(setting.span, {"what": "precision may come from **kwargs", "kind": setting.kind})


@rule("PRC310", "setting")
def bnb_invalid_mode(ctx: SettingContext) -> Iterator[Hit]:
    for call in ctx.setting.plugin_calls:
        mode = call.arguments.get("mode")
        if (not call.short_name.startswith("BitsandbytesPrecision") or mode is None or not mode.static
                or not isinstance(mode.value, str) or mode.value in lightning.BNB_MODES):
            continue
        closest = next(iter(difflib.get_close_matches(mode.value, lightning.BNB_MODES, 1, 0.5)), None)
        values = {"mode": mode.text, "closest": closest or "one of " + ", ".join(lightning.BNB_MODES)}
        yield Hit(mode.span, values, _replace_literal(mode, closest) if closest else ())


def setting_findings(setting: Setting, text: str, catalogue: Catalogue, torch_name: str | None = None,
                     noqa: dict | None = None) -> list[Finding]:
    """PRC1xx findings of one setting; a `# noqa` on the call's closing line covers them too."""
    findings = registry.judge("settings", "setting", SettingContext(setting, text, torch_name), catalogue,
                              setting.path, noqa, noqa_lines=(setting.call_span.end_line,))
    for finding in findings if setting.lite else ():
        finding.message += LITE_NOTE
    return findings

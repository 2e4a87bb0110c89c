"""Rules that need a target device: precision vs hardware (PRC12x) and bitsandbytes (PRC30x).

A pure function of the settings, the target `Gpu`, the recommendation and
(optionally) a model census; messages and fix kinds come from
rules/hardware.toml, the conditions live here.
"""
from __future__ import annotations

from collections.abc import Sequence

from advisor.catalogue import Catalogue
from advisor.facts import Argument, ModelCensus, PluginCall, Setting, Span
from advisor.findings import Edit, Finding, Fix
from advisor.fix.edits import insert_keyword, quote_like
from advisor.hardware.recommend import Recommendation, argument_literal, device_count, fits_16bit, sharding
from advisor.hardware.table import Gpu

NON_CUDA_ACCELERATORS = ("cpu", "mps", "tpu", "xla", "hpu", "ipu")
BNB_FOUR_BIT = ("nf4", "nf4-dq", "fp4", "fp4-dq")
FP16_NAMES = ("float16", "half")
DTYPE_NAMES = ("float16", "half", "bfloat16", "float32", "float", "float64", "double")
HALF_SWAP = {
    "bf16": {"16-mixed": "bf16-mixed", "16-true": "bf16-true"},
    "fp16": {"bf16-mixed": "16-mixed", "bf16-true": "16-true"},
}


# ---- edits -------------------------------------------------------------------

def _any_string(setting: Setting) -> str:
    """A string literal of the call, to copy its quote style (double quotes by default)."""
    return next((a.text for a in setting.arguments.values() if a.text[:1] in "'\""), "")


def _replace(argument: Argument, content: str) -> Edit:
    return Edit(argument.span, content)


def _fix(rule, *edits: Edit) -> Fix | None:
    if not edits or rule.fix == "none":
        return None
    return Fix(rule.fix, rule.fix_title, tuple(edits))


# ---- facts about plugins -----------------------------------------------------

def _bnb_calls(setting: Setting) -> list:
    return [call for call in setting.plugin_calls if call.short_name.startswith("BitsandbytesPrecision")]


def _static(call: PluginCall, name: str):
    argument = call.arguments.get(name)
    return argument.value if argument is not None and argument.static else None


def _dtype_name(argument: Argument | None) -> str | None:
    """`torch.bfloat16` -> "bfloat16"; None when absent or not a torch dtype spelled out."""
    if argument is None:
        return None
    name = argument.text.rsplit(".", 1)[-1].strip()
    return name if name in DTYPE_NAMES else None


def _with_dtype(argument: Argument, dtype: str) -> str:
    head, dot, _ = argument.text.rpartition(".")
    return f"{head}{dot}{dtype}"


def _ignore_problems(value) -> list:
    """Why static ignore_modules prefixes cannot match names relative to the LightningModule."""
    if isinstance(value, str):
        return [f"{value!r} is a string, so each character becomes a prefix: pass a set, e.g. {{{value!r}}}"]
    problems = []
    for prefix in sorted(str(item) for item in value):
        if prefix.startswith("self."):
            problems.append(f"{prefix!r}: names are relative to the LightningModule, drop 'self.'")
        elif prefix == "":
            problems.append("'' is a prefix of every name: nothing would be quantized")
        elif prefix.startswith(".") or prefix.endswith(".") or any(c in prefix for c in "[]/ \t"):
            problems.append(f"{prefix!r} is not a dotted attribute path like 'model.lm_head'")
    return problems


# ---- the rules -----------------------------------------------------------------

class _Context:
    """What every rule needs, gathered once."""

    def __init__(self, settings, target, recommendation, catalogue, census):
        self.settings, self.target, self.census = settings, target, census
        self.recommendation, self.catalogue = recommendation, catalogue
        self.findings = []

    def report(self, code: str, setting: Setting, span: Span, fix_edits=(), **values) -> None:
        rule = self.catalogue[code]
        values.setdefault("target", self.target.name)
        self.findings.append(Finding(
            code=code, rule=rule.name, severity=rule.severity, path=setting.path, span=span,
            message=rule.format_message(**values), fix=_fix(rule, *fix_edits),
        ))


def _precision_rules(ctx: _Context, setting: Setting) -> None:
    target, value, arg = ctx.target, setting.normalized, setting.precision
    accelerator = (setting.accelerator or "").lower()
    on_gpu = target.kind in ("cuda", "rocm") and accelerator not in NON_CUDA_ACCELERATORS
    static = arg is not None and arg.static
    for code, swap, applies in (
        ("PRC120", "bf16", target.bf16_native),
        ("PRC121", "fp16", target.kind == "cuda" and not target.bf16_native),
    ):
        better = HALF_SWAP[swap].get(value)
        if on_gpu and applies and better:
            edits = [_replace(arg, quote_like(arg.text, better))] if static else []
            ctx.report(code, setting, arg.span if arg else setting.span, edits, value=value, better=better,
                       capability=target.capability_text)
    uses_te = (value or "").startswith("transformer-engine") or any(
        call.short_name.startswith("TransformerEnginePrecision") for call in setting.plugin_calls)
    if uses_te and accelerator not in NON_CUDA_ACCELERATORS and not (target.kind == "cuda" and target.fp8):
        better = ctx.recommendation.precision if ctx.recommendation else None
        edits = [_replace(arg, quote_like(arg.text, better))] if static and better and value else []
        ctx.report("PRC123", setting, arg.span if arg else setting.span, edits, capability=target.capability_text,
                   better=better or "bf16-mixed")
    has_precision_plugin = any("Precision" in call.short_name for call in setting.plugin_calls)
    if (arg is None and setting.kind in ("Trainer", "Fabric") and not setting.has_star_kwargs
            and not has_precision_plugin and target.is_gpu and accelerator != "cpu"):
        better = ctx.recommendation.precision if ctx.recommendation and ctx.recommendation.precision else None
        keyword = f"precision={quote_like(_any_string(setting), better or '')}"
        arguments = list(setting.arguments.values()) + ([setting.plugins_arg] if setting.plugins_arg else [])
        edits = [insert_keyword(setting.call_span, arguments, keyword, setting.multiline)] if better else []
        ctx.report("PRC122", setting, setting.span, edits, kind=setting.kind, better=better or "a -mixed precision")


def _bnb_rules(ctx: _Context, setting: Setting, call: PluginCall) -> None:
    target, census = ctx.target, ctx.census
    mode, mode_arg, dtype_arg = _static(call, "mode"), call.arguments.get("mode"), call.arguments.get("dtype")
    dtype = _dtype_name(dtype_arg)
    accelerator = (setting.accelerator or "").lower()
    if target.kind not in ("cuda", "rocm") or accelerator in NON_CUDA_ACCELERATORS:
        ctx.report("PRC305", setting, call.span, accelerator=accelerator or target.kind)
    if census is not None:
        shards = sharding(setting.strategy, device_count(setting.devices))
        if fits_16bit(census, target, shards):
            ctx.report("PRC301", setting, call.span, gib=census.params * 2 / shards / 2**30,
                       memory=target.memory_gib or 0)
        if census.linear_share < 0.5:
            detail = ("the model has no nn.Linear: the plugin raises TypeError" if census.linear_params == 0 else
                      f"only {census.linear_share:.0%} of the parameters are in nn.Linear")
            ctx.report("PRC306", setting, call.span, detail=detail)
    if mode in ("fp4", "fp4-dq"):
        better = mode.replace("fp4", "nf4")
        ctx.report("PRC302", setting, mode_arg.span, [_replace(mode_arg, quote_like(mode_arg.text, better))],
                   mode=mode, better=better)
    if isinstance(mode, str) and mode.startswith("int8"):
        if dtype is not None and dtype not in FP16_NAMES:
            ctx.report("PRC303", setting, dtype_arg.span, [_replace(dtype_arg, _with_dtype(dtype_arg, "float16"))],
                       mode=mode, dtype=dtype_arg.text)
        if mode == "int8-training":
            ctx.report("PRC304", setting, mode_arg.span)
        if target.kind == "cuda" and not target.bnb_fast_int8:
            ctx.report("PRC309", setting, mode_arg.span, mode=mode, capability=target.capability_text)
    if mode in BNB_FOUR_BIT and target.kind == "cuda" and not target.bf16_native and dtype in (None, "bfloat16"):
        if dtype_arg is not None:
            edit = _replace(dtype_arg, _with_dtype(dtype_arg, "float16"))
        else:
            edit = insert_keyword(call.span, list(call.arguments.values()), "dtype=torch.float16", False)
        ctx.report("PRC308", setting, dtype_arg.span if dtype_arg else call.span, [edit], mode=mode,
                   capability=target.capability_text)
    ignore = call.arguments.get("ignore_modules")
    prefixes = argument_literal(ignore)
    if isinstance(prefixes, (str, set, list, tuple)):
        for problem in _ignore_problems(prefixes):
            ctx.report("PRC307", setting, ignore.span, problem=problem)


def hardware_findings(
    settings: Sequence[Setting],
    ops,
    target: Gpu,
    recommendation: Recommendation | None,
    catalogue: Catalogue,
    census: ModelCensus | None = None,
) -> list:
    """Findings of PRC120-PRC123 and PRC301-PRC309 for `settings` trained on `target`.

    `ops` is accepted for symmetry with `recommend` (the FP32-op advice lives
    in the recommendation's reasons); census-dependent rules need `census`.
    """
    ctx = _Context(settings, target, recommendation, catalogue, census)
    for setting in settings:
        _precision_rules(ctx, setting)
        for call in _bnb_calls(setting):
            _bnb_rules(ctx, setting, call)
    return sorted(ctx.findings, key=Finding.sort_key)

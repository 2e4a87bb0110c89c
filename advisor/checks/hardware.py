"""Rules that need a target device: precision vs hardware (PRC12x) and bitsandbytes (PRC30x).

Each rule is a function of one setting (or one bitsandbytes plugin call of
it) on the target `Gpu`, with the recommendation and (optionally) a model
census; messages and fix kinds come from rules/hardware.toml.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from advisor.catalogue import Catalogue
from advisor.checks import registry
from advisor.checks.registry import Hit, rule
from advisor.facts import Argument, ModelCensus, PluginCall, Setting
from advisor.findings import Edit, Finding
from advisor.fix.edits import insert_keyword, quote_like
from advisor.hardware.recommend import ACCELERATORS_ASKING_GPU, Recommendation, argument_literal
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

@dataclass(frozen=True)
class SettingOnTarget:
    """A setting and what its target rules read: the GPU, the recommendation, the census."""

    setting: Setting
    target: Gpu
    recommendation: Recommendation | None = None
    census: ModelCensus | None = None
    torch_name: str | None = None  # how the setting's file names torch at module level, for fixes that write a dtype

    @property
    def accelerator(self) -> str:
        return (self.setting.accelerator or "").lower()

    @property
    def on_gpu(self) -> bool:
        return self.target.kind in ("cuda", "rocm") and self.accelerator not in NON_CUDA_ACCELERATORS

    @property
    def has_precision_plugin(self) -> bool:
        """PRC104 owns `precision=` next to a precision plugin: no other rule fixes it (one fix plan per call)."""
        return any("Precision" in call.short_name for call in self.setting.plugin_calls)

    @property
    def gpu_script_without_gpu(self) -> bool:
        """A script that asks for a GPU, judged for a CPU target: no hardware advice at all."""
        return self.target.kind == "cpu" and self.accelerator in ACCELERATORS_ASKING_GPU

    @property
    def static_precision(self) -> Argument | None:
        arg = self.setting.precision
        return arg if arg is not None and arg.static else None

    def hit(self, span, edits=(), **values) -> Hit:
        return Hit(span, dict(values, target=self.target.name), tuple(edits))


def _fitting(ctx: SettingOnTarget, twin: str | None, family: str) -> str | None:
    """The same-dtype value to switch to: the recommendation when it fits and is of the family, else the twin."""
    rec = ctx.recommendation
    if twin and rec is not None and rec.fits and rec.precision and rec.precision.startswith(family) \
            and not rec.strategy:
        return rec.precision
    return twin


def _swap(ctx: SettingOnTarget) -> tuple:
    """(code, better) of the PRC120/PRC121 half-precision swap that applies to the setting, or (None, None)."""
    if not ctx.on_gpu or ctx.has_precision_plugin:
        return None, None
    value, target = ctx.setting.normalized, ctx.target
    if target.bf16_native and HALF_SWAP["bf16"].get(value):
        return "PRC120", _fitting(ctx, HALF_SWAP["bf16"][value], "bf16")
    if target.kind == "cuda" and not target.bf16_native and HALF_SWAP["fp16"].get(value):
        return "PRC121", _fitting(ctx, HALF_SWAP["fp16"][value], "16-")
    return None, None


def _half_swap(ctx: SettingOnTarget, code: str) -> Iterator[Hit]:
    value, arg = ctx.setting.normalized, ctx.setting.precision
    found, better = _swap(ctx)
    if found == code:
        static = ctx.static_precision
        edits = [_replace(static, quote_like(static.text, better))] if static else []
        yield ctx.hit(arg.span if arg else ctx.setting.span, edits, value=value, better=better,
                      capability=ctx.target.capability_text)


@rule("PRC120", "setting")
def fp16_on_bf16_gpu(ctx: SettingOnTarget) -> Iterator[Hit]:
    return _half_swap(ctx, "PRC120")


@rule("PRC121", "setting")
def bf16_on_fp16_gpu(ctx: SettingOnTarget) -> Iterator[Hit]:
    return _half_swap(ctx, "PRC121")


@rule("PRC122", "setting")
def missing_precision(ctx: SettingOnTarget) -> Iterator[Hit]:
    setting, target = ctx.setting, ctx.target
    has_precision_plugin = any("Precision" in call.short_name for call in setting.plugin_calls)
    if (setting.precision is None and setting.kind in ("Trainer", "Fabric") and not setting.has_star_kwargs
            and not has_precision_plugin and target.is_gpu and ctx.accelerator != "cpu"):
        better = ctx.recommendation.precision if ctx.recommendation and ctx.recommendation.precision else None
        keyword = f"precision={quote_like(_any_string(setting), better or '')}"
        arguments = list(setting.arguments.values()) + ([setting.plugins_arg] if setting.plugins_arg else [])
        edits = [insert_keyword(setting.call_span, arguments, keyword, setting.multiline)] if better else []
        yield ctx.hit(setting.span, edits, kind=setting.kind, better=better or "a -mixed precision")


@rule("PRC123", "setting")
def transformer_engine_without_fp8(ctx: SettingOnTarget) -> Iterator[Hit]:
    setting, target, value = ctx.setting, ctx.target, ctx.setting.normalized
    uses_te = (value or "").startswith("transformer-engine") or any(
        call.short_name.startswith("TransformerEnginePrecision") for call in setting.plugin_calls)
    if uses_te and ctx.accelerator not in NON_CUDA_ACCELERATORS and not (target.kind == "cuda" and target.fp8):
        better = ctx.recommendation.precision if ctx.recommendation else None
        static = ctx.static_precision
        fixable = static and better and value and not ctx.has_precision_plugin
        edits = [_replace(static, quote_like(static.text, better))] if fixable else []
        arg = setting.precision
        yield ctx.hit(arg.span if arg else setting.span, edits, capability=target.capability_text,
                      better=better or "bf16-mixed")


@rule("PRC124", "setting")
def precision_does_not_fit(ctx: SettingOnTarget) -> Iterator[Hit]:
    """The code's precision against the memory model; the fix is the recommendation when a plain precision fits."""
    rec, value, arg = ctx.recommendation, ctx.setting.normalized, ctx.setting.precision
    if not ctx.on_gpu or ctx.has_precision_plugin or _swap(ctx)[0] or rec is None or ctx.census is None:
        return  # a PRC120/PRC121 swap already carries the fitting value: one fix plan per call site
    budget = rec.memory.get("budget_gib")
    need = rec.memory["candidates"].get(value) if budget is not None and value else None
    if need is None or need <= budget:
        return
    edits = []
    if rec.fits and rec.plugin:
        advice = (f"BitsandbytesPrecision(mode={rec.plugin.mode!r}) fits "
                  f"({rec.memory['candidates'][rec.plugin.mode]:.1f} GiB)")
    elif rec.fits and rec.strategy:
        gib = rec.memory["candidates"][rec.memory["chosen"]]
        advice = f"precision={rec.precision!r} with strategy={rec.strategy!r} fits ({gib:.1f} GiB)"
    elif rec.fits and rec.precision != value:
        advice = f"use {rec.precision!r} ({rec.memory['candidates'][rec.precision]:.1f} GiB)"
        static = ctx.static_precision
        edits = [_replace(static, quote_like(static.text, rec.precision))] if static else []
    else:
        advice = "nothing fits; the recommendation lists the smallest change that would"
    yield ctx.hit(arg.span if arg else ctx.setting.span, edits, value=value, need=need, budget=budget, advice=advice)


@dataclass(frozen=True)
class BnbOnTarget:
    """One BitsandbytesPrecision call of a setting, on the target."""

    on: SettingOnTarget
    call: PluginCall

    @property
    def mode(self):
        return _static(self.call, "mode")

    @property
    def mode_arg(self) -> Argument | None:
        return self.call.arguments.get("mode")

    @property
    def dtype_arg(self) -> Argument | None:
        return self.call.arguments.get("dtype")

    def hit(self, span, edits=(), **values) -> Hit:
        return self.on.hit(span, edits, **values)


@rule("PRC301", "bnb-call")
def bnb_model_fits_16bit(bnb: BnbOnTarget) -> Iterator[Hit]:
    """Only when the 16-bit setting the recommendation picks instead fits the device."""
    rec = bnb.on.recommendation
    if bnb.on.census is not None and rec is not None and rec.fits and rec.plugin is None and rec.precision:
        chosen = rec.memory.get("chosen", rec.precision)
        yield bnb.hit(bnb.call.span, better=rec.precision, gib=rec.memory["candidates"][chosen],
                      budget=rec.memory["budget_gib"])


@rule("PRC302", "bnb-call")
def bnb_fp4_mode(bnb: BnbOnTarget) -> Iterator[Hit]:
    mode, mode_arg = bnb.mode, bnb.mode_arg
    if mode in ("fp4", "fp4-dq"):
        better = mode.replace("fp4", "nf4")
        yield bnb.hit(mode_arg.span, [_replace(mode_arg, quote_like(mode_arg.text, better))], mode=mode, better=better)


@rule("PRC303", "bnb-call")
def bnb_int8_non_fp16_dtype(bnb: BnbOnTarget) -> Iterator[Hit]:
    mode, dtype_arg = bnb.mode, bnb.dtype_arg
    dtype = _dtype_name(dtype_arg)
    if isinstance(mode, str) and mode.startswith("int8") and dtype is not None and dtype not in FP16_NAMES:
        yield bnb.hit(dtype_arg.span, [_replace(dtype_arg, _with_dtype(dtype_arg, "float16"))], mode=mode,
                      dtype=dtype_arg.text)


@rule("PRC304", "bnb-call")
def bnb_int8_training(bnb: BnbOnTarget) -> Iterator[Hit]:
    if bnb.mode == "int8-training":
        yield bnb.hit(bnb.mode_arg.span)


@rule("PRC305", "bnb-call")
def bnb_off_cuda(bnb: BnbOnTarget) -> Iterator[Hit]:
    if not bnb.on.on_gpu:
        yield bnb.hit(bnb.call.span, accelerator=bnb.on.accelerator or bnb.on.target.kind)


@rule("PRC306", "bnb-call")
def bnb_few_linear_parameters(bnb: BnbOnTarget) -> Iterator[Hit]:
    census = bnb.on.census
    if census is not None and census.linear_share < 0.5:
        detail = ("the model has no nn.Linear: the plugin raises TypeError" if census.linear_params == 0 else
                  f"only {census.linear_share:.0%} of the parameters are in nn.Linear")
        yield bnb.hit(bnb.call.span, detail=detail)


@rule("PRC307", "bnb-call")
def bnb_ignore_modules_mismatch(bnb: BnbOnTarget) -> Iterator[Hit]:
    ignore = bnb.call.arguments.get("ignore_modules")
    prefixes = argument_literal(ignore)
    if isinstance(prefixes, (str, set, list, tuple)):
        for problem in _ignore_problems(prefixes):
            yield bnb.hit(ignore.span, problem=problem)


@rule("PRC308", "bnb-call")
def bnb_4bit_bf16_on_fp16_gpu(bnb: BnbOnTarget) -> Iterator[Hit]:
    target, dtype_arg = bnb.on.target, bnb.dtype_arg
    if bnb.mode in BNB_FOUR_BIT and target.kind == "cuda" and not target.bf16_native and \
            _dtype_name(dtype_arg) in (None, "bfloat16"):
        torch = bnb.on.torch_name
        if dtype_arg is not None:
            edits = [_replace(dtype_arg, _with_dtype(dtype_arg, "float16"))]
        else:  # without a module-level `import torch` no fix: `torch.float16` would be a NameError
            arguments = list(bnb.call.arguments.values())
            edits = [insert_keyword(bnb.call.span, arguments, f"dtype={torch}.float16", False)] if torch else []
        cause = (f"dtype={dtype_arg.text} is emulated there" if dtype_arg is not None
                 else "the compute dtype defaults to emulated bf16 there")
        yield bnb.hit(dtype_arg.span if dtype_arg else bnb.call.span, edits, mode=bnb.mode,
                      capability=target.capability_text, cause=cause)


@rule("PRC309", "bnb-call")
def bnb_int8_slow_gpu(bnb: BnbOnTarget) -> Iterator[Hit]:
    mode, target = bnb.mode, bnb.on.target
    if isinstance(mode, str) and mode.startswith("int8") and target.kind == "cuda" and not target.bnb_fast_int8:
        yield bnb.hit(bnb.mode_arg.span, mode=mode, capability=target.capability_text)


def hardware_findings(
    settings: Sequence[Setting],
    target: Gpu,
    recommendation: Recommendation | None,
    catalogue: Catalogue,
    census: ModelCensus | None = None,
    noqa: dict | None = None,
    torch_names: dict | None = None,
) -> list:
    """Findings of PRC120-PRC124 and PRC301-PRC309 for `settings` trained on `target`.

    The FP32-op advice lives in the recommendation's reasons; census-dependent
    rules need `census`; `noqa` maps a path to its `# noqa` lines (the call's closing line counts),
    `torch_names` to how the file names torch (FileFacts.imports_torch_as).
    """
    noqa, torch_names = noqa or {}, torch_names or {}
    findings = []
    for setting in settings:
        on = SettingOnTarget(setting, target, recommendation, census, torch_names.get(setting.path))
        if on.gpu_script_without_gpu:
            continue  # the recommendation says why: no GPU target for a GPU script
        file_noqa, closing = noqa.get(setting.path), (setting.call_span.end_line,)
        findings += registry.judge("hardware", "setting", on, catalogue, setting.path, file_noqa, closing)
        for call in _bnb_calls(setting):
            findings += registry.judge("hardware", "bnb-call", BnbOnTarget(on, call), catalogue, setting.path,
                                       file_noqa, closing)
    return sorted(findings, key=Finding.sort_key)

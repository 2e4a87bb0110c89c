"""The advisor: settings, op facts, a model census and a device in; one recommendation out.

A pure function of plain data (no I/O, no torch), so the whole decision
table is tested for every row of the hardware table. The rules it follows
are explained, with numbers, in docs/hardware.md.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from advisor.facts import Argument, ModelCensus, OpSite, Setting
from advisor.hardware import memory
from advisor.hardware.memory import BNB_MODES
from advisor.hardware.table import Gpu

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "transformer-engine")
MATMUL_DTYPE = {"32-true": "fp32", "16-mixed": "fp16", "16-true": "fp16", "bf16-mixed": "bf16",
                "bf16-true": "bf16", "transformer-engine": "fp8"}
THROUGHPUT_CLASSES = ((50, "low"), (250, "medium"), (1000, "high"))
DEFAULTS = {"memory-headroom": 0.2, "task": "train", "linear-heavy-share": 0.5}
TRUE_OF = {"bf16-mixed": "bf16-true", "16-mixed": "16-true"}
TRUE_CAVEAT = ("no fp32 master weights: updates smaller than the 16-bit step round away, so keep the learning "
               "rate schedule's tail in mind and validate the loss against 32-true first")
ACCELERATORS_ASKING_GPU = ("gpu", "cuda")
HALF_TRUE_SETTINGS = ("16-true", "bf16-true")


@dataclass(frozen=True)
class QuantPlugin:
    """A BitsandbytesPrecision(mode=..., dtype=..., ignore_modules=...) to pass as `plugins=`."""

    mode: str
    dtype: str  # "torch.float16" | "torch.bfloat16"
    ignore_modules: tuple = ()

    def to_json(self) -> dict:
        return {"mode": self.mode, "dtype": self.dtype, "ignore_modules": list(self.ignore_modules)}


@dataclass(frozen=True)
class Recommendation:
    """What to set, why, and the numbers behind it.

    `precision` is None when a bitsandbytes plugin is recommended (Lightning
    rejects `precision=` together with a precision plugin) and when there is
    nothing to advise (a GPU script with no GPU target). `fits` says whether
    the recommended setting's memory estimate fits the per-device budget
    (None when the device memory or the model census is unknown); when it is
    False, `changes` lists the smallest changes that would fit.
    """

    target: Gpu
    precision: str | None
    plugin: QuantPlugin | None
    reasons: tuple
    memory: dict
    throughput: dict
    alternatives: tuple = ()
    strategy: str | None = None  # a strategy to switch to ("fsdp"), when sharding is what makes it fit
    fits: bool | None = None
    changes: tuple = ()

    def headline(self) -> str:
        """One line for the text output."""
        if self.precision is None and self.plugin is None:
            return "Recommendation: none for this target"
        if self.plugin:
            what = (f'plugins=BitsandbytesPrecision(mode="{self.plugin.mode}", dtype={self.plugin.dtype})'
                    " without precision=")
        else:
            what = f'precision="{self.precision}"'
        if self.strategy:
            what += f', strategy="{self.strategy}"'
        if self.fits is False:
            what += " (nothing fits the device: see the changes below)"
        return f"Recommendation: {what}"

    def to_json(self) -> dict:
        return {
            "target": self.target.key,
            "target_name": self.target.name,
            "precision": self.precision,
            "plugin": self.plugin.to_json() if self.plugin else None,
            "strategy": self.strategy,
            "fits": self.fits,
            "changes": list(self.changes),
            "reasons": list(self.reasons),
            "alternatives": list(self.alternatives),
            "memory": self.memory,
            "throughput": self.throughput,
        }


# ---- hardware facts per precision -------------------------------------------

def support(gpu: Gpu, mode: str) -> tuple:
    """(status, note) of a precision or bitsandbytes mode on a device.

    status is native | emulated | converted | slow | unsupported.
    """
    if mode in BNB_MODES:
        if gpu.kind not in ("cuda", "rocm"):
            return "unsupported", "Lightning's BitsandbytesPrecision raises on non-CUDA accelerators"
        if mode.startswith("int8") and not gpu.bnb_fast_int8:
            return "slow", "no int8 tensor-core path below compute capability 7.5: weights are cast back for the matmul"
        if gpu.kind == "rocm":
            return "native", "bitsandbytes ROCm backend; passes Lightning's CUDA check, untested there"
        return "native", ""
    half = "bf16" if mode.startswith("bf16") else "fp16" if mode.startswith("16") else ""
    if mode == "transformer-engine":
        if gpu.kind == "cuda" and gpu.fp8:
            return "native", "FP8 through NVIDIA Transformer Engine (needs transformer-engine installed)"
        return "unsupported", "Transformer Engine FP8 needs an NVIDIA GPU with compute capability >= 8.9"
    if half == "bf16" and not gpu.bf16_native:
        if gpu.kind == "mps":
            return "emulated", "bf16 on MPS needs macOS 14 or later"
        return "emulated", "no bf16 matmul units: torch emulates it (slow), although is_bf16_supported() may say True"
    if half == "fp16" and gpu.kind == "cpu":
        if mode == "16-mixed":
            return "converted", "Lightning turns 16-mixed into bf16-mixed on CPU"
        return "slow", "CPUs have no fast fp16 matmul"
    return "native", ""


def matmul_tflops(gpu: Gpu, mode: str) -> float | None:
    """Dense matmul TFLOPS of a precision from the table; emulated bf16 counts at the fp32 rate at best."""
    key = MATMUL_DTYPE.get(mode)
    if key is None or support(gpu, mode)[0] == "unsupported":
        return None
    return gpu.tflops.get(key) or gpu.tflops.get("fp32")


def throughput_class(tflops: float | None) -> str:
    if tflops is None:
        return "unknown"
    return next((name for limit, name in THROUGHPUT_CLASSES if tflops < limit), "very-high")


def precision_profile(gpu: Gpu) -> list:
    """For `env`: what every precision and bitsandbytes mode means on this device."""
    fp32 = gpu.tflops.get("fp32")
    rows = []
    for mode in PRECISIONS + BNB_MODES:
        status, note = support(gpu, mode)
        quantized = mode in BNB_MODES
        tflops = None if quantized else matmul_tflops(gpu, mode)
        if quantized and status != "unsupported":
            note = (note + "; " if note else "") + "slower than 16-bit: every matmul dequantizes the weights first"
        weights, training = memory.per_billion(mode)
        rows.append({
            "mode": mode,
            "kind": "bitsandbytes" if quantized else "precision",
            "support": status,
            "matmul_tflops": tflops,
            "relative_to_fp32": round(tflops / fp32, 1) if tflops and fp32 else None,
            "weights_gib_per_billion": weights,
            "training_gib_per_billion": training,
            "note": note,
        })
    return rows


# ---- settings ------------------------------------------------------------------

def device_count(text: str | None) -> int:
    """`devices=` as written: 4, "4", [0, 1], "0,1"; 1 when it is "auto", -1 or unknown."""
    text = (text or "").strip()
    if re.fullmatch(r"['\"]?\d+['\"]?", text):
        return max(int(text.strip("'\"")), 1)
    items = [item for item in re.split(r"[\s,\[\]()'\"]+", text) if item.isdigit()]
    return len(items) if ("," in text or "[" in text) and items else 1


def argument_literal(argument: Argument | None):
    """The value of an argument written as a Python literal ({"a", "b"} included), else None."""
    if argument is None:
        return None
    if argument.static:
        return argument.value
    try:
        return ast.literal_eval(argument.text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def existing_ignore_modules(settings: Sequence[Setting]) -> tuple:
    """ignore_modules of a BitsandbytesPrecision already in the code, when written literally."""
    for setting in settings:
        for call in setting.plugin_calls:
            value = argument_literal(call.arguments.get("ignore_modules"))
            if call.short_name.startswith("BitsandbytesPrecision") and isinstance(value, (set, list, tuple)):
                return tuple(sorted(str(item) for item in value))
    return ()


# ---- the decision -------------------------------------------------------------

def _fp32_op_names(ops: bool | Sequence[OpSite]) -> list:
    if isinstance(ops, bool):
        return ["(reported)"] if ops else []
    return sorted({op.op for op in ops if not op.in_fp32_region})


def choose_precision(gpu: Gpu, strategy: str | None = None) -> tuple:
    """(precision, reasons) from the device alone: capability first, never is_bf16_supported()."""
    fp32 = gpu.tflops.get("fp32")

    def rates(key):
        rate = gpu.tflops.get(key)
        return f" ({rate:g} vs {fp32:g} TFLOPS dense in fp32)" if rate and fp32 else ""

    if gpu.kind == "cpu":
        if gpu.bf16_native:
            return "bf16-mixed", [f"{gpu.name}: the CPU has native bf16 (AVX512-BF16 or AMX), "
                                  "so bf16 autocast speeds up matmuls"]
        return "32-true", [f"{gpu.name}: no native bf16 on this CPU (no avx512_bf16/amx_bf16 flag), and fp16 "
                           "autocast does not exist on CPU (Lightning turns 16-mixed into bf16-mixed): stay in 32-true"]
    if gpu.kind == "mps":
        return "16-mixed", ["Apple GPUs run fp16 natively; bf16 on MPS needs macOS 14. Mixed precision on MPS needs "
                            "Lightning >= 2.6.0 (Trainer) or >= 2.5.2 (Fabric): older versions silently stay in fp32"]
    if gpu.bf16_native:
        where = (f"compute capability {gpu.capability_text}" if gpu.compute_capability
                 else f"{gpu.capability_text}, ROCm")
        return "bf16-mixed", [f"{gpu.name} ({where}) has native bf16{rates('bf16')}: as fast as fp16, no GradScaler "
                              "needed, and fp32's exponent range, so no overflow or underflow"]
    reasons = [f"{gpu.name} (compute capability {gpu.capability_text}) has no bf16 tensor cores: bf16 is emulated "
               "and slow there although torch.cuda.is_bf16_supported() says True; fp16 with a GradScaler is the "
               f"fast path{rates('fp16')}"]
    if re.search(r"model_?parallel", (strategy or "").lower()):
        return "32-true", reasons + ["ModelParallelStrategy rejects 16-mixed, and bf16 is emulated here: "
                                     "stay in 32-true"]
    return "16-mixed", reasons


@dataclass(frozen=True)
class Candidate:
    """One setting the recommendation may pick, with the sharding it would run under."""

    setting: str  # a precision or a bitsandbytes mode
    training: memory.Training
    strategy: str | None = None  # a strategy to switch to for this candidate

    @property
    def label(self) -> str:
        return f"{self.setting} + {self.strategy}" if self.strategy else self.setting

    @property
    def quantized(self) -> bool:
        return self.setting in BNB_MODES

    def estimate(self) -> memory.Estimate:
        return memory.estimate(self.training, self.setting)


def _asks_for_gpu(settings: Sequence[Setting]) -> bool:
    return any((s.accelerator or "").lower() in ACCELERATORS_ASKING_GPU for s in settings)


def _no_gpu(gpu: Gpu) -> Recommendation:
    """A GPU script advised for a CPU target (nothing detected): say so, advise nothing."""
    reason = (f"the code asks for accelerator='gpu' but the target is {gpu.name}, not a GPU (no GPU detected?): "
              "no precision advice and no recommended fixes; pass --gpu NAME for the GPU it trains on "
              "(`prec-advisor env --gpu NAME` lists what each precision means there)")
    return Recommendation(gpu, None, None, (reason,), {"device_gib": gpu.memory_gib, "candidates": {}},
                          {"precision": None, "dense_tflops": None}, fits=None)


def _order(gpu: Gpu, precision: str, training: memory.Training, devices: int, fp32_ops: bool, task: str) -> list:
    """Candidates fastest first: 16-bit mixed, 16-bit true, sharded over the devices, then 4-bit with adapters."""
    order = [Candidate(precision, training)]
    true = TRUE_OF.get(precision)
    if true and not fp32_ops and support(gpu, true)[0] == "native":
        order.append(Candidate(true, training))
    if devices > 1 and not training.sharding.weights:
        fsdp = training.with_sharding(memory.sharding_for("fsdp", devices))
        order += [Candidate(c.setting, fsdp, "fsdp") for c in list(order)]
    if gpu.kind in ("cuda", "rocm") and (not training.full_fine_tune or task == "inference"):
        modes = ("int8", "nf4", "nf4-dq") if task == "inference" else ("nf4", "nf4-dq")
        order += [Candidate(mode, training) for mode in modes]
    return order


def _gib(value: float) -> str:
    return f"{value:.1f} GiB"


def _parts(found: memory.Estimate) -> str:
    parts = [f"weights {found.weights:.1f}", f"grads {found.grads:.1f}", f"optimizer {found.optimizer:.1f}"]
    if found.cache:
        parts.append(f"autocast cache {found.cache:.1f}")
    return ", ".join(parts)


def _changes(gpu: Gpu, order: list, training: memory.Training, budget: float, devices: int) -> list:
    """The smallest changes that would fit, least disruptive first: more devices (FSDP), then adapters."""
    changes = []
    options = [(c.setting, memory.devices_to_fit(training, c.setting, budget)) for c in order if not c.strategy]
    options = [(setting, n) for setting, n in options if n is not None and n > devices]
    if options:
        setting, n = min(options, key=lambda item: item[1])
        sharded = training.with_sharding(memory.sharding_for("fsdp", n))
        changes.append({"change": "devices", "devices": n, "strategy": "fsdp", "setting": setting,
                        "gib": round(memory.estimate(sharded, setting).total, 2)})
    if training.full_fine_tune:
        adapted = training.with_adapters()
        sixteen = [c.setting for c in order if not c.strategy and not c.quantized]
        tries = [(adapted, setting, None) for setting in sixteen]
        if devices > 1 and not training.sharding.weights:  # 16-bit and sharded before quantized
            fsdp = adapted.with_sharding(memory.sharding_for("fsdp", devices))
            tries += [(fsdp, setting, "fsdp") for setting in sixteen]
        tries += [(adapted, mode, None) for mode in ("nf4", "nf4-dq") if gpu.kind in ("cuda", "rocm")]
        for adapted_training, setting, strategy in tries:
            found = memory.estimate(adapted_training, setting)
            if found.total <= budget:
                changes.append({"change": "adapters", "setting": setting, "strategy": strategy,
                                "gib": round(found.total, 2), "trainable_share": memory.ADAPTER_SHARE})
                break
    return changes


def _describe_change(change: dict) -> str:
    if change["change"] == "devices":
        return (f"{change['devices']} devices with strategy='fsdp' ({change['setting']}: "
                f"{change['gib']:.1f} GiB per device)")
    plugin = " with BitsandbytesPrecision" if change["setting"] in BNB_MODES else ""
    strategy = f" and strategy={change['strategy']!r}" if change["strategy"] else ""
    return (f"freeze the base model and train LoRA adapters ({change['trainable_share']:.0%} of the parameters "
            f"assumed){plugin}{strategy}: {change['setting']} needs {change['gib']:.1f} GiB per device")


def _existing_bnb_mode(settings: Sequence[Setting]) -> str | None:
    for setting in settings:
        for call in setting.plugin_calls:
            mode = call.arguments.get("mode")
            if call.short_name.startswith("BitsandbytesPrecision"):
                return mode.value if mode is not None and mode.static and mode.value in BNB_MODES else "plugin"
    return None


def _quantized_reasons(gpu: Gpu, chosen: Candidate, found: memory.Estimate, census: ModelCensus,
                       options: dict, reasons: list) -> QuantPlugin:
    dtype = "torch.float16" if chosen.setting.startswith("int8") or not gpu.bf16_native else "torch.bfloat16"
    reasons.append(f"{chosen.setting} fits ({_gib(found.total)} per device: {_parts(found)}): the plugin quantizes "
                   f"and freezes every nn.Linear; {found.trainable_params:,} trainable parameters (the adapters and "
                   "any non-Linear ones) keep training. Keep LoRA adapters out of nn.Linear (litgpt's LoRA "
                   "parameters) or list them in ignore_modules, or they are frozen too")
    reasons.append("bitsandbytes is slower than 16-bit: every matmul dequantizes the weights first; "
                   "int8-training is never an option for memory: it keeps fp16 weights")
    if dtype == "torch.float16" and not chosen.setting.startswith("int8"):
        reasons.append("dtype=torch.float16: the plugin's default picks emulated bf16 below compute capability 8.0")
    if census.linear_share < options["linear-heavy-share"]:
        reasons.append(f"only {census.linear_share:.0%} of the parameters are in nn.Linear, the only layers "
                       "bitsandbytes quantizes: the saving is small")
    reasons.append("pass it as plugins=BitsandbytesPrecision(...) without precision= (Lightning rejects both together)")
    return QuantPlugin(chosen.setting, dtype)


def _memory_json(gpu: Gpu, training: memory.Training, order: list, budget: float | None, options: dict,
                 precisions: list) -> dict:
    every = [Candidate(p, training) for p in precisions]
    if gpu.kind in ("cuda", "rocm"):
        every += [Candidate(mode, training) for mode in BNB_MODES]
    every += [c for c in order if c.strategy]
    census = training.census
    return {
        "params": census.params, "trainable_params": census.trainable_params,
        "linear_share": round(census.linear_share, 3),
        "optimizer": training.optimizer.to_json(), "init_module": training.init_module,
        "sharding": training.sharding.to_json(),
        "budget_gib": None if budget is None else round(budget, 2),
        "candidates": {c.label: round(c.estimate().total, 2) for c in every},
        "breakdown": {c.label: c.estimate().breakdown() for c in every},
        "order": [c.label for c in order],
        "assumptions": [
            f"activations, the CUDA context and fragmentation are not estimated: {options['memory-headroom']:.0%} "
            "of the device is kept free for them (memory-headroom)",
            f"optimizer: {training.optimizer.describe()}",
            "autocast caches a 16-bit copy of every trainable nn.Linear weight during the forward (-mixed only)",
        ],
    }


def recommend(
    gpu: Gpu,
    settings: Sequence[Setting] = (),
    ops: bool | Sequence[OpSite] = (),
    census: ModelCensus | None = None,
    *,
    devices: int | None = None,
    strategy: str | None = None,
    te_available: bool = False,
    config: Mapping | None = None,
    optimizer: memory.Optimizer | None = None,
    init_module: bool = False,
) -> Recommendation:
    """The recommendation for training the scanned code on `gpu`.

    `ops` are the FP32-required op sites (or just whether there are any);
    `devices` and `strategy` default to what the settings say; `optimizer`
    and `init_module` are what the scan found (Adam is assumed otherwise);
    `config` may set memory-headroom (0.2), task ("train" or "inference")
    and linear-heavy-share (0.5). The pick is the first candidate of the
    documented order whose memory estimate fits the per-device budget.
    """
    options = {**DEFAULTS, **(config or {})}
    if gpu.kind == "cpu" and _asks_for_gpu(settings):
        return _no_gpu(gpu)
    strategy = strategy or next((s.strategy for s in settings if s.strategy), None)
    devices = devices or next((device_count(s.devices) for s in settings if s.devices), 1)
    precision, reasons = choose_precision(gpu, strategy)
    alternatives = []

    op_names = _fp32_op_names(ops)
    if op_names:
        shown = ", ".join(op_names[:3]) + (", ..." if len(op_names) > 3 else "")
        reasons.append(f"FP32-required ops found ({shown}): keep a -mixed precision and run them in fp32 locally "
                       "(autocast disabled, inputs .float()); never a -true half precision")
    current = sorted({s.normalized for s in settings if s.normalized})
    if current and current != [precision]:
        reasons.append(f"the code sets {', '.join(current)}")

    sharding = memory.sharding_for(strategy, devices)
    linear_heavy = census is not None and census.linear_share >= options["linear-heavy-share"]
    if gpu.fp8 and gpu.kind == "cuda" and te_available and linear_heavy and sharding.ways == 1:
        alternatives.append("transformer-engine")
        reasons.append(_fp8_reason(gpu, census))

    if census is None:
        mem = {"device_gib": gpu.memory_gib, "headroom": options["memory-headroom"], "devices": devices,
               "strategy": strategy, "candidates": {}, "note": "no model census: run with --trace to estimate memory"}
        return Recommendation(gpu, precision, None, tuple(reasons), mem, _throughput(gpu, precision, None),
                              tuple(alternatives))

    training = memory.Training(census, optimizer or memory.ADAM_ASSUMED, init_module, sharding)
    budget = gpu.memory_gib * (1 - options["memory-headroom"]) if gpu.memory_gib is not None else None
    order = _order(gpu, precision, training, devices, bool(op_names), options["task"])
    chosen = next((c for c in order if c.estimate().fits(budget) is not False), None)
    supported = [p for p in PRECISIONS if support(gpu, p)[0] != "unsupported"]
    mem = {"device_gib": gpu.memory_gib, "headroom": options["memory-headroom"], "devices": devices,
           "strategy": strategy, **_memory_json(gpu, training, order, budget, options, supported)}
    if training.optimizer.assumed:
        reasons.append("optimizer: Adam assumed (no optimizer found in configure_optimizers): "
                       "2 states per trainable parameter")
    plugin, new_strategy, changes = None, None, ()
    if chosen is None:
        changes = tuple(_changes(gpu, order, training, budget, devices))
        reasons.extend(_nothing_fits(gpu, order, training, budget, devices, changes))
    else:
        mem["chosen"] = chosen.label
        plugin, new_strategy = _fitting_reasons(gpu, chosen, order, budget, devices, options, settings, reasons)
        precision = None if plugin else chosen.setting
        reasons.extend(_plugin_in_code(settings, chosen, training, budget))
    return Recommendation(gpu, precision, plugin, tuple(reasons), mem, _throughput(gpu, precision, plugin),
                          tuple(alternatives), new_strategy, None if budget is None else chosen is not None, changes)


def _fp8_reason(gpu: Gpu, census: ModelCensus) -> str:
    fp8, bf16 = gpu.tflops.get("fp8"), gpu.tflops.get("bf16")
    rate = f" ({fp8:g} vs {bf16:g} TFLOPS dense)" if fp8 and bf16 else ""
    return (f"FP8: compute capability {gpu.capability_text} >= 8.9 and {census.linear_share:.0%} of the parameters "
            f"are in nn.Linear: precision=\"transformer-engine\" may be faster{rate}; validate it first")


def _nothing_fits(gpu: Gpu, order: list, training: memory.Training, budget: float, devices: int,
                  changes: tuple) -> list:
    """The reasons when no candidate fits: every number, and the smallest changes that would."""
    tried = "; ".join(f"{c.label} {_gib(c.estimate().total)}" for c in order)
    reasons = [f"nothing fits the {_gib(budget)} budget per device of {gpu.name} ({devices} device"
               f"{'s' if devices != 1 else ''}): {tried}"]
    if training.full_fine_tune and gpu.kind in ("cuda", "rocm"):
        reasons.append("4-bit quantization is no option for a full fine-tune: the plugin freezes every nn.Linear")
    if changes:
        reasons.append("smallest change that fits: " + "; or ".join(_describe_change(c) for c in changes))
    else:
        reasons.append("no change within 4096 devices fits: shrink the model")
    return reasons


def _fitting_reasons(gpu: Gpu, chosen: Candidate, order: list, budget: float | None, devices: int, options: dict,
                     settings: Sequence[Setting], reasons: list) -> tuple:
    """(plugin, strategy) of the pick, with its reasons appended: why the faster candidates did not fit."""
    found, first = chosen.estimate(), order[0].estimate()
    if budget is not None and chosen is order[0]:
        reasons.append(f"memory: {chosen.setting} needs {_gib(found.total)} per device ({_parts(found)}), "
                       f"within the {_gib(budget)} budget")
    elif budget is not None:
        reasons.append(f"memory: {order[0].label} needs {_gib(first.total)} per device ({_parts(first)}), more "
                       f"than the {_gib(budget)} budget of {gpu.name}")
    if chosen.quantized:
        plugin = _quantized_reasons(gpu, chosen, found, chosen.training.census, options, reasons)
        return QuantPlugin(plugin.mode, plugin.dtype, existing_ignore_modules(settings)), None
    if chosen is not order[0] and chosen.setting in HALF_TRUE_SETTINGS:
        reasons.append(f"{chosen.setting} keeps 16-bit weights and fits ({_gib(found.total)}: "
                       f"{_parts(found)}); caveat: {TRUE_CAVEAT}")
    if chosen.strategy:
        reasons.append(f"strategy='fsdp' shards weights, gradients and optimizer states over the {devices} "
                       f"devices: {chosen.setting} then needs {_gib(found.total)} per device")
    return None, chosen.strategy


def _plugin_in_code(settings: Sequence[Setting], chosen: Candidate, training: memory.Training,
                    budget: float | None) -> list:
    """How the pick relates to a BitsandbytesPrecision already in the code: replace it, or keep it."""
    existing = _existing_bnb_mode(settings)
    if existing is None:
        return []
    if not chosen.quantized:
        return [f"replace plugins=BitsandbytesPrecision(...) with precision={chosen.setting!r}: it fits, and "
                "bitsandbytes only slows training when the 16-bit model fits"]
    if existing in BNB_MODES and memory.estimate(training, existing).fits(budget) is not False:
        return [f"the code's BitsandbytesPrecision(mode={existing!r}) fits too: keep it"]
    return [f"replace the code's BitsandbytesPrecision mode with {chosen.setting!r}"]


def _throughput(gpu: Gpu, precision: str | None, plugin: QuantPlugin | None) -> dict:
    """The matmul rate of what is recommended, against 32-true (strict fp32 and TF32), from the table.

    bitsandbytes gets no rate: it dequantizes before every matmul, so it is
    slower than the 16-bit rate it computes in, by an amount the table cannot say.
    """
    fp32, tf32 = gpu.tflops.get("fp32"), gpu.tflops.get("tf32")
    tf32 = tf32 if tf32 and fp32 and tf32 > fp32 else None
    tflops = None if plugin or precision is None else matmul_tflops(gpu, precision)
    data = {
        "precision": precision or (f"bitsandbytes {plugin.mode}" if plugin else None),
        "dense_tflops": tflops,
        "fp32_tflops": fp32,
        "tf32_tflops": tf32,
        "speedup_vs_32_true": round(tflops / fp32, 1) if tflops and fp32 else None,
        "speedup_vs_tf32": round(tflops / tf32, 1) if tflops and tf32 else None,
        "class": throughput_class(tflops if gpu.tflops else None),
        "source": gpu.source or None,
    }
    if plugin:
        compute = gpu.tflops.get("fp16" if plugin.dtype == "torch.float16" else "bf16")
        data["note"] = (f"slower than 16-bit ({compute:g} TFLOPS is the upper bound): every matmul dequantizes "
                        "the weights first" if compute else "slower than 16-bit: every matmul dequantizes first")
    elif tf32 and tflops and precision != "32-true":
        data["note"] = (f"against 32-true with TF32 matmuls (torch.set_float32_matmul_precision('high'), which "
                        f"Lightning suggests on this GPU) the gain is {data['speedup_vs_tf32']:g}x, not "
                        f"{data['speedup_vs_32_true']:g}x")
    return data

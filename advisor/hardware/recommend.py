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
from advisor.hardware.table import Gpu

GIB = 2**30
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "transformer-engine")
BNB_MODES = ("nf4", "nf4-dq", "fp4", "fp4-dq", "int8", "int8-training")
# Bytes per parameter for (weights, gradients, Adam/AdamW states). Mixed precision keeps
# fp32 weights (autocast casts per op); Lightning's "transformer-engine" casts the weights to bf16.
TRAINING_BYTES = {
    "32-true": (4, 4, 8),
    "16-mixed": (4, 4, 8),
    "bf16-mixed": (4, 4, 8),
    "16-true": (2, 2, 4),
    "bf16-true": (2, 2, 4),
    "transformer-engine": (2, 2, 4),
}
# Bits per nn.Linear weight (lightning-precision.md 5.3): 4-bit with fp32 absmax per 64 values,
# double quantization re-quantizes the absmax; int8 adds an fp32 scale per row (1024 columns assumed).
BNB_BITS = {"nf4": 4.5, "fp4": 4.5, "nf4-dq": 4.127, "fp4-dq": 4.127, "int8": 8.03, "int8-training": 16.0}
HALF_TRAINABLE_BYTES = 2 + 2 + 4  # a 16-bit parameter with its gradient and two 16-bit Adam moments
MATMUL_DTYPE = {"32-true": "fp32", "16-mixed": "fp16", "16-true": "fp16", "bf16-mixed": "bf16",
                "bf16-true": "bf16", "transformer-engine": "fp8"}
THROUGHPUT_CLASSES = ((50, "low"), (250, "medium"), (1000, "high"))
DEFAULTS = {"memory-headroom": 0.2, "task": "train", "linear-heavy-share": 0.5}
SHARDING = ("fsdp", "deepspeed")


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

    `precision` is None when a bitsandbytes plugin is recommended: Lightning
    rejects `precision=` together with a precision plugin.
    """

    target: Gpu
    precision: str | None
    plugin: QuantPlugin | None
    reasons: tuple
    memory: dict
    throughput: dict
    alternatives: tuple = ()

    def to_json(self) -> dict:
        return {
            "target": self.target.key,
            "target_name": self.target.name,
            "precision": self.precision,
            "plugin": self.plugin.to_json() if self.plugin else None,
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
        if mode in BNB_MODES:
            compute = "fp16" if mode.startswith("int8") or not gpu.bf16_native else "bf16"
            tflops = gpu.tflops.get(compute) if status != "unsupported" else None
            weights = BNB_BITS[mode] / 8
            training = HALF_TRAINABLE_BYTES if mode == "int8-training" else weights
        else:
            tflops = matmul_tflops(gpu, mode)
            weights, training = TRAINING_BYTES[mode][0], sum(TRAINING_BYTES[mode])
        rows.append({
            "mode": mode,
            "kind": "bitsandbytes" if mode in BNB_MODES else "precision",
            "support": status,
            "matmul_tflops": tflops,
            "relative_to_fp32": round(tflops / fp32, 1) if tflops and fp32 else None,
            "weights_gib_per_billion": round(weights * 1e9 / GIB, 2),
            "training_gib_per_billion": round(training * 1e9 / GIB, 2),
            "note": note,
        })
    return rows


# ---- memory ------------------------------------------------------------------

def training_gib(census: ModelCensus, precision: str, shards: int = 1) -> float:
    """Weights + gradients + Adam states per device under a precision."""
    return census.params * sum(TRAINING_BYTES[precision]) / shards / GIB


def quantized_gib(census: ModelCensus, mode: str) -> float:
    """Per-device memory with bitsandbytes: frozen quantized Linear weights, trainable 16-bit rest."""
    other = census.params - census.linear_params
    if mode == "int8-training":
        return census.params * HALF_TRAINABLE_BYTES / GIB
    return (census.linear_params * BNB_BITS[mode] / 8 + other * HALF_TRAINABLE_BYTES) / GIB


def weights_16bit_gib(census: ModelCensus, shards: int = 1) -> float:
    return census.params * 2 / shards / GIB


def fits_16bit(census: ModelCensus, gpu: Gpu, shards: int = 1, headroom: float = DEFAULTS["memory-headroom"]) -> bool:
    """Whether the 16-bit weights fit the device after sharding; True when memory is unknown."""
    if gpu.memory_gib is None:
        return True
    return weights_16bit_gib(census, shards) <= gpu.memory_gib * (1 - headroom)


# ---- settings ------------------------------------------------------------------

def sharding(strategy: str | None, devices: int) -> int:
    """How many ways the strategy divides the model state: FSDP and DeepSpeed shard, DDP replicates."""
    text = (strategy or "").lower()
    return max(devices, 1) if any(word in text for word in SHARDING) else 1


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
        cuda = gpu.compute_capability
        where = f"compute capability {gpu.capability_text}" if cuda else f"{gpu.capability_text}, ROCm"
        return "bf16-mixed", [f"{gpu.name} ({where}) has native bf16{rates('bf16')}: as fast as fp16, no GradScaler "
                              "needed, and fp32's exponent range, so no overflow or underflow"]
    reasons = [f"{gpu.name} (compute capability {gpu.capability_text}) has no bf16 tensor cores: bf16 is emulated "
               "and slow there although torch.cuda.is_bf16_supported() says True; fp16 with a GradScaler is the "
               f"fast path{rates('fp16')}"]
    if re.search(r"model_?parallel", (strategy or "").lower()):
        return "32-true", reasons + ["ModelParallelStrategy rejects 16-mixed, and bf16 is emulated here: "
                                     "stay in 32-true"]
    return "16-mixed", reasons


def _choose_plugin(gpu, census, shards, budget, task, ignore_modules, reasons) -> QuantPlugin | None:
    """The least aggressive bitsandbytes mode that fits, when the 16-bit weights do not."""
    need = weights_16bit_gib(census, shards)
    reasons.append(f"the 16-bit weights need {need:.1f} GiB per device, more than the {budget:.1f} GiB budget "
                   f"of {gpu.name}: quantize the nn.Linear weights with bitsandbytes")
    if gpu.kind not in ("cuda", "rocm"):
        reasons.append("but Lightning's BitsandbytesPrecision only runs on CUDA: "
                       "use a larger device or shard the model")
        return None
    order = ("int8", "nf4", "nf4-dq") if task == "inference" else ("nf4", "nf4-dq")
    mode = next((m for m in order if quantized_gib(census, m) <= budget), order[-1])
    if quantized_gib(census, mode) > budget:
        reasons.append(f"even {mode} needs {quantized_gib(census, mode):.1f} GiB: it does not fit, use more devices")
    else:
        reasons.append(f"{mode} is the least aggressive mode that fits ({quantized_gib(census, mode):.1f} GiB with "
                       "frozen Linear weights); int8-training is never an option for memory: it keeps fp16 weights")
    dtype = "torch.float16" if mode.startswith("int8") or not gpu.bf16_native else "torch.bfloat16"
    if dtype == "torch.float16" and not mode.startswith("int8"):
        reasons.append("dtype=torch.float16: the plugin's default picks emulated bf16 below compute capability 8.0")
    reasons.append("pass it as plugins=BitsandbytesPrecision(...) without precision= (Lightning rejects both together)")
    return QuantPlugin(mode, dtype, ignore_modules)


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
) -> Recommendation:
    """The recommendation for training the scanned code on `gpu`.

    `ops` are the FP32-required op sites (or just whether there are any);
    `devices` and `strategy` default to what the settings say; `config`
    may set memory-headroom (0.2), task ("train" or "inference") and
    linear-heavy-share (0.5).
    """
    options = {**DEFAULTS, **(config or {})}
    strategy = strategy or next((s.strategy for s in settings if s.strategy), None)
    devices = devices or next((device_count(s.devices) for s in settings if s.devices), 1)
    shards = sharding(strategy, devices)
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

    linear_heavy = census is not None and census.linear_share >= options["linear-heavy-share"]
    if gpu.fp8 and gpu.kind == "cuda" and te_available and linear_heavy and shards == 1:
        fp8, bf16 = gpu.tflops.get("fp8"), gpu.tflops.get("bf16")
        rate = f" ({fp8:g} vs {bf16:g} TFLOPS dense)" if fp8 and bf16 else ""
        alternatives.append("transformer-engine")
        reasons.append(f"FP8: compute capability {gpu.capability_text} >= 8.9 and {census.linear_share:.0%} of the "
                       f"parameters are in nn.Linear: precision=\"transformer-engine\" may be faster{rate}; "
                       "validate it first")

    memory = {"device_gib": gpu.memory_gib, "headroom": options["memory-headroom"], "shards": shards,
              "strategy": strategy, "devices": devices, "candidates": {}}
    plugin = None
    if census is None:
        memory["note"] = "no model census: run with --trace to estimate memory"
    else:
        memory.update(params=census.params, linear_share=round(census.linear_share, 3),
                      weights_16bit_gib=round(weights_16bit_gib(census, shards), 2))
        candidates = [p for p in PRECISIONS if support(gpu, p)[0] != "unsupported"]
        memory["candidates"] = {p: round(training_gib(census, p, shards), 2) for p in candidates}
        if gpu.kind in ("cuda", "rocm"):
            memory["candidates"].update({m: round(quantized_gib(census, m), 2) for m in BNB_MODES})
        if gpu.memory_gib is not None:
            budget = gpu.memory_gib * (1 - options["memory-headroom"])
            memory["budget_gib"] = round(budget, 2)
            if not fits_16bit(census, gpu, shards, options["memory-headroom"]):
                plugin = _choose_plugin(gpu, census, shards, budget, options["task"],
                                        existing_ignore_modules(settings), reasons)
                if plugin and census.linear_share < options["linear-heavy-share"]:
                    reasons.append(f"only {census.linear_share:.0%} of the parameters are in nn.Linear, "
                                   "the only layers bitsandbytes quantizes: the saving is small")
            elif precision and training_gib(census, precision, shards) > budget:
                reasons.append(f"weights, gradients and Adam states under {precision} need "
                               f"{training_gib(census, precision, shards):.1f} GiB per device, "
                               f"more than {budget:.1f} GiB: "
                               "shard them with FSDP or DeepSpeed across devices")

    if plugin:
        precision = None
    return Recommendation(gpu, precision, plugin, tuple(reasons), memory, _throughput(gpu, precision, plugin),
                          tuple(alternatives))


def _throughput(gpu: Gpu, precision: str | None, plugin: QuantPlugin | None) -> dict:
    """The matmul rate of what is recommended, against 32-true, from the table."""
    if plugin:
        tflops = gpu.tflops.get("fp16" if plugin.dtype == "torch.float16" else "bf16")
    else:
        tflops = matmul_tflops(gpu, precision)
    fp32 = gpu.tflops.get("fp32")
    return {
        "precision": precision or f"bitsandbytes {plugin.mode}",
        "dense_tflops": tflops,
        "fp32_tflops": fp32,
        "speedup_vs_32_true": round(tflops / fp32, 1) if tflops and fp32 else None,
        "class": throughput_class(tflops if gpu.tflops else None),
        "source": gpu.source or None,
    }

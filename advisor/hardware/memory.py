"""Per-device training memory: the one model behind the recommendation, PRC30x, `env` and the JSON.

An estimate counts what a setting really stores on each device: weights in
the dtype the setting keeps them in, gradients and optimizer states for the
trainable parameters only, autocast's cached 16-bit weight copies, each
divided by what the strategy shards. Activations are not counted: the
budget keeps a share of the device free for them (an assumption, stated).
docs/hardware.md derives every number with worked examples.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from advisor.facts import ModelCensus
from advisor.lightning import BNB_MODES

GIB = 2**30
MIXED = ("16-mixed", "bf16-mixed")
HALF_TRUE = ("16-true", "bf16-true", "transformer-engine", "transformer-engine-float16")
# Bits per nn.Linear weight (lightning-precision.md 5.3): 4-bit with an fp32 absmax per 64 values,
# double quantization re-quantizes the absmax; int8 adds an fp32 scale per row (1024 columns assumed);
# int8-training keeps fp16 weights (Linear8bitLt with has_fp16_weights=True) and trains them.
BNB_BITS = {"nf4": 4.5, "fp4": 4.5, "nf4-dq": 4.127, "fp4-dq": 4.127, "int8": 8.03, "int8-training": 16.0}
ADAPTER_SHARE = 0.01  # trainable share assumed for "add LoRA adapters" (r=8..64 on a 7B model: 0.1-1%)
DEEPSPEED_DEFAULT_STAGE = 2  # Lightning's DeepSpeedStrategy(stage=2) default


@dataclass(frozen=True)
class Optimizer:
    """What an optimizer keeps per trainable parameter.

    `state_bytes` None means each state has the parameter's dtype (torch.optim
    allocates zeros_like(param)); bitsandbytes 8-bit states take one byte,
    its 32-bit ones four. Paged states live in unified memory and spill to
    CPU RAM under pressure: they are counted on the device (the worst case).
    """

    name: str
    states: int
    state_bytes: int | None = None
    paged: bool = False
    assumed: bool = False

    def bytes_per_param(self, param_bytes: float) -> float:
        return self.states * (self.state_bytes or param_bytes)

    def describe(self) -> str:
        kind = f"{self.states} state{'s' if self.states != 1 else ''} per trainable parameter"
        if self.state_bytes:
            kind += f", {self.state_bytes} byte{'s' if self.state_bytes != 1 else ''} each"
        suffix = "; paged: spills to CPU RAM under pressure" if self.paged else ""
        return f"{self.name} ({kind}{suffix})" + (" - assumed, no optimizer found in configure_optimizers"
                                                   if self.assumed else "")

    def to_json(self) -> dict:
        return {"name": self.name, "states": self.states, "state_bytes": self.state_bytes, "paged": self.paged,
                "assumed": self.assumed}


ADAM_ASSUMED = Optimizer("Adam", 2, assumed=True)
# short class name -> (states, bytes per state or None for the parameter's dtype)
TORCH_OPTIMIZERS = {"Adam": 2, "AdamW": 2, "Adamax": 2, "NAdam": 2, "RAdam": 2, "Adadelta": 2, "Adagrad": 1,
                    "RMSprop": 1, "Rprop": 2, "ASGD": 2, "Lion": 1, "SparseAdam": 2}
# Adafactor factors its second moment into a row and a column vector and keeps no first moment by
# default (beta1=None): per parameter that is about nothing.
FACTORED = {"Adafactor": 0}
BNB_OPTIMIZERS = {"Adam": 2, "AdamW": 2, "Lion": 1, "SGD": 1, "RMSprop": 1, "Adagrad": 1, "LAMB": 2, "LARS": 1,
                  "AdEMAMix": 3}


def optimizer_from(qualified: str, keywords: dict) -> Optimizer | None:
    """The Optimizer a constructor call builds: torch.optim.*, bitsandbytes.optim.*, Adafactor; None if unknown.

    `keywords` holds the call's static keyword values (momentum=, optim_bits=).
    """
    short = qualified.rsplit(".", 1)[-1]
    root = qualified.split(".")[0]
    if root == "torch" and ".optim." in f"{qualified}.":
        if short == "SGD":
            momentum = keywords.get("momentum", 0)
            return Optimizer("SGD" + (" with momentum" if momentum else ""), 1 if momentum else 0)
        if short in TORCH_OPTIMIZERS:
            extra = 1 if short == "RMSprop" and keywords.get("momentum") else 0
            return Optimizer(short, TORCH_OPTIMIZERS[short] + extra)
    if root == "bitsandbytes":
        paged = short.startswith("Paged")
        base = short[len("Paged"):] if paged else short
        bits = 8 if base.endswith("8bit") else 32 if base.endswith("32bit") else keywords.get("optim_bits", 32)
        base = base.removesuffix("8bit").removesuffix("32bit")
        if base in BNB_OPTIMIZERS:
            return Optimizer(short, BNB_OPTIMIZERS[base], 1 if bits == 8 else 4, paged)
    if short in FACTORED and root in ("transformers", "torch", "timm", "fairseq"):
        return Optimizer(short, FACTORED[short])
    return None


def choose_optimizer(optimizers: Iterable[Optimizer]) -> Optimizer:
    """The optimizer to count: the one with the most state bytes of those built (Adam when none)."""
    found = list(optimizers)
    return max(found, key=lambda o: o.bytes_per_param(4)) if found else ADAM_ASSUMED


@dataclass(frozen=True)
class Sharding:
    """What a strategy divides across `ways` devices, and what it moves to CPU RAM."""

    name: str  # "none" | "fsdp" | "deepspeed stage N"
    ways: int = 1
    weights: bool = False
    grads: bool = False
    optimizer: bool = False
    offload_optimizer: bool = False
    deepspeed: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "ways": self.ways, "weights": self.weights, "grads": self.grads,
                "optimizer": self.optimizer, "offload_optimizer": self.offload_optimizer}


def sharding_for(strategy: str | None, devices: int) -> Sharding:
    """FSDP shards everything; DeepSpeed stage 1 the optimizer, 2 also gradients, 3 also weights; DDP nothing."""
    text = (strategy or "").lower()
    ways = max(devices, 1)
    offload = "offload" in text
    if "fsdp" in text:
        return Sharding("fsdp", ways, True, True, True, offload)
    if "deepspeed" in text:
        stage = next((int(ch) for ch in text if ch in "123"), DEEPSPEED_DEFAULT_STAGE)
        return Sharding(f"deepspeed stage {stage}", ways, stage >= 3, stage >= 2, True, offload, deepspeed=True)
    return Sharding("none")


@dataclass(frozen=True)
class Training:
    """What the code trains, as far as memory goes: the census and the facts the scan found."""

    census: ModelCensus
    optimizer: Optimizer = ADAM_ASSUMED
    init_module: bool = False  # the model is built under trainer.init_module() / fabric.init_module()
    sharding: Sharding = Sharding("none")

    @property
    def full_fine_tune(self) -> bool:
        return self.census.trainable_params >= self.census.params

    def with_sharding(self, sharding: Sharding) -> Training:
        return replace(self, sharding=sharding)

    def with_adapters(self) -> Training:
        """The same model with its base frozen and LoRA adapters of ADAPTER_SHARE trained (an assumption)."""
        census = self.census
        adapters = int(census.params * ADAPTER_SHARE)
        return replace(self, census=replace(census, name=f"{census.name} + adapters", params=census.params + adapters,
                                            trainable_params=adapters))


@dataclass(frozen=True)
class Estimate:
    """GiB per device of one candidate setting, by what holds the memory."""

    setting: str
    weights: float
    grads: float
    optimizer: float
    cache: float
    trainable_params: int

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.cache

    def fits(self, budget: float | None) -> bool | None:
        return None if budget is None else self.total <= budget

    def breakdown(self) -> dict:
        return {"weights": round(self.weights, 2), "grads": round(self.grads, 2),
                "optimizer": round(self.optimizer, 2), "cache": round(self.cache, 2),
                "trainable_params": self.trainable_params}


def _shard(value: float, sharded: bool, ways: int) -> float:
    return value / ways if sharded else value


def estimate(training: Training, setting: str) -> Estimate:
    """Weights, gradients, optimizer states and autocast cache per device of a precision or bitsandbytes mode."""
    census, optimizer, shard = training.census, training.optimizer, training.sharding
    params, trainable, linear = census.params, census.trainable_params, census.linear_params
    if setting in BNB_MODES:
        return _quantized(training, setting)
    half = setting in HALF_TRUE
    if shard.deepspeed and setting != "32-true":
        # ZeRO: the engine holds the model in 16 bit and the optimizer an fp32 master copy with fp32 states.
        weight_bytes, grad_bytes, state_bytes = 2, 2, 4 + optimizer.bytes_per_param(4)
    else:
        weight_bytes = grad_bytes = 2 if half else 4  # -mixed keeps fp32 weights; autocast casts per op
        state_bytes = optimizer.bytes_per_param(weight_bytes)
    # autocast caches the 16-bit copy of each trainable leaf weight it casts (nn.Linear), for the whole forward
    cache = 2 * min(trainable, linear) if setting in MIXED and not shard.deepspeed else 0
    optimizer_gib = 0.0 if shard.offload_optimizer else _shard(trainable * state_bytes / GIB, shard.optimizer,
                                                               shard.ways)
    return Estimate(
        setting,
        _shard(params * weight_bytes / GIB, shard.weights, shard.ways),
        _shard(trainable * grad_bytes / GIB, shard.grads, shard.ways),
        optimizer_gib,
        _shard(cache / GIB, shard.weights, shard.ways),
        trainable,
    )


def quantized_trainable(census: ModelCensus, mode: str) -> int:
    """Parameters that still train under the plugin: it freezes every nn.Linear it quantizes.

    Adapters are counted as trainable when they are not nn.Linear (litgpt's LoRA
    parameters); a full fine-tune keeps only its non-Linear parameters.
    """
    if mode == "int8-training":
        return census.trainable_params
    return min(census.trainable_params, census.params - census.linear_params)


def _quantized(training: Training, mode: str) -> Estimate:
    census, optimizer, shard = training.census, training.optimizer, training.sharding
    other_bytes = 2 if training.init_module else 4  # the plugin converts only nn.Linear; init_module() sets its dtype
    other = census.params - census.linear_params
    trainable = quantized_trainable(census, mode)
    grad_bytes = 2 if mode == "int8-training" else other_bytes
    weights = census.linear_params * BNB_BITS[mode] / 8 + other * other_bytes
    optimizer_gib = 0.0 if shard.offload_optimizer else _shard(
        trainable * optimizer.bytes_per_param(grad_bytes) / GIB, shard.optimizer, shard.ways)
    return Estimate(mode, _shard(weights / GIB, shard.weights, shard.ways),
                    _shard(trainable * grad_bytes / GIB, shard.grads, shard.ways), optimizer_gib, 0.0, trainable)


def devices_to_fit(training: Training, setting: str, budget: float, limit: int = 4096) -> int | None:
    """The fewest devices on which `setting` fits with FSDP (everything sharded), or None beyond `limit`."""
    whole = estimate(training.with_sharding(Sharding("fsdp", 1, True, True, True)), setting).total
    if budget <= 0:
        return None
    devices = max(2, math.ceil(whole / budget))
    return devices if devices <= limit else None


def per_billion(setting: str) -> tuple:
    """(weights, full training state) in GiB per billion parameters, all in nn.Linear, Adam assumed: for `env`."""
    census = ModelCensus("1B", 1_000_000_000, 1_000_000_000, 1_000_000_000)
    found = estimate(Training(census), setting)
    return round(found.weights, 2), round(found.total, 2)


def from_facts(file_facts: Iterable) -> tuple:
    """(optimizer, init_module) from what the scanner recorded in every file."""
    file_facts = list(file_facts)
    built = (optimizer_from(name, keywords) for f in file_facts for name, keywords in f.optimizers)
    return choose_optimizer(o for o in built if o is not None), any(f.init_module for f in file_facts)

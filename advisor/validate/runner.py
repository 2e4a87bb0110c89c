"""One candidate's training run; executes inside an isolated child process.

`run_candidate(payload)` seeds, builds the user's model and data, fits it
with Lightning's own `Trainer` at the candidate precision for warmup + steps
optimizer steps, and returns what a `StepRecorder` saw: the loss of every
step, GradScaler-skipped steps, step times and peak memory. torch and
Lightning are imported here only, never by the parent CLI.
"""
from __future__ import annotations

import importlib
import statistics
import sys
import time
from typing import Any

from advisor.isolation import report_progress
from advisor.modelload import ModelLoadError, load_model, resolve
from advisor.validate.candidates import is_bitsandbytes
from advisor.validate.machine import detect

SYNTHETIC_BATCHES = 16


def run_candidate(payload: dict) -> dict:
    """Train one candidate; payload keys: script, model, datamodule, synthetic, candidate, steps, warmup, seed."""
    import torch

    hardware = detect()
    loaded = _load(payload)
    framework = importlib.import_module(loaded.framework)
    on_gpu = hardware["device"] == "cuda"
    precision, plugin, description, note = _precision(payload["candidate"], framework, hardware)
    total = payload["warmup"] + payload["steps"]
    recorder = _recorder_class(framework.Callback)(payload["candidate"], total, on_gpu)
    trainer = framework.Trainer(
        accelerator="gpu" if on_gpu else "cpu", devices=1, precision=precision,
        plugins=[plugin] if plugin else None, max_steps=total, max_epochs=-1,
        limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[recorder],
    )
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(loaded.module, **_data(payload, loaded, framework))
    timed = recorder.times[payload["warmup"]:]
    step_time = statistics.median(timed) if timed else None
    return {
        "model": loaded.name,
        "hardware": hardware,
        "effective_precision": payload["candidate"] if plugin else str(trainer.precision),
        "plugin": description or type(trainer.precision_plugin).__name__,
        "note": note,
        "losses": recorder.losses,
        "skipped_steps": recorder.skipped,
        "step_time_s": step_time,
        "throughput": recorder.batch_size / step_time if step_time and recorder.batch_size else None,
        "peak_memory_bytes": torch.cuda.max_memory_allocated() if on_gpu else _peak_rss(),
    }


def _load(payload: dict):
    """Seed, then build the model, so every candidate starts from the same weights and batches."""
    import random

    import torch
    random.seed(payload["seed"])
    torch.manual_seed(payload["seed"])
    loaded = load_model(payload["script"], payload.get("model"))
    if loaded.framework is None:
        raise ModelLoadError(f"{loaded.name} is a plain nn.Module; validate needs a LightningModule to train")
    return loaded


def _precision(candidate: str, framework, hardware: dict) -> tuple[Any, Any, str, str]:
    """(precision=, plugin, plugin description, note) for the Trainer; bitsandbytes goes through a plugin."""
    if not is_bitsandbytes(candidate):
        return candidate, None, "", ""
    import torch
    capability = hardware.get("capability") or (0, 0)
    if candidate.startswith("int8"):
        dtype = torch.float16  # Lightning accepts nothing else for the int8 modes
    else:
        dtype = torch.bfloat16 if hardware["device"] == "cpu" or tuple(capability) >= (8, 0) else torch.float16
    plugin = framework.plugins.BitsandbytesPrecision(mode=candidate, dtype=dtype)
    description = f"BitsandbytesPrecision(mode={candidate!r}, dtype={dtype})"
    if hardware["device"] == "cuda":
        return None, plugin, description, ""
    note = ("Lightning refuses BitsandbytesPrecision on CPU; its same layer conversion ran through a plain "
            "Precision wrapper on bitsandbytes' CPU kernels (speed not representative of CUDA)")
    return None, _cpu_wrapper(framework, plugin), description + " via CPU wrapper", note


def _cpu_wrapper(framework, inner):
    """A Precision that is not a BitsandbytesPrecision (so no CUDA check) but converts the same way."""

    class CPUBitsandbytesPrecision(framework.plugins.precision.Precision):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def convert_module(self, module):
            return self.inner.convert_module(module)

        def tensor_init_context(self):
            return self.inner.tensor_init_context()

        def module_init_context(self):
            return self.inner.module_init_context()

        def forward_context(self):
            return self.inner.forward_context()

        def convert_input(self, data):
            return self.inner.convert_input(data)

        def convert_output(self, data):
            return self.inner.convert_output(data)

    return CPUBitsandbytesPrecision()


def _data(payload: dict, loaded, framework) -> dict:
    """fit() keyword arguments: a named datamodule, the model's own loader, or synthetic batches."""
    from lightning_utilities.core.overrides import is_overridden

    if payload.get("datamodule"):
        datamodule_class, _ = resolve(payload["script"], payload["datamodule"])
        return {"datamodule": datamodule_class()}
    if is_overridden("train_dataloader", loaded.module, parent=framework.LightningModule):
        return {}
    if not payload.get("synthetic"):
        raise ModelLoadError(f"{loaded.name} has no train_dataloader(); pass --datamodule module:Name, "
                             "or --synthetic to train on random batches shaped like example_input_array")
    return {"train_dataloaders": _synthetic_loader(loaded)}


def _synthetic_loader(loaded):
    """(input, target) batches: inputs shaped like example_input_array, targets like forward's output."""
    import torch
    from torch.utils.data import DataLoader

    example = loaded.example_input
    if not isinstance(example, torch.Tensor):
        raise ModelLoadError(f"{loaded.name}: --synthetic needs example_input_array to be one tensor")
    with torch.no_grad():
        target_like = loaded.module(example)
    batches = [(_like(example), torch.randn_like(target_like.float())) for _ in range(SYNTHETIC_BATCHES)]
    return DataLoader(batches, batch_size=None)


def _like(example):
    import torch
    if example.is_floating_point():
        return torch.randn_like(example)
    return torch.randint_like(example, int(example.max()) + 1)


def _recorder_class(callback_base):
    """A Callback subclass (of the model's own Lightning spelling) that records every step."""
    import torch

    class StepRecorder(callback_base):
        def __init__(self, candidate: str, total: int, on_gpu: bool):
            self.candidate, self.total, self.on_gpu = candidate, total, on_gpu
            self.losses: list[float] = []
            self.times: list[float] = []
            self.skipped = 0
            self.batch_size = None
            self._start = 0.0
            self._scale = None

        def on_train_start(self, trainer, pl_module):
            if not any(p.requires_grad for p in pl_module.parameters()):
                raise RuntimeError(f"{self.candidate} left no trainable parameter (Lightning's bitsandbytes "
                                   "conversion freezes every Linear layer, biases included)")

        def _sync(self):
            if self.on_gpu:
                torch.cuda.synchronize()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if self.batch_size is None:
                self.batch_size = _batch_size(batch)
            self._scale = _scale(trainer)
            self._sync()
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._sync()
            self.times.append(time.perf_counter() - self._start)
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            self.losses.append(float(loss.detach().float()) if isinstance(loss, torch.Tensor) else float("nan"))
            scale = _scale(trainer)
            if scale is not None and self._scale is not None and scale < self._scale:
                self.skipped += 1  # the GradScaler lowers its scale exactly when it skips a step
            report_progress(candidate=self.candidate, step=len(self.losses), total=self.total)

    return StepRecorder


def _scale(trainer):
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else None


def _batch_size(batch):
    import torch
    from torch.utils._pytree import tree_leaves
    for leaf in tree_leaves(batch):
        if isinstance(leaf, torch.Tensor) and leaf.dim() > 0:
            return int(leaf.shape[0])
    return None


def _peak_rss() -> int:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux

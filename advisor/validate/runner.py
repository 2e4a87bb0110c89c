"""One candidate's training run; executes inside an isolated child process.

`run_candidate(payload)` seeds, builds the user's model and data, fits it
with Lightning's own `Trainer` at the candidate precision for warmup + steps
optimizer steps, with the script's own Trainer arguments and matmul precision,
and returns what a `StepRecorder` saw. torch and Lightning are imported here
only, never by the parent CLI.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from advisor.isolation import report_progress
from advisor.lightning import strategy_family
from advisor.modelload import ModelLoadError, load_model, resolve
from advisor.validate import machine
from advisor.validate.candidates import is_bitsandbytes
from advisor.validate.recorder import recorder_class

SYNTHETIC_BATCHES = 16
ACCELERATORS = {"cuda": "gpu", "mps": "mps", "cpu": "cpu"}
GPU_ONLY_STRATEGIES = ("fsdp", "deepspeed", "xla", "model_parallel")


def run_candidate(payload: dict) -> dict:
    """Train one candidate; payload keys: script, model, datamodule, synthetic, candidate, steps, warmup, seed,
    trainer (carried Trainer arguments), matmul_precision, memory_limit (bytes).

    Under a multi-process strategy Lightning re-runs this child once per extra
    rank (LOCAL_RANK > 0); those ranks train and exit, rank 0 reports.
    """
    extra_rank = int(os.environ.get("LOCAL_RANK", "0")) > 0
    try:
        result = _run(payload, report=not extra_rank)
    except BaseException:
        if extra_rank:
            os._exit(1)
        raise
    if extra_rank:
        os._exit(0)  # never write the result file rank 0 writes
    return result


def _run(payload: dict, report: bool) -> dict:
    import torch

    hardware = machine.detect()
    device = hardware["device"]
    machine.pin_cpu_threads(device)
    machine.cap_memory(payload.get("memory_limit"), device)
    if payload.get("matmul_precision"):
        torch.set_float32_matmul_precision(payload["matmul_precision"])
    loaded = _load(payload)
    framework = importlib.import_module(loaded.framework)
    precision, plugin, description, note = _precision(payload["candidate"], framework, hardware)
    arguments, trainer_notes = trainer_arguments(payload.get("trainer") or {}, device)
    total = payload["warmup"] + payload["steps"]
    recorder = recorder_class(framework.Callback)(payload["candidate"], total, device, payload.get("memory_limit"),
                                                  report_progress if report else None)
    trainer = framework.Trainer(
        accelerator=ACCELERATORS[device], precision=precision, plugins=[plugin] if plugin else None,
        max_steps=total, max_epochs=-1, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[recorder],
        **{"devices": 1, **arguments},
    )
    machine.reset_device(device)
    trainer.fit(loaded.module, **_data(payload, loaded, framework))
    return {
        "model": loaded.name,
        "hardware": hardware,
        "effective_precision": payload["candidate"] if plugin else effective_precision(trainer, device),
        "plugin": description or type(trainer.precision_plugin).__name__,
        "note": note or None,
        "trainer_notes": trainer_notes,
        "matmul_precision": recorder.matmul_precision,
        "clock": recorder.clock_name,
        "threads": recorder.threads,
        "losses": recorder.losses,
        "step_times_s": recorder.times[payload["warmup"]:],
        "skipped_steps": recorder.skipped,
        "samples_per_step": recorder.batch_size * trainer.accumulate_grad_batches * trainer.world_size
        if recorder.batch_size else None,
        "peak_memory_bytes": machine.peak_memory(device),
    }


def trainer_arguments(carried: dict, device: str) -> tuple[dict, list[str]]:
    """The script's Trainer arguments as this machine can run them, and a note for each change.

    Spawned or forked DDP workers cannot hand per-step records back, so they run
    as `ddp` (same numerics); sharding strategies need a GPU and are dropped on
    a CPU.
    """
    arguments, notes = dict(carried), []
    strategy = arguments.get("strategy")
    if isinstance(strategy, str) and strategy_family(strategy) in GPU_ONLY_STRATEGIES and device != "cuda":
        del arguments["strategy"]
        notes.append(f"strategy={strategy!r} needs CUDA GPUs; ran without it on {device}")
    elif isinstance(strategy, str) and any(word in strategy for word in ("spawn", "fork", "notebook")):
        arguments["strategy"] = "ddp"
        notes.append(f"strategy={strategy!r} ran as 'ddp' (same numerics; spawned workers cannot report steps)")
    return arguments, notes


def effective_precision(trainer, device: str) -> str:
    """The precision Lightning actually ran: its fallbacks (16-mixed on CPU runs as bf16-mixed) and
    autocast on another device type than the accelerator's (a no-op: fp32) show here."""
    plugin = trainer.precision_plugin
    ran = str(getattr(plugin, "precision", trainer.precision))
    autocast_device = getattr(plugin, "device", None)
    if ran.endswith("-mixed") and autocast_device and autocast_device != device:
        return "32-true"
    return ran


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

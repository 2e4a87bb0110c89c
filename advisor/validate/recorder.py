"""The callback that records a validation run, one entry per optimizer step.

With `accumulate_grad_batches=k` one optimizer step spans k batches: its loss
is the mean of theirs (Lightning hands each batch's loss over already divided
by k, so they are summed) and its time the sum of theirs. A GradScaler skip is
seen as a drop of the scale across the step; on CUDA the peak allocated memory
is checked against the cap after every step. On a CPU a step is timed by the
process's CPU time (the runner pins one thread): time spent descheduled by
other processes on a shared machine is not the step's.
"""
from __future__ import annotations

import time
from collections.abc import Callable


def recorder_class(callback_base):
    """A Callback subclass (of the model's own Lightning spelling) that records every optimizer step."""
    import torch

    class StepRecorder(callback_base):
        def __init__(self, candidate: str, total: int, device: str, memory_cap: int | None,
                     report: Callable[..., None] | None):
            self.candidate, self.total, self.device = candidate, total, device
            self.memory_cap = memory_cap if device == "cuda" else None  # the CPU cap is RLIMIT_AS
            self.report = report
            self.losses: list[float] = []
            self.times: list[float] = []
            self.skipped = 0
            self.batch_size = None
            self.matmul_precision = None
            self.threads = None
            self.clock_name, self._clock = ("process CPU time", time.process_time) if device == "cpu" else \
                ("wall clock", time.perf_counter)
            self._loss = self._time = self._start = 0.0
            self._step = 0
            self._scale = None

        def on_train_start(self, trainer, pl_module):
            if not any(p.requires_grad for p in pl_module.parameters()):
                raise RuntimeError(f"{self.candidate} left no trainable parameter (Lightning's bitsandbytes "
                                   "conversion freezes every Linear layer, biases included)")
            self.matmul_precision = torch.get_float32_matmul_precision()
            self.threads = torch.get_num_threads()
            self._step = trainer.global_step

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if self.batch_size is None:
                self.batch_size = _batch_size(batch)
            if self._scale is None:
                self._scale = _scale(trainer)
            _synchronize(self.device)
            self._start = self._clock()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            _synchronize(self.device)
            self._time += self._clock() - self._start
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            self._loss += float(loss.detach().float()) if isinstance(loss, torch.Tensor) else float("nan")
            if trainer.global_step > self._step:  # the optimizer stepped: close the step
                self._close(trainer)

        def _close(self, trainer):
            self.losses.append(self._loss)
            self.times.append(self._time)
            scale = _scale(trainer)
            if scale is not None and self._scale is not None and scale < self._scale:
                self.skipped += 1  # the GradScaler lowers its scale exactly when it skips a step
            self._loss = self._time = 0.0
            self._scale, self._step = None, trainer.global_step
            if self.memory_cap:
                _check_memory(self.memory_cap)
            if self.report:
                self.report(candidate=self.candidate, step=len(self.losses), total=self.total)

    return StepRecorder


def _synchronize(device: str) -> None:
    """Wait for the device, so a step's time includes its kernels."""
    import torch
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def _check_memory(cap: int) -> None:
    import torch
    peak = torch.cuda.max_memory_allocated()
    if peak > cap:
        raise MemoryError(f"peak GPU memory {peak / 2**20:,.0f} MiB is over the {cap / 2**20:,.0f} MiB cap")


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

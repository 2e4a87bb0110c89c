"""What PrecisionAdvisor costs a real fit: the recorded step, and every later step.

    python benchmarks/callback_overhead.py

Runs tests/models/callback_fits.py's Scatter model with bf16-mixed on CPU for
STEPS steps, twice in this process: without the callback (the baseline) and
with `PrecisionAdvisor()`. A Callback times each training batch (start to end,
CPU seconds of this process). Printed: the recorded (first) step and the
median of the later steps, each against the baseline's same step, as ratios.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = 40


def _timer_class(base):
    class StepTimer(base):
        def __init__(self):
            self.times, self._start = [], 0.0

        def on_train_batch_start(self, *args):
            self._start = time.process_time()

        def on_train_batch_end(self, *args):
            self.times.append(time.process_time() - self._start)

    return StepTimer


def _fit(with_advisor: bool) -> list:
    import lightning as L
    import torch
    from callback_fits import Scatter
    from torch.utils.data import DataLoader, TensorDataset

    from advisor import PrecisionAdvisor

    torch.manual_seed(0)
    timer = _timer_class(L.Callback)()
    callbacks = [timer] + ([PrecisionAdvisor()] if with_advisor else [])
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(precision="bf16-mixed", accelerator="cpu", max_steps=STEPS, logger=False,
                            enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                            default_root_dir=root, callbacks=callbacks)
        x, index = torch.randn(8 * STEPS, 8), torch.randint(0, 4, (8 * STEPS,))
        trainer.fit(Scatter(), DataLoader(TensorDataset(x, index), batch_size=8))
    return timer.times


def main() -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "models")]
    _fit(False)  # warm-up: imports, first-call caches
    base, advised = _fit(False), _fit(True)
    later_base, later = statistics.median(base[1:]), statistics.median(advised[1:])
    print(f"{STEPS} steps, Scatter model, bf16-mixed on CPU, CPU seconds per step")
    print(f"  recorded step: {advised[0] * 1e3:8.2f} ms  baseline first step {base[0] * 1e3:8.2f} ms  "
          f"ratio {advised[0] / base[0]:6.1f}")
    print(f"  later steps (median): {later * 1e3:8.3f} ms  baseline {later_base * 1e3:8.3f} ms  "
          f"ratio {later / later_base:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

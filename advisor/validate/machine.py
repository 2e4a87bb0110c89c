"""What the child runs on, the advisor's picks for it, and the device chores of a run.

Read inside the child (torch is imported there only); the CPU side reuses
`advisor.hardware.detect`, the advice `advisor.hardware.recommend`, so `validate` tries what
`check --gpu` would recommend for the same hardware.
"""
from __future__ import annotations

import platform
import sys

from advisor.hardware import detect as machine_detect
from advisor.hardware import table as hardware


def detect() -> dict:
    """{"device": "cuda"|"mps"|"cpu", "name", "capability": [major, minor] | None, "cpu_bf16", "torch"}."""
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0),
                "capability": list(torch.cuda.get_device_capability(0)), "cpu_bf16": None,
                "torch": torch.__version__}
    if torch.backends.mps.is_available():
        return {"device": "mps", "name": f"Apple {platform.machine()} GPU (MPS)", "capability": None,
                "cpu_bf16": None, "torch": torch.__version__}
    cpu, _ = machine_detect.detect_cpu()
    return {"device": "cpu", "name": cpu.model, "capability": None, "cpu_bf16": cpu.bf16_native,
            "torch": torch.__version__}


def target_for(found: dict) -> hardware.Gpu:
    """The hardware-table row for what `detect` found (a capability-only row for unknown GPUs)."""
    if found["device"] == "mps":
        return hardware.lookup("mps")
    if found["device"] != "cuda":
        return hardware.cpu(bool(found["cpu_bf16"]), found["name"])
    row = hardware.match_vendor_name(found["name"])
    return row or hardware.from_capability(found["name"], tuple(found["capability"]), None)


def advised(target: hardware.Gpu) -> list[str]:
    """The advisor's recommendation and alternatives for this hardware, best first."""
    from advisor.hardware.recommend import recommend

    recommendation = recommend(target)
    picks = [recommendation.precision, *recommendation.alternatives]
    return [pick for pick in picks if pick and pick != "transformer-engine"]  # TE needs its own install


def cap_memory(limit: int | None, device: str) -> None:
    """Cap the run's memory: CUDA's allocator by a fraction of the device (CUDA reserves far more
    address space than it uses, so RLIMIT_AS would fail it at start-up), else the address space."""
    if not limit:
        return
    if device == "cuda":
        import torch
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), 0)
        return
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not supported on this OS (Windows; macOS ignores RLIMIT_AS)


def pin_cpu_threads(device: str) -> None:
    """Train on a CPU with one intra-op thread, so neighbours on a shared machine cannot stall it.

    A team of OpenMP threads spins at every barrier while one of its threads
    waits for a core: a 2 ms step took 50-150 ms (wall and CPU time alike) next
    to one busy process on two cores. One thread, timed by CPU time, keeps the
    ratio between precisions. OMP_NUM_THREADS stops Lightning's DDP setting its own.
    """
    if device != "cpu":
        return
    import os

    import torch
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def reset_device(device: str) -> None:
    """Start the run from a clean device: every candidate has its own process (a fresh CUDA
    context); this also clears the allocator cache and the peak counter before timing."""
    if device == "cuda":
        import torch
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory(device: str) -> int:
    """Peak bytes: CUDA's allocator peak on a GPU, else the process's peak RSS (MPS memory is unified)."""
    if device == "cuda":
        import torch
        return torch.cuda.max_memory_allocated()
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux

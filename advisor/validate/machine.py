"""What the child runs on, and the advisor's picks for it.

Read inside the child (torch is imported there only); the CPU side reuses
`advisor.hardware.detect`, the advice `advisor.hardware.recommend`, so `validate` tries what
`check --gpu` would recommend for the same hardware.
"""
from __future__ import annotations

from advisor.hardware import detect as machine_detect
from advisor.hardware import table as hardware


def detect() -> dict:
    """{"device": "cuda"|"cpu", "name", "capability": [major, minor] | None, "cpu_bf16", "torch"}."""
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0),
                "capability": list(torch.cuda.get_device_capability(0)), "cpu_bf16": None,
                "torch": torch.__version__}
    cpu, _ = machine_detect.detect_cpu()
    return {"device": "cpu", "name": cpu.model, "capability": None, "cpu_bf16": cpu.bf16_native,
            "torch": torch.__version__}


def target_for(found: dict) -> hardware.Gpu:
    """The hardware-table row for what `detect` found (a capability-only row for unknown GPUs)."""
    if found["device"] != "cuda":
        return hardware.cpu(bool(found["cpu_bf16"]), found["name"])
    row = hardware.match_vendor_name(found["name"])
    return row or hardware.from_capability(found["name"], tuple(found["capability"]), None)


def advised(found: dict) -> list[str]:
    """The advisor's recommendation and alternatives for this hardware, best first."""
    from advisor.hardware.recommend import recommend

    recommendation = recommend(target_for(found))
    picks = [recommendation.precision, *recommendation.alternatives]
    return [pick for pick in picks if pick and pick != "transformer-engine"]  # TE needs its own install

"""What the child runs on: device kind, name and compute capability.

Read inside the child (torch is imported there only). The lead will later
replace this with `advisor.hardware` detection; the dict shape is the
`hardware` object of the JSON report.
"""
from __future__ import annotations

import platform


def detect() -> dict:
    """{"device": "cuda"|"cpu", "name", "capability": [major, minor] | None, "cpu_bf16", "torch"}."""
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0),
                "capability": list(torch.cuda.get_device_capability(0)), "cpu_bf16": None,
                "torch": torch.__version__}
    info = _cpuinfo()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    # AVX512-BF16 or AMX: bf16 matmuls run natively rather than through conversions.
    return {"device": "cpu", "name": name, "capability": None,
            "cpu_bf16": "avx512_bf16" in info or "amx_bf16" in info, "torch": torch.__version__}


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            return stream.read()
    except OSError:  # not Linux
        return ""

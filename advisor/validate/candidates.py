"""Which precisions a validation run compares, and how each name is spelled.

A candidate is a Lightning precision value ("bf16-mixed") or a bitsandbytes
mode ("nf4", "int8"...); `32-true` is always run first as the baseline.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

BASELINE = "32-true"
PRECISIONS = ("64-true", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "transformer-engine")
BNB_MODES = ("nf4", "nf4-dq", "fp4", "fp4-dq", "int8", "int8-training")


def default_candidates(device_kind: str, capability: Sequence[int] | None = None,
                       extra: Iterable[str] = ()) -> list[str]:
    """The alternatives worth trying on this hardware, `extra` (the advisor's picks) first.

    GPU >= 8.0: bf16-mixed, 16-mixed, bf16-true; 7.x: 16-mixed, 16-true (bf16 is
    emulated there); Apple MPS: 16-mixed, bf16-mixed (macOS 14+); CPU: bf16-mixed, bf16-true.
    """
    if device_kind == "cuda" and capability and tuple(capability) >= (8, 0):
        hardware = ["bf16-mixed", "16-mixed", "bf16-true"]
    elif device_kind == "cuda":
        hardware = ["16-mixed", "16-true"]
    elif device_kind == "mps":
        hardware = ["16-mixed", "bf16-mixed"]
    else:
        hardware = ["bf16-mixed", "bf16-true"]
    return with_baseline([*extra, *hardware])


def with_baseline(candidates: Iterable[str]) -> list[str]:
    """The baseline first, then each candidate once, in order."""
    return list(dict.fromkeys([BASELINE, *candidates]))


def parse_candidates(text: str) -> list[str]:
    """Split `a,b,c` and check every name; ValueError names the bad one and the closest."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("--candidates is empty")
    known = PRECISIONS + BNB_MODES
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; choose from {', '.join(known)}"
            raise ValueError(f"unknown candidate {name!r}{hint}")
    return with_baseline(names)


def is_bitsandbytes(candidate: str) -> bool:
    return candidate in BNB_MODES

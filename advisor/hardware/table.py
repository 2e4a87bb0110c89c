"""The hardware table (`advisor/hardware/gpus.toml`) and the names that pick a row.

Hardware is data so that the advisor stays a pure function: `--gpu a100`,
a detected "NVIDIA A100-SXM4-80GB" and a test all end up as the same `Gpu`.
"""
from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TABLE_PATH = Path(__file__).resolve().parent / "gpus.toml"
KINDS = ("cuda", "rocm", "mps", "cpu")
TFLOPS_KEYS = ("fp32", "tf32", "fp16", "bf16", "fp8")


class UnknownGpu(ValueError):
    """A --gpu name that matches no table row; the message lists the closest names."""


@dataclass(frozen=True)
class Gpu:
    """One compute device: a table row, or a detected device filled from one."""

    key: str
    name: str
    vendor: str
    kind: str  # cuda | rocm | mps | cpu
    aliases: tuple = ()
    patterns: tuple = ()
    compute_capability: tuple | None = None  # (major, minor) on NVIDIA
    arch: str = ""  # gfx90a... on AMD
    memory_gib: float | None = None
    bf16_native: bool = False
    fp8: bool = False
    bnb_fast_int8: bool = False
    tflops: dict = field(default_factory=dict, hash=False, compare=False)
    source: str = ""
    note: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.kind != "cpu"

    @property
    def capability_text(self) -> str:
        if self.compute_capability:
            return "{}.{}".format(*self.compute_capability)
        return self.arch or "-"

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "vendor": self.vendor,
            "kind": self.kind,
            "compute_capability": self.capability_text if self.compute_capability else None,
            "arch": self.arch or None,
            "memory_gib": self.memory_gib,
            "bf16_native": self.bf16_native,
            "fp8": self.fp8,
            "bnb_fast_int8": self.bnb_fast_int8,
            "tflops": dict(self.tflops),
            "source": self.source,
            "note": self.note or None,
        }


def _row(raw: dict) -> Gpu:
    cc = raw.get("compute_capability")
    return Gpu(
        key=raw["key"],
        name=raw["name"],
        vendor=raw["vendor"],
        kind=raw["kind"],
        aliases=tuple(raw.get("aliases", ())),
        patterns=tuple(raw.get("patterns", ())),
        compute_capability=tuple(cc) if cc else None,
        arch=raw.get("arch", ""),
        memory_gib=raw.get("memory_gib"),
        bf16_native=raw["bf16_native"],
        fp8=raw["fp8"],
        bnb_fast_int8=raw["bnb_fast_int8"],
        tflops={k: float(v) for k, v in raw.get("tflops", {}).items()},
        source=raw["source"],
        note=raw.get("note", ""),
    )


@cache
def table() -> tuple:
    """Every row of the shipped table, in file order."""
    data = tomllib.loads(TABLE_PATH.read_text(encoding="utf-8"))
    return tuple(_row(raw) for raw in data["gpu"])


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def match_vendor_name(name: str) -> Gpu | None:
    """The row whose pattern matches the longest part of a vendor name, or None."""
    lowered = name.lower()
    best, best_len = None, 0
    for gpu in table():
        for pattern in gpu.patterns:
            found = re.search(pattern, lowered)
            if found and len(found.group(0)) > best_len:
                best, best_len = gpu, len(found.group(0))
    return best


def lookup(name: str) -> Gpu:
    """A row by key, alias or vendor name, case-insensitively; UnknownGpu otherwise."""
    wanted = _squash(name)
    for gpu in table():
        if wanted in {_squash(gpu.key), *(_squash(alias) for alias in gpu.aliases)}:
            return gpu
    found = match_vendor_name(name) if wanted else None
    if found:
        return found
    raise UnknownGpu(f"unknown GPU {name!r}; closest known names: {', '.join(closest_names(name))}")


def known_names() -> list:
    """Every key and alias, for help texts and suggestions."""
    names = []
    for gpu in table():
        for candidate in (gpu.key, *gpu.aliases):
            if candidate not in names:
                names.append(candidate)
    return names


def closest_names(name: str, count: int = 5) -> list:
    names = known_names()
    close = difflib.get_close_matches(name.lower(), names, n=count, cutoff=0.3)
    return close or names[:count]


def from_capability(name: str, capability: tuple, memory_gib: float | None) -> Gpu:
    """A CUDA device missing from the table, described by its capability alone."""
    major_minor = tuple(capability)
    return Gpu(
        key=_squash(name) or "cuda",
        name=name,
        vendor="nvidia",
        kind="cuda",
        compute_capability=major_minor,
        memory_gib=memory_gib,
        bf16_native=major_minor >= (8, 0),
        fp8=major_minor >= (8, 9),
        bnb_fast_int8=major_minor >= (7, 5),
        note="not in the hardware table: features inferred from the compute capability",
    )


def cpu(bf16_native: bool, name: str = "", memory_gib: float | None = None) -> Gpu:
    """The CPU row that matches the native-bf16 flag, with the machine's name and memory."""
    row = lookup("cpu-bf16" if bf16_native else "cpu")
    return replace(row, name=name or row.name, memory_gib=memory_gib)


def weakest(gpus) -> Gpu:
    """The device to advise for when several are present.

    Precision must work on the lowest compute capability (or the one without
    native bf16) and the model must fit on the smallest memory, so the result
    is the least capable device with the smallest memory of them all.
    """
    gpus = list(gpus)
    if not gpus:
        raise ValueError("no device to choose from")
    least = min(gpus, key=lambda g: (g.bf16_native, g.compute_capability or (99, 0), g.fp8, g.memory_gib or 0))
    memories = [g.memory_gib for g in gpus if g.memory_gib is not None]
    if memories and least.memory_gib is not None and min(memories) < least.memory_gib:
        return replace(least, memory_gib=min(memories))
    return least

"""Raw op facts as the child sends them: JSON-able dicts, one per op and place.

Both tracers (torch.fx and the dispatch recorder) describe an op the same
way here, so the parent turns either into the same `OpSite`s. A frame list
is (path, line, function) from the outermost call to the op; torch's own
frames and ours are machinery and are dropped, and the op is placed at the
innermost frame of the user's code (outside installed libraries), with the
library frames below it kept as the chain.
"""
from __future__ import annotations

import os
import sysconfig
from functools import cache, lru_cache
from pathlib import Path

_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (p := sysconfig.get_paths().get(key))
)
_ADVISOR_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_STATIC_TYPES = (bool, int, float, str, type(None))


@cache
def _resolved(path: str) -> str:
    return path if path.startswith("<") else str(Path(path).resolve())


@lru_cache(maxsize=1)
def _torch_dir() -> str:
    import torch

    return str(Path(torch.__file__).resolve().parent) + os.sep


def machinery(path: str) -> bool:
    """Frames that are torch, prec-advisor, or generated code without a file."""
    return path.startswith("<") or path.startswith((_torch_dir(), _ADVISOR_DIR))


def static_value(value):
    """(True, value as the static checker would record it), or (False, None) when not static."""
    import torch

    if isinstance(value, torch.dtype):
        return True, str(value)
    if isinstance(value, _STATIC_TYPES):
        return True, value
    return False, None


def locate(frames: list) -> dict:
    """path, line, function and chain of an op from its (path, line, function) frames."""
    kept = [(_resolved(p), line, func) for p, line, func in frames if not machinery(_resolved(p))]
    if not kept:
        return {}
    user = [i for i, (path, _, _) in enumerate(kept) if not path.startswith(_LIBRARY_DIRS)]
    at = user[-1] if user else len(kept) - 1
    path, line, func = kept[at]
    chain = [f"{p}:{n} ({f})" for p, n, f in kept[at + 1:]]
    return {"path": path, "line": line, "function": func, "chain": chain}


def raw_site(kind: str, op: str, frames: list, positional=(), keywords=None, **extra) -> dict:
    """One op fact; `positional` values become "#i" keys as in the static checker."""
    where = locate(frames)
    if not where:
        return {}
    static, dynamic = {}, []
    named = {f"#{i}": v for i, v in enumerate(positional)}
    named.update(keywords or {})
    for key, value in named.items():
        ok, text = static_value(value)
        if ok:
            static[key] = text
        else:
            dynamic.append(key)
    return {"kind": kind, "op": op, **where, "keywords": static, "dynamic": dynamic, **extra}


class SiteSet:
    """Op facts without repeats: a layer run 32 times is one site."""

    def __init__(self):
        self._sites: dict = {}

    def add(self, site: dict) -> None:
        if site:
            key = repr(sorted((k, repr(v)) for k, v in site.items()))
            self._sites.setdefault(key, site)

    def list(self) -> list:
        return list(self._sites.values())

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
from functools import cache, lru_cache
from pathlib import Path

from advisor.userpaths import is_user_file

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
    """Frames of torch and prec-advisor: how the op was called, not who called it."""
    return path.startswith((_torch_dir(), _ADVISOR_DIR))


def _layer_name(function: str) -> str:
    """`GCNConv.propagate` for a library frame; wrappers (`<locals>`) and `__call__` say nothing."""
    return "" if "<locals>" in function or function.endswith("__call__") else function


def static_value(value):
    """(True, value as the static checker would record it), or (False, None) when not static."""
    import torch

    if isinstance(value, torch.dtype):
        return True, str(value)
    if isinstance(value, _STATIC_TYPES):
        return True, value
    return False, None


def locate(frames: list) -> dict:
    """path, line, function and chain of an op from its (path, line, function) frames.

    The op is placed at the innermost frame in the user's project (`advisor.userpaths`);
    the library layers called from there form the chain (`GCNConv.forward`, `scatter`).
    With no project frame at all (a library model) the path is None: the caller places it.
    """
    kept = [(_resolved(p), line, func) for p, line, func in frames if not machinery(_resolved(p))]
    user = [i for i, (path, _, _) in enumerate(kept) if is_user_file(path)]
    if user:
        path, line, func = kept[user[-1]]
        below = kept[user[-1] + 1:]
    else:
        path, line, func, below = None, 0, None, kept
    chain = []
    for _, _, name in below:
        name = _layer_name(name)
        if name and name not in chain[-1:]:
            chain.append(name)
    return {"path": path, "line": line, "function": func, "chain": chain}


def raw_site(kind: str, op: str, frames: list, positional=(), keywords=None, **extra) -> dict:
    """One op fact; `positional` values become "#i" keys as in the static checker."""
    where = locate(frames)
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

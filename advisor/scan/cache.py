"""Per-file results cached by content hash, tool build and rule set, as plain JSON.

A second `check .` of an unchanged tree reads each file, hashes it and loads
its entry instead of parsing it; an edited file misses and is scanned again.
The project-wide judgement still runs over every file's facts. Entries hold
only data (a closed set of dataclasses, never pickle): a planted file can at
worst be ignored. A corrupt or unreadable entry is a miss, never an error.

Entries live in one folder per tool build and rule set, so the cache stays bounded: at most once
a day a run deletes the folders of other builds it has not seen used for a day, and its own
entries not rewritten for 30 days (an edited file leaves its old entry behind).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from advisor import __version__
from advisor.checks.registry import Hit
from advisor.facts import (
    NOT_STATIC,
    AmpFacts,
    Argument,
    CallEdge,
    ClassInfo,
    FileFacts,
    FunctionInfo,
    Literal,
    OpSite,
    PluginCall,
    Setting,
    Span,
)
from advisor.findings import Edit, Finding, Fix

FORMAT = 2  # bump when the entry layout changes
PRUNE_EVERY_S = 24 * 3600  # how often a run tidies the cache folder up
OTHER_BUILD_UNUSED_S = 24 * 3600  # another build's folder, untouched for this long, goes
ENTRY_UNUSED_S = 30 * 24 * 3600  # an entry of this build not written for this long goes
MARKER = ".last-used"  # in a build's folder: its mtime is when a run last used it
TYPES = {cls.__name__: cls for cls in (Span, Argument, Literal, PluginCall, Setting, OpSite, FileFacts, FunctionInfo,
                                       CallEdge, ClassInfo, Finding, Fix, Edit, AmpFacts, Hit)}


class CorruptEntry(ValueError):
    """An entry that does not decode into the known types."""


def default_folder() -> Path:
    """$PREC_ADVISOR_CACHE_DIR, else the user's cache folder (XDG), else ~/.cache."""
    explicit = os.environ.get("PREC_ADVISOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "prec-advisor"


def _build_fingerprint() -> str:
    """The tool version plus its own files' sizes and times: a development build that changed is a new tool."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{__version__}/{FORMAT}".encode())
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if value is NOT_STATIC:
        return {"$": "NOT_STATIC"}
    if dataclasses.is_dataclass(value) and type(value).__name__ in TYPES:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$": type(value).__name__, **fields}
    if isinstance(value, tuple):
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$fs": [encode(v) for v in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$m": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        raise CorruptEntry(f"unexpected {type(value).__name__}")
    if "$t" in value:
        return tuple(decode(v) for v in value["$t"])
    if "$fs" in value:
        return frozenset(decode(v) for v in value["$fs"])
    if "$m" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["$m"]}
    kind = value.get("$")
    if kind == "NOT_STATIC":
        return NOT_STATIC
    cls = TYPES.get(kind)
    if cls is None:
        raise CorruptEntry(f"unknown type {kind!r}")
    try:
        return cls(**{k: decode(v) for k, v in value.items() if k != "$"})
    except TypeError as exc:
        raise CorruptEntry(str(exc)) from None


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


class FileCache:
    """Entries under one folder, keyed by (build, rule set, path, content)."""

    def __init__(self, folder: Path, salt: str):
        self.root = folder
        self.salt = hashlib.sha256(f"{_build_fingerprint()}/{salt}".encode()).hexdigest()
        self.folder = folder / self.salt[:16]

    def prune(self, now: float | None = None) -> None:
        """Mark this build's folder used and, at most once a day, delete what no run uses any more:
        other builds' folders untouched for a day, this build's entries not written for 30 days."""
        now = time.time() if now is None else now
        marker = self.folder / MARKER
        try:
            last = marker.stat().st_mtime
        except OSError:
            last = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker.touch()
            if last is not None and now - last < PRUNE_EVERY_S:
                return
            for other in self.root.iterdir():
                if other != self.folder and other.is_dir() and now - _last_used(other) > OTHER_BUILD_UNUSED_S:
                    shutil.rmtree(other, ignore_errors=True)
            for entry in self.folder.glob("*/*.json"):
                if now - entry.stat().st_mtime > ENTRY_UNUSED_S:
                    entry.unlink(missing_ok=True)
        except OSError:
            return  # a read-only or vanished cache folder costs the run nothing

    def key(self, path: str, raw: bytes, names=()) -> str:
        """`names` are the project wrappers that decided whether the file was parsed."""
        digest = hashlib.sha256(self.salt.encode())
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0" + repr(list(names)).encode() + b"\0")
        digest.update(raw)
        return digest.hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> dict | None:
        """The stored fields of a result, or None (missing, unreadable, or corrupt)."""
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("key") != key:
                return None
            return {name: decode(value) for name, value in data["result"].items()}
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def put(self, key: str, result: dict) -> None:
        """Store atomically (a concurrent run reads the old entry or the new one); failures are ignored."""
        target = self._file(key)
        try:
            text = json.dumps({"key": key, "result": {name: encode(value) for name, value in result.items()}})
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, target)
        except (OSError, TypeError, ValueError):
            return


def _last_used(folder: Path) -> float:
    """When a run last used a build's folder (its marker), else when the folder last changed."""
    try:
        return (folder / MARKER).stat().st_mtime
    except OSError:
        return folder.stat().st_mtime

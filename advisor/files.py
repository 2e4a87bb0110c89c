"""Which files a run checks: the paths given, minus default and user excludes."""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterator

SOURCE_SUFFIXES = (".py", ".pyi")


def _excluded(path: Path, patterns: tuple, root: Path) -> bool:
    name = path.name
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = path.as_posix()
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relative, p) or
               fnmatch.fnmatchcase(relative, p.rstrip("/") + "/*") for p in patterns)


def collect(paths: list[str], patterns: tuple, root: Path) -> Iterator[Path]:
    """Files under `paths`, in a stable order. Explicit files are always checked,
    as ruff does, so a pre-commit hook never silently drops a staged file."""
    seen = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for folder, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not _excluded(Path(folder, d), patterns, root))
                for name in sorted(files):
                    candidate = Path(folder, name)
                    if candidate.suffix in SOURCE_SUFFIXES and not _excluded(candidate, patterns, root):
                        key = os.path.normpath(candidate)
                        if key not in seen:
                            seen.add(key)
                            yield candidate
        else:
            key = os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                yield path

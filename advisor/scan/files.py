"""Which files a run checks: the paths given, minus default and user excludes."""
from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

SOURCE_SUFFIXES = (".py", ".pyi", ".yaml", ".yml")


def _excluded(path: Path, patterns: tuple, root: Path) -> bool:
    """A pattern without a slash matches a file or folder name met during the walk;
    one with a slash matches the path relative to the config's folder."""
    try:
        # realpath, unlike Path.resolve, does not raise on a symlink loop (that file is reported when read)
        relative = Path(os.path.realpath(path)).relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        relative = None
    for pattern in patterns:
        if "/" not in pattern.rstrip("/"):
            if fnmatch.fnmatchcase(path.name, pattern.rstrip("/")):
                return True
        elif relative is not None and (fnmatch.fnmatchcase(relative, pattern.rstrip("/"))
                                       or fnmatch.fnmatchcase(relative, pattern.rstrip("/") + "/*")):
            return True
    return False


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


def module_name_for(path: str) -> str:
    """The dotted module a file would import as: parents with __init__.py are packages."""
    file = Path(path)
    parts = [file.stem] if file.stem != "__init__" else []
    parent = file.parent
    while (parent / "__init__.py").is_file() and parent != parent.parent:
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts) or file.stem

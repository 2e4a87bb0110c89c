"""Which files are the user's project and which are libraries, wherever they are installed.

A traced op and a user error are placed in the user's code: a file on disk
inside the checked project (its roots: the checked folders, the scripts'
folders, the config's folder). Everything else is a library: the stdlib,
any site-packages or dist-packages (system, user, virtualenv), a package on
PYTHONPATH outside the project, generated code (PyG writes its `propagate`
into a temp folder), frames without a file. With no roots known (an error
raised outside a trace), every file on disk outside those is the user's.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

_INSTALL_FOLDERS = ("site-packages", "dist-packages")
_ADVISOR_DIR = str(Path(__file__).resolve().parent)
_roots: tuple = ()


def _folder(path: str) -> str:
    return str(Path(path).resolve()) + os.sep


def _library_dirs() -> tuple:
    paths = [p for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_paths().get(key))]
    paths += list(getattr(site, "getsitepackages", lambda: [])())
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    paths += [user_site] if user_site else []
    paths += [sys.prefix, sys.base_prefix] if sys.prefix != sys.base_prefix else []  # a venv is installed code
    return tuple(sorted({_folder(p) for p in paths}))


LIBRARY_DIRS = _library_dirs()


def set_roots(roots) -> None:
    """The checked project's folders (resolved); files outside them are libraries."""
    global _roots
    _roots = tuple(sorted({_folder(r) for r in roots}))
    is_user_file.cache_clear()


def project_roots(paths, config_root=None) -> list:
    """Roots for the checked `paths`: each folder, each file's folder, and the config's folder."""
    roots = [str(config_root)] if config_root else []
    roots += [p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths if p != "-"]
    return roots


@lru_cache(maxsize=4096)
def is_user_file(path: str) -> bool:
    """A file on disk, in the project, not installed code and not prec-advisor itself."""
    if not path or path.startswith("<") or not os.path.isfile(path):
        return False
    resolved = str(Path(path).resolve())
    parts = Path(resolved).parts
    if any(folder in parts for folder in _INSTALL_FOLDERS) or resolved.startswith(LIBRARY_DIRS):
        return False
    if resolved.startswith(_ADVISOR_DIR + os.sep):
        return False
    return not _roots or resolved.startswith(_roots)

"""Module resolution for a checked tree: which file a dotted name lives in.

Import roots are the checked tree's top folder, its `src/`, the folder above
each top-level package (the chain of `__init__.py`), the package folders a
pyproject's setuptools/hatch settings declare, and for each importer its own
folder (Python puts a script's folder first on `sys.path`). A name defined
nowhere in a module is followed through that module's imports and star
imports (honouring `__all__`). The index is built from the facts the scan
already recorded: no file is parsed again.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from advisor.facts import FileFacts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE_SUFFIXES = (".py", ".pyi")
MAX_HOPS = 24  # re-export chains longer than this are cycles


def _dotted(relative: Path) -> str | None:
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def declared_roots(top: Path) -> list[Path]:
    """Package folders `[tool.setuptools]` (package-dir, packages.find.where) or hatch's wheel
    `packages` declare in the tree's pyproject.toml."""
    try:
        data = tomllib.loads((top / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    tool = data.get("tool", {}) if isinstance(data, dict) else {}
    setuptools = tool.get("setuptools", {}) if isinstance(tool, dict) else {}
    roots = []
    package_dir = setuptools.get("package-dir", {}) if isinstance(setuptools, dict) else {}
    if isinstance(package_dir, dict) and isinstance(package_dir.get(""), str):
        roots.append(top / package_dir[""])
    packages = setuptools.get("packages", {}) if isinstance(setuptools, dict) else {}
    find = packages.get("find", {}) if isinstance(packages, dict) else {}
    for where in (find.get("where", []) if isinstance(find, dict) else []):
        if isinstance(where, str):
            roots.append(top / where)
    hatch = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {}) if isinstance(tool, dict) else {}
    for package in (hatch.get("packages", []) if isinstance(hatch, dict) else []):
        if isinstance(package, str):
            roots.append((top / package).parent)
    return roots


class ModuleIndex:
    """Dotted module names -> the scanned files, and resolution of names through re-exports."""

    def __init__(self, facts: list[FileFacts]):
        python = [f for f in facts if f.path.endswith(SOURCE_SUFFIXES)]
        self.modules: dict[str, FileFacts] = {}
        self.folders: dict[str, dict[str, FileFacts]] = {}  # importer folder -> names relative to it
        self._importer_folders: dict[str, dict[str, FileFacts]] = {}  # importer path -> its folder's names
        self._absolute: dict = {}
        self._python = python
        self._resolved: dict[tuple, tuple[FileFacts, str] | None] = {}
        if not python:
            return
        absolute = {f.path: Path(os.path.abspath(f.path)) for f in python}
        top = Path(os.path.commonpath([str(p.parent) for p in absolute.values()]))
        roots = [top, top / "src", *declared_roots(top)]
        package_roots: dict[Path, Path] = {}  # folder -> the folder above its top package
        for file in python:  # the folder above the top package: where `module_name_for` starts
            folder = absolute[file.path].parent
            if folder not in package_roots:
                package_root = folder
                while (package_root / "__init__.py").is_file() and package_root != package_root.parent:
                    package_root = package_root.parent
                package_roots[folder] = package_root
            roots.insert(0, package_roots[folder])
        for root in dict.fromkeys(roots):  # first root wins: package roots, then top, src, declared
            for file in python:
                try:
                    name = _dotted(absolute[file.path].relative_to(root))
                except ValueError:
                    continue
                if name:
                    self.modules.setdefault(name, file)
        self._absolute = absolute
        self._python = python

    def _folder_names(self, importer: FileFacts) -> dict[str, FileFacts]:
        """Names relative to the importer's own folder (built once per folder, when first asked)."""
        known = self._importer_folders.get(importer.path)
        if known is not None:
            return known
        folder = self._absolute.get(importer.path, Path(importer.path)).parent
        key = str(folder)
        if key not in self.folders:
            names = {}
            for other in self._python:
                path = self._absolute[other.path]
                if str(path).startswith(key + os.sep):
                    name = _dotted(path.relative_to(folder))
                    if name:
                        names[name] = other
            self.folders[key] = names
        self._importer_folders[importer.path] = self.folders[key]  # asked per name resolved: paths cost
        return self.folders[key]

    def module(self, name: str, importer: FileFacts | None = None) -> FileFacts | None:
        if importer is not None:
            if name == importer.module:
                return importer
            local = self._folder_names(importer).get(name) if importer.path in self._absolute else None
            if local is not None:
                return local
        return self.modules.get(name)

    def resolve(self, qualified: str, importer: FileFacts | None = None, hops: int = 0
                ) -> tuple[FileFacts, str] | None:
        """(file, name inside it) where `qualified` is defined; "" names the module itself
        (each answer kept: a package's star re-exports are searched once per name, not per call)."""
        key = (qualified, importer.path if importer is not None else None, hops)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(qualified, importer, hops)
        return self._resolved[key]

    def _resolve(self, qualified: str, importer: FileFacts | None, hops: int) -> tuple[FileFacts, str] | None:
        if hops > MAX_HOPS:
            return None
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            file = self.module(".".join(parts[:cut]), importer)
            if file is None:
                continue
            if cut == len(parts) and cut > 1:  # `from pkg import name`: pkg's own `name` shadows a submodule
                parent = self.module(".".join(parts[:-1]), importer)
                name = parts[-1]
                if parent is not None and (name in parent.functions or name in parent.classes or (
                        name in parent.bindings and parent.bindings[name] != qualified)):
                    return self._symbol(parent, [name], hops)
            return self._symbol(file, parts[cut:], hops)
        return None

    def _symbol(self, file: FileFacts, rest: list, hops: int) -> tuple[FileFacts, str] | None:
        if not rest:
            return file, ""
        name = ".".join(rest)
        head = rest[0]
        if name in file.functions or head in file.classes:
            return file, name
        if head in file.functions:
            return None
        if head in file.bindings:
            return self.resolve(".".join([file.bindings[head], *rest[1:]]), file, hops + 1)
        for star in file.star_imports:
            source = self.module(star, file)
            if source is None or source is file:
                continue
            public = source.all_names if source.all_names is not None else None
            if (public is not None and head not in public) or (public is None and head.startswith("_")):
                continue
            found = self._symbol(source, rest, hops + 1)
            if found is not None:
                return found
        return None

"""`[tool.prec-advisor]` in the nearest pyproject.toml, merged with the command line.

Unknown keys and bad values are errors naming the key: a silently ignored
typo in a linter's config is a rule that never runs.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", ".env", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "build", "dist", "site-packages", "node_modules", ".eggs", "*.egg-info",
    ".ipynb_checkpoints", ".prec-advisor-cache",
)
FAIL_LEVELS = ("error", "warning", "info")
TASKS = ("train", "inference")
LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude", "extra-rules")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# key -> (whether a value is valid, what it must be): one-value keys
SCALAR_KEYS = {
    "target-gpu": (lambda v: isinstance(v, str), 'a string such as "a100-80gb"'),
    "devices": (lambda v: _number(v) and isinstance(v, int) and v >= 1, "a positive integer"),
    "fail-level": (lambda v: v in FAIL_LEVELS, f"one of {', '.join(FAIL_LEVELS)}"),
    "memory-headroom": (lambda v: _number(v) and 0 <= v < 1, "a number from 0 to below 1, such as 0.2"),
    "task": (lambda v: v in TASKS, f"one of {', '.join(TASKS)}"),
}
KNOWN_KEYS = set(LIST_KEYS) | set(SCALAR_KEYS) | {"per-file-ignores", "target-versions"}
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


class ConfigError(Exception):
    """A bad configuration value; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    select: tuple = ("PRC",)
    ignore: tuple = ()
    extend_select: tuple = ()
    per_file_ignores: tuple = ()  # ((glob, (codes...)), ...)
    exclude: tuple = DEFAULT_EXCLUDES
    extend_exclude: tuple = ()
    extra_rules: tuple = ()  # absolute paths of the user's rule files
    target_gpu: str | None = None
    devices: int | None = None  # devices the training run uses; default: what the Trainer says
    fail_level: str = "info"
    memory_headroom: float = 0.2  # share of device memory kept for activations, CUDA context, fragmentation
    task: str = "train"  # "inference" puts int8 first among the bitsandbytes modes
    target_versions: tuple = ()  # ((package, "1.13"), ...): the oldest versions fixes must run on
    root: Path | None = None  # folder of the pyproject.toml the config came from
    source: str | None = None

    def with_overrides(self, **changes) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.prec-advisor] table, from `start` upwards."""
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{candidate}: cannot read: {exc}") from None
            if "prec-advisor" in data.get("tool", {}):
                return candidate
    return None


def _strings(path: Path, key: str, value) -> tuple:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.prec-advisor] `{key}` must be a list of strings")
    return tuple(value)


def _target_versions(path: Path, table) -> tuple:
    if not isinstance(table, dict) or not all(isinstance(v, str) and VERSION_RE.match(v) for v in table.values()):
        raise ConfigError(f"{path}: [tool.prec-advisor] `target-versions` must be a table of package = \"version\""
                          " such as { torch = \"1.13\", lightning = \"1.9\" }")
    return tuple(table.items())


def load(path: Path) -> Config:
    """Parse and validate one pyproject's [tool.prec-advisor] table."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["prec-advisor"]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [tool.prec-advisor] must be a table")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key `{unknown[0]}` in [tool.prec-advisor] "
                          f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    root = path.parent
    values: dict = {"root": root, "source": str(path)}
    for key in LIST_KEYS:
        if key in data:
            values[key.replace("-", "_")] = _strings(path, key, data[key])
    if "extra_rules" in values:
        values["extra_rules"] = tuple(str((root / p).resolve()) for p in values["extra_rules"])
    if "per-file-ignores" in data:
        table = data["per-file-ignores"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.prec-advisor] `per-file-ignores` must be a table of glob = [codes]")
        values["per_file_ignores"] = tuple((glob, _strings(path, f"per-file-ignores.{glob}", codes))
                                           for glob, codes in table.items())
    if "target-versions" in data:
        values["target_versions"] = _target_versions(path, data["target-versions"])
    for key, (valid, what) in SCALAR_KEYS.items():
        if key in data:
            if not valid(data[key]):
                raise ConfigError(f"{path}: [tool.prec-advisor] `{key}` must be {what}")
            values[key.replace("-", "_")] = data[key]
    return Config(**values)


def discover(start: Path, explicit: Path | None = None) -> Config:
    """The config for a run: an explicit file, the nearest one, or the defaults."""
    path = explicit or find_pyproject(start)
    if path is None:
        return Config()
    try:
        return load(path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise ConfigError(f"{path}: cannot read [tool.prec-advisor]: {exc}") from None

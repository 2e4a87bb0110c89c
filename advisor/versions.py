"""The oldest torch and Lightning a project supports, from what it declares.

A fix must run on every version the project supports: `torch.amp.GradScaler` exists from
torch 2.3, `"16-mixed"` from Lightning 2.0. The declarations read are pyproject
`[project]` dependencies and optional groups (and Poetry's tables), `requirements*.txt`
(and `requirements/*.txt`), `setup.cfg` and `setup.py` install_requires/extras_require,
and a conda `environment.yml`, in the nearest folder above the checked file that has any.
The oldest version is the lowest lower bound across them (`>=`, `==`, `~=`, `^`, conda `=`);
an upper bound alone (`<2`) leaves it unknown-but-old (0.0); no constraint leaves it
unknown, and then nothing is held back. `target-versions` in the config overrides this.
"""
from __future__ import annotations

import ast
import configparser
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIGHTNING_PACKAGES = {"lightning": "lightning", "pytorch_lightning": "pytorch-lightning",
                      "lightning_fabric": "lightning-fabric"}  # import root -> distribution
ALIASES = {"pytorch": "torch"}  # conda names
DECLARING_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "environment.yaml")
REQUIREMENT_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
CLAUSE_RE = re.compile(r"(~=|===|==|!=|>=|<=|>|<|\^|=)?\s*v?([0-9]+(?:\.[0-9]+)*)")


@dataclass(frozen=True)
class Floor:
    """The oldest version of one package the project supports, and where that was read."""

    package: str
    version: tuple  # (major, minor, ...); (0,) when only an upper bound is declared
    declared: str  # e.g. "pytorch-lightning>=1.6,<2.0 (requirements.txt)"

    def at_least(self, needed: tuple) -> bool:
        return self.version >= needed


def _name(raw: str) -> str:
    name = raw.strip().lower().replace("_", "-").replace(".", "-")
    return ALIASES.get(name, name)


def _version(text: str) -> tuple:
    return tuple(int(part) for part in text.split(".")[:3])


def floor_of(spec: str) -> tuple | None:
    """The lowest version a specifier allows: `>=1.8,<2` -> (1, 8); `<2` -> (0,); `` -> None."""
    lowers, bounded = [], False
    for operator, number in CLAUSE_RE.findall(spec.split(";")[0]):
        if operator in ("<", "<=", "!="):
            bounded = bounded or operator != "!="
        elif operator or number:
            lowers.append(_version(number))
    if lowers:
        return max(lowers)
    return (0,) if bounded else None


def _requirement(line: str, source: str, into: dict) -> None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith(("-", "git+", "http")):
        return
    match = REQUIREMENT_RE.match(line)
    if not match:
        return
    name, spec = _name(match.group(1)), match.group(2)
    floor = floor_of(spec)
    if floor is not None and (name not in into or floor < into[name].version):
        into[name] = Floor(name, floor, f"{match.group(1)}{spec.strip()} ({source})")


def _pyproject(path: Path, into: dict) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    project = data.get("project", {})
    groups = [project.get("dependencies", [])] + list(project.get("optional-dependencies", {}).values())
    for group in groups:
        for line in group if isinstance(group, list) else ():
            if isinstance(line, str):
                _requirement(line, path.name, into)
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {})] + [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    for table in tables:
        for name, spec in table.items():
            spec = spec.get("version", "") if isinstance(spec, dict) else spec
            if isinstance(spec, str):
                _requirement(f"{name} {spec}", path.name, into)


def _setup_py(path: Path, into: dict) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("install_requires", "extras_require"):
            for constant in ast.walk(node.value):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    _requirement(constant.value, path.name, into)


def _setup_cfg(path: Path, into: dict) -> None:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return
    values = [parser.get("options", "install_requires", fallback="")]
    if parser.has_section("options.extras_require"):
        values += [value for _, value in parser.items("options.extras_require")]
    for value in values:
        for line in value.splitlines():
            _requirement(line, path.name, into)


def _environment(path: Path, into: dict) -> None:
    """conda's `- pytorch=1.13` (a prefix: 1.13.*) and the `pip:` list's `- torch>=2.0`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        item = re.match(r"^\s*-\s+([^\s#:][^#]*)$", line)
        if item is None:
            continue
        text = item.group(1).strip().split("::")[-1]
        conda = re.match(r"^([A-Za-z0-9._-]+)=([0-9][^=\s]*)", text)  # conda's name=version[=build]
        _requirement(f"{conda.group(1)}=={conda.group(2)}" if conda else text, path.name, into)


def _requirements_files(folder: Path) -> list:
    files = sorted(folder.glob("requirements*.txt"))
    if (folder / "requirements").is_dir():
        files += sorted((folder / "requirements").glob("*.txt"))
    return files


def _declares(folder: Path) -> bool:
    return any((folder / name).is_file() for name in DECLARING_FILES) or bool(_requirements_files(folder))


@lru_cache(maxsize=256)
def declared(folder: Path) -> Mapping[str, Floor]:
    """Package -> Floor for the declarations in the nearest folder at or above `folder` that has any."""
    for candidate in [folder, *folder.parents]:
        if _declares(candidate):
            folder = candidate
            break
    else:
        return {}
    found: dict = {}
    readers = {"pyproject.toml": _pyproject, "setup.py": _setup_py, "setup.cfg": _setup_cfg,
               "environment.yml": _environment, "environment.yaml": _environment}
    for name, reader in readers.items():
        if (folder / name).is_file():
            reader(folder / name, found)
    for path in _requirements_files(folder):
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                _requirement(line, path.relative_to(folder).as_posix(), found)
        except (OSError, UnicodeDecodeError):
            continue
    return found


def overrides(target_versions: Mapping[str, str]) -> dict:
    """`target-versions = {torch = "1.13", lightning = "1.9"}`: `lightning` stands for every
    Lightning distribution."""
    found = {}
    for name, version in target_versions.items():
        names = LIGHTNING_PACKAGES.values() if _name(name) == "lightning" else (_name(name),)
        for package in names:
            found[package] = Floor(package, _version(version), f"target-versions {name} = \"{version}\"")
    return found


def floors_for(path: str, target_versions: Mapping[str, str], lightning_root: str | None) -> dict:
    """{"torch": Floor, "lightning": Floor} known for a checked file (either may be missing).

    `lightning_root` is how the file imports Lightning (`pytorch_lightning`, `lightning`...):
    the distribution of that name is the one whose version counts."""
    folder = Path(path).resolve().parent if path not in ("-", "<string>") else Path.cwd()
    known = dict(declared(folder))
    known.update(overrides(target_versions))
    result = {}
    if "torch" in known:
        result["torch"] = known["torch"]
    distribution = LIGHTNING_PACKAGES.get(lightning_root or "", None)
    if distribution in known:
        result["lightning"] = known[distribution]
    return result


# ---- what a fix needs ---------------------------------------------------------------------

TORCH_NEEDS = ((re.compile(r"\bamp\.GradScaler\b"), (2, 3), "`torch.amp.GradScaler`"),
               (re.compile(r"\bamp\.custom_(?:fwd|bwd)\b"), (2, 4), "`torch.amp.custom_fwd/custom_bwd`"),
               (re.compile(r"\.autocast\b"), (1, 10), "`torch.autocast`"))
LIGHTNING_2_VALUES = re.compile(r"""["'](?:16-mixed|bf16-mixed|16-true|bf16-true|32-true|64-true|transformer-engine"""
                                r"""(?:-float16)?)["']""")
REMOVALS_2X = ("PRC105",)  # arguments 2.0 removed are valid on 1.x: removing them there changes what runs


def needs(code: str, contents: Iterable[str]) -> list:
    """(package, version, what) that the fix's written text needs."""
    text = "".join(contents)
    found = [("torch", version, what) for pattern, version, what in TORCH_NEEDS if pattern.search(text)]
    if LIGHTNING_2_VALUES.search(text):
        found.append(("lightning", (2, 0), "a 2.x precision value"))
    if code in REMOVALS_2X:
        found.append(("lightning", (2, 0), "removing a 1.x argument"))
    return found


def unmet(code: str, contents: Iterable[str], floors: Mapping[str, Floor]) -> str | None:
    """Why the fix cannot be applied to this project, or None when every need is met (or unknown)."""
    for package, version, what in needs(code, contents):
        floor = floors.get(package)
        if floor is not None and not floor.at_least(version):
            label = "Lightning" if package == "lightning" else package
            return f"{what} needs {label} >= {'.'.join(map(str, version))}; the project supports {floor.declared}"
    return None

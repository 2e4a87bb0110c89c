"""The rule catalogue: every rule is data in a TOML file under `rules/`.

A rule file holds `[[rule]]` tables (code, name, severity, message...,
examples, and for op rules `[[rule.patterns]]`) and optionally an
`[aliases]` table mapping re-exported names to their canonical ones.
Users add their own files through `extra-rules` in the config.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from advisor.findings import APPLICABILITIES, SEVERITIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CODE_RE = re.compile(r"^PRC[0-9]{3}$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
RULE_KEYS = {
    "code", "name", "severity", "summary", "message", "rationale", "fix", "fix_title",
    "references", "valid", "invalid", "patterns", "context", "runtime",
}
PATTERN_KEYS = {"function", "method", "module", "subclass", "aten", "keyword", "position", "equals", "in", "not_in",
                "above", "below", "default", "op"}
FIX_KINDS = ("none",) + APPLICABILITIES
SETTING_KINDS = ("Trainer", "Fabric")
EXAMPLE_OPTIONS = {"gpu", "params", "linear_params", "trainable_params"}


class CatalogueError(Exception):
    """A rule file that cannot be used: the message names the file and the rule."""


@dataclass(frozen=True)
class Example:
    """A code snippet a rule must (invalid) or must not (valid) flag.

    `options` are CLI-equivalent settings the example needs, e.g. {"gpu": "a100"};
    `fixed` is what `--fix` (`--unsafe-fixes` for an unsafe rule) makes of an invalid one.
    """

    code: str
    options: tuple = ()
    fixed: str | None = None

    @property
    def options_dict(self) -> dict:
        return dict(self.options)


@dataclass(frozen=True)
class Pattern:
    """One way an op shows up: a function, a Tensor method, a module class,
    a subclass base, or an aten overload, optionally only when an argument
    (by keyword or position) has a given value."""

    function: str | None = None
    method: str | None = None
    module: str | None = None
    subclass: str | None = None
    aten: str | None = None
    keyword: str | None = None
    position: int | None = None
    equals: object = None
    within: tuple | None = None  # value must be one of these ("in")
    not_in: tuple | None = None
    above: float | None = None  # |value| above this (finite): overflows fp16
    below: float | None = None  # 0 < |value| below this: underflows fp16
    default: object = None  # the value the callee assumes when the argument is absent
    op: str | None = None  # canonical op name override

    @property
    def conditional(self) -> bool:
        return self.keyword is not None or self.position is not None

    @property
    def target(self) -> str:
        return self.function or self.module or self.method or self.subclass or self.aten


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    summary: str
    message: str
    rationale: str
    fix: str = "none"
    fix_title: str = ""
    references: tuple = ()
    valid: tuple = ()
    invalid: tuple = ()
    patterns: tuple = ()
    context: str = ""  # free-form hint for op rules: "accumulate", "constant"...
    runtime: bool = False  # reported by the PrecisionAdvisor callback from a real run; examples are training scripts
    origin: str = ""

    @property
    def family(self) -> str:
        return self.code[:4] + "xx"


@dataclass
class Catalogue:
    rules: dict[str, Rule] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    setting_classes: dict[str, str] = field(default_factory=dict)  # third-party Trainer/Fabric subclasses -> kind

    def __getitem__(self, code: str) -> Rule:
        return self.rules[code]

    def __iter__(self):
        return iter(sorted(self.rules.values(), key=lambda rule: rule.code))

    def __len__(self) -> int:
        return len(self.rules)

    def by_name(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules.values() if rule.name == name), None)

    def op_rules(self) -> list[Rule]:
        return [rule for rule in self if rule.patterns]


def builtin_rules_dir() -> Path:
    """`advisor/rules` in an installed wheel, `rules/` at the top of a source checkout."""
    packaged = Path(__file__).resolve().parent / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


def _examples(raw, where: str, fixable: bool) -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}: examples must be a list")
    examples = []
    for item in raw:
        if isinstance(item, str):
            examples.append(Example(item))
        elif isinstance(item, dict) and isinstance(item.get("code"), str):
            unknown = set(item) - EXAMPLE_OPTIONS - {"code", "fixed"}
            if unknown:
                raise CatalogueError(f"{where}: unknown example key {sorted(unknown)[0]!r}")
            fixed = item.get("fixed")
            if fixed is not None and not (fixable and isinstance(fixed, str)):
                raise CatalogueError(f"{where}: only an invalid example of a rule with a fix has `fixed` text")
            options = tuple(sorted((k, v) for k, v in item.items() if k in EXAMPLE_OPTIONS))
            examples.append(Example(item["code"], options, fixed))
        else:
            raise CatalogueError(f"{where}: an example is a string or a table with `code`")
    return tuple(examples)


def _pattern(raw, where: str) -> Pattern:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: a pattern is a table")
    unknown = set(raw) - PATTERN_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown pattern key {sorted(unknown)[0]!r}")
    kinds = [k for k in ("function", "method", "module", "subclass", "aten") if k in raw]
    if kinds == ["method", "subclass"]:  # a method called on self inside a subclass of `subclass`
        kinds = ["subclass"]
    if len(kinds) != 1:
        raise CatalogueError(f"{where}: a pattern names exactly one of function/method/module/subclass/aten")
    return Pattern(
        function=raw.get("function"),
        method=raw.get("method"),
        module=raw.get("module"),
        subclass=raw.get("subclass"),
        aten=raw.get("aten"),
        keyword=raw.get("keyword"),
        position=raw.get("position"),
        equals=raw.get("equals"),
        within=tuple(raw["in"]) if "in" in raw else None,
        not_in=tuple(raw["not_in"]) if "not_in" in raw else None,
        above=raw.get("above"),
        below=raw.get("below"),
        default=raw.get("default"),
        op=raw.get("op"),
    )


def _rule(raw: dict, origin: str) -> Rule:
    where = f"{origin}: rule {raw.get('code', '?')}"
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("code", "name", "severity", "summary", "message", "rationale"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise CatalogueError(f"{where}: `{key}` is required")
    if not CODE_RE.match(raw["code"]):
        raise CatalogueError(f"{where}: code must be PRC and three digits")
    if not NAME_RE.match(raw["name"]):
        raise CatalogueError(f"{where}: name must be kebab-case")
    if raw["severity"] not in SEVERITIES:
        raise CatalogueError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    fix = raw.get("fix", "none")
    runtime = raw.get("runtime", False)
    if not isinstance(runtime, bool) or runtime and (fix != "none" or raw.get("patterns")):
        raise CatalogueError(f"{where}: `runtime` is true or false, and a runtime rule has no fix and no patterns")
    if fix not in FIX_KINDS:
        raise CatalogueError(f"{where}: fix must be one of {', '.join(FIX_KINDS)}")
    return Rule(
        code=raw["code"],
        name=raw["name"],
        severity=raw["severity"],
        summary=raw["summary"],
        message=raw["message"],
        rationale=raw["rationale"].strip(),
        fix=fix,
        fix_title=raw.get("fix_title", ""),
        references=tuple(raw.get("references", ())),
        valid=_examples(raw.get("valid"), where, fixable=False),
        invalid=_examples(raw.get("invalid"), where, fixable=fix != "none"),
        patterns=tuple(_pattern(p, where) for p in raw.get("patterns", ())),
        context=raw.get("context", ""),
        runtime=runtime,
        origin=origin,
    )


def load_file(path: Path, catalogue: Catalogue) -> None:
    """Add the rules of one TOML file; a duplicate code or name is an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read rule file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - {"rule", "aliases", "setting-classes"}
    if unknown:
        raise CatalogueError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}")
    for raw in data.get("rule", []):
        rule = _rule(raw, str(path))
        if rule.code in catalogue.rules:
            raise CatalogueError(f"{path}: rule {rule.code} is already defined in {catalogue.rules[rule.code].origin}")
        if catalogue.by_name(rule.name):
            raise CatalogueError(f"{path}: rule name {rule.name!r} is already used")
        catalogue.rules[rule.code] = rule
    for alias, canonical in data.get("aliases", {}).items():
        catalogue.aliases[alias] = canonical
    for name, kind in data.get("setting-classes", {}).items():
        if kind not in SETTING_KINDS:
            raise CatalogueError(f"{path}: [setting-classes] {name!r} must be one of {', '.join(SETTING_KINDS)}")
        catalogue.setting_classes[name] = kind


@cache
def _load(extra: tuple) -> Catalogue:
    catalogue = Catalogue()
    for path in sorted(builtin_rules_dir().glob("*.toml")):
        load_file(path, catalogue)
    for path in extra:
        load_file(Path(path), catalogue)
    return catalogue


def load_catalogue(extra_files=()) -> Catalogue:
    """The built-in catalogue plus the user's extra rule files (cached per set)."""
    return _load(tuple(str(p) for p in extra_files))

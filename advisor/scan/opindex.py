"""The catalogue's op patterns indexed for the scanner, and the pre-filter that decides
which files are worth a libcst parse at all."""
from __future__ import annotations

import ast
import fnmatch
import math
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from advisor.catalogue import Catalogue
from advisor.lightning import LIGHTNING_ROOTS
from advisor.scan.callsites import may_record_op
from advisor.scan.pytree import PythonTree

# A file can hold a setting only if it names a Lightning entry point and passes something a setting
# rule reads (`**cfg` may hold the precision: PRC112), or constructs one (listed in `settings` even
# without precision=), or subclasses one; noqa comments naming PRC codes are read (for PRC002) wherever they are.
SETTING_NAMES = frozenset({"Trainer", "Fabric", "LightningCLI", "LightningLite"})
CANDIDATE_WORDS = ("trainer", "fabric", "lite")  # a project class so named may subclass one
EXTERNAL_ROOTS = frozenset({"torch", "numpy", "math", "os", "sys", "typing", "functools", "itertools", "collections",
                            "logging", "warnings", "builtins", "torch_scatter", "torch_geometric", "torch_sparse",
                            "torch_cluster", *LIGHTNING_ROOTS})  # their classes are no project's Trainer
SETTING_TEXT = re.compile(r"precision\s*=|precision['\"]\s*:|Precision\w*\s*\(|\bamp_(?:backend|level)\b|\*\*[A-Za-z_]"
                          r"|\b(?:Trainer|Fabric|LightningCLI|LightningLite)\s*\(|^\s*class\s+\w+\s*\([^)]*"
                          r"\b(?:Trainer|Fabric|LightningLite)\b", re.M)
NOQA_TRIGGER = r"noqa:[^\n]*PRC"
# Each pre-filter regex is searched alone: Python's `re` finds a literal-led pattern fast, but an
# alternation, or one led by `\b` or a class, is tried at every position of the text (3-4 times slower).
NUMBER_ABOVE_FP16 = (r"\d[eE]\+?(?:[5-9]|\d\d)", "finfo")  # 1e5.., 1e10.., finfo
# Other spellings of a number above fp16's range (70000, 100000.0, 6.6e4) are told by Python's parse, which
# is read only when the text holds five digits in a row or an e4 exponent.
LONG_NUMBER_RES = (re.compile(r"\d{5}"), re.compile(r"\d[eE]\+?4"))
NUMBER_BELOW_FP16 = (r"\d[eE]-(?:[89]|\d\d)",)  # 1e-8, 1e-12, ...
# What a file must contain for any PRC4xx rule to apply (`amp_triggered`). The engine adds these words
# to the scanner's pre-filter (`OpIndex.build(extra_triggers=...)`), so that the scanner parses (and
# reads the noqa comments of) these files too; `.half(` is matched as a call, the word alone is common prose.
AMP_TRIGGERS = frozenset({"autocast", "GradScaler", "custom_fwd", "custom_bwd", "clip_grad_norm_", "clip_grad_value_",
                          "float16", "TrainingArguments", "Seq2SeqTrainingArguments", "SFTConfig", "DPOConfig",
                          "mixed_precision"})
HALF_CALL = r"\.half\("
TRUE_FP16 = ("16-true", "transformer-engine-float16")  # Trainer/Fabric fp16 weights, as strings: PRC408
TRUE_FP16_RE = re.compile(r"['\"](?:" + "|".join(map(re.escape, TRUE_FP16)) + r")['\"]")
HALF_CALL_RE = re.compile(HALF_CALL)
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=4)
def identifiers(text: str) -> frozenset:
    """Every identifier-like word of the text (code, comments and strings), found once per text:
    the pre-filter, the PRC4xx test and the wrapper rounds all read them."""
    return frozenset(IDENTIFIER_RE.findall(text))


def amp_triggered(text: str) -> bool:
    """Can any PRC4xx rule apply to the text: a trigger word, a `.half(` call, a true-fp16 precision?"""
    return (not identifiers(text).isdisjoint(AMP_TRIGGERS) or HALF_CALL_RE.search(text) is not None
            or (any(word in text for word in TRUE_FP16) and TRUE_FP16_RE.search(text) is not None))


class Triggers:
    """Does a text contain anything a rule could match? The pre-filter that spares
    most files of a code base the libcst parse.

    Two kinds of trigger: the extra words and regexes (AMP and target words, noqa comments
    naming PRC codes, `.half(`) and a setting make a file worth parsing on their own; what an
    op pattern needs (a name, a name prefix, a number) counts only where Python's parse holds a
    call that could be an op site (`OpIndex.worth_parsing`).

    Names are looked up in the set of the text's identifiers (one pass, set
    intersection) rather than as a regex alternation of a hundred words,
    which costs a scan per word; numbers and comments use a short regex.
    """

    def __init__(self, words=(), regexes=()):
        self.words = set(words)
        self.regexes = set(regexes)
        self.op_words: set = set()
        self.prefixes: set = set()  # of op words: torch.linalg.* -> linalg
        self.op_regexes: set = set()
        self.above: float | None = None  # the smallest magnitude a pattern's number must exceed

    def add(self, pattern) -> None:
        """Add what one catalogue pattern needs: a name, a name prefix, or a number."""
        if pattern.above is not None:
            self.op_regexes.update(NUMBER_ABOVE_FP16)
            self.above = pattern.above if self.above is None else min(self.above, pattern.above)
        elif pattern.below is not None:
            self.op_regexes.update(NUMBER_BELOW_FP16)
        elif pattern.within and pattern.keyword:  # dtype=torch.float16: the keyword and the value together
            values = "|".join(re.escape(str(value).rsplit(".", 1)[-1]) for value in pattern.within)
            self.op_regexes.add(rf"{re.escape(pattern.keyword)}\s*=\s*[\w.]*\b(?:{values})\b")
        elif pattern.within:
            self.op_words |= {str(value).rsplit(".", 1)[-1] for value in pattern.within}
        elif not pattern.aten:  # aten patterns are for traced graphs only
            target = pattern.subclass or pattern.target
            if "*" in target:  # torch.linalg.* -> names starting with linalg; segment_*_csr -> segment_
                self.prefixes.add([part for part in target.split("*", 1)[0].split(".") if part][-1])
            else:
                self.op_words.add(target.rsplit(".", 1)[-1])
            if pattern.subclass and pattern.method:  # `self.propagate` in a subclass of a project base class
                self.op_words.add(pattern.method)

    @cached_property
    def _compiled(self) -> tuple:
        """The regexes of each kind (literal-led first: the cheapest to search), the words, the prefixes."""
        def ordered(regexes):
            return tuple(map(re.compile, sorted(regexes, key=lambda regex: (not regex[:1].isalpha(), regex))))
        return ordered(self.regexes), ordered(self.op_regexes), frozenset(self.op_words), tuple(sorted(self.prefixes))

    def search(self, text: str, tree: PythonTree) -> bool:
        """Does a trigger of the first kind, or a setting, make the file worth parsing? `tree`, Python's
        parse of `text`, sharpens the test: a word counts only where the code uses it (not in a docstring
        or a comment), and a Trainer named in a type hint next to some `**kwargs` constructs nothing."""
        if self.words and not self.words.isdisjoint(identifiers(text)) and not self.words.isdisjoint(tree.words):
            return True
        if any(regex.search(text) for regex in self._compiled[0]):
            return True
        return (not identifiers(text).isdisjoint(SETTING_NAMES) and SETTING_TEXT.search(text) is not None
                and builds_setting(tree))

    def names_op(self, text: str, tree: PythonTree) -> bool:
        """Does the code hold what an op pattern needs: a word the code uses, a number (a long number's
        value is told: `70000` is above fp16's range, a `20230` in a URL is prose), a `dtype=` value?"""
        if self._names_a_word(identifiers(text)) and self._names_a_word(tree.words):
            return True
        if any(regex.search(text) for regex in self._compiled[1]):
            return True
        return (self.above is not None and any(regex.search(text) for regex in LONG_NUMBER_RES)
                and holds_number_above(tree, self.above))

    def _names_a_word(self, names: frozenset) -> bool:
        _, _, words, prefixes = self._compiled
        return not names.isdisjoint(words) or bool(prefixes and any(name.startswith(prefixes) for name in names))


def holds_number_above(tree: PythonTree, bound: float) -> bool:
    """Is a number literal of the code larger in magnitude than `bound` (fp16's maximum)?"""
    return any((type(node.value) is int or (type(node.value) is float and math.isfinite(node.value)))
               and abs(node.value) > bound for node in tree.nodes.get(ast.Constant, ()))


def builds_setting(tree: PythonTree) -> bool:
    """Does the code call or subclass anything the setting recorder reads: a Trainer/Fabric/CLI/Lite,
    an alias of one, or a capitalized class not imported from a known library that may be a Trainer
    subclass (see SettingRecorder._candidate)?"""
    nodes = tree.nodes
    for node in nodes.get(ast.ClassDef, ()):
        if any(_last_name(base) in SETTING_NAMES for base in node.bases):
            return True
    external = set()
    for node in (*nodes.get(ast.Import, ()), *nodes.get(ast.ImportFrom, ())):
        for alias in node.names:
            if alias.asname and alias.name.rsplit(".", 1)[-1] in SETTING_NAMES:
                return True
        external.update(_external_bindings(node))
    candidates = []
    for node in nodes.get(ast.Call, ()):
        name = _last_name(node.func)
        if name in SETTING_NAMES:
            return True
        if may_name_a_trainer(name, any(keyword.arg == "precision" for keyword in node.keywords)):
            candidates.append(_root_name(node.func))
    return any(root is not None and root not in external for root in candidates)


def may_name_a_trainer(class_name: str, passes_precision: bool) -> bool:
    """A capitalized class named like a Trainer/Fabric/Lite, or given `precision=`: maybe a
    Trainer subclass another module defines."""
    return class_name[:1].isupper() and (any(w in class_name.lower() for w in CANDIDATE_WORDS) or passes_precision)


def _external_bindings(node: ast.Import | ast.ImportFrom):
    """The names an import binds to a module of EXTERNAL_ROOTS."""
    if isinstance(node, ast.ImportFrom):
        if node.level == 0 and node.module and node.module.split(".")[0] in EXTERNAL_ROOTS:
            yield from (alias.asname or alias.name for alias in node.names)
        return
    for alias in node.names:
        if alias.name.split(".")[0] in EXTERNAL_ROOTS:
            yield alias.asname or alias.name.split(".")[0]


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


@dataclass
class OpIndex:
    """The catalogue's patterns, indexed for the scanner (built once per run)."""

    functions: set = field(default_factory=set)
    function_globs: list = field(default_factory=list)
    methods: set = field(default_factory=set)
    subclass_methods: dict = field(default_factory=dict)  # base qualified name -> {method names}
    triggers: Triggers = field(default_factory=Triggers)
    aliases: dict = field(default_factory=dict)
    setting_classes: dict = field(default_factory=dict)  # the catalogue's third-party Trainer subclasses
    patterns: list = field(default_factory=list)  # every op pattern: a site no pattern matches is not kept

    @classmethod
    def build(cls, catalogue: Catalogue, extra_triggers=(), extra_patterns=()) -> OpIndex:
        """`extra_triggers` are names, `extra_patterns` regexes that also make a file worth parsing."""
        index = cls(aliases=dict(catalogue.aliases), setting_classes=dict(catalogue.setting_classes),
                    triggers=Triggers(extra_triggers, (NOQA_TRIGGER, *extra_patterns)))
        for rule in catalogue.op_rules():
            for pattern in rule.patterns:
                name = pattern.function or pattern.module
                if name:
                    (index.function_globs.append(name) if "*" in name else index.functions.add(name))
                elif pattern.subclass:
                    index.subclass_methods.setdefault(pattern.subclass, set()).add(pattern.method or "")
                elif pattern.method:
                    index.methods.add(pattern.method)
                index.triggers.add(pattern)
                index.patterns.append(pattern)
        return index

    def matches_function(self, qualified: str) -> bool:
        return qualified in self.functions or any(fnmatch.fnmatchcase(qualified, glob) for glob in self.function_globs)

    @cached_property
    def base_names(self) -> frozenset:
        """The catalogued base classes' own names (`MessagePassing`), however a file imports them."""
        return frozenset(base.rsplit(".", 1)[-1] for base in self.subclass_methods)

    def worth_parsing(self, text: str, tree: PythonTree, module: str, is_package: bool) -> bool:
        """The pre-filter: is the file (`text`, Python's parse `tree`, its module name) worth libcst's parse?"""
        triggers = self.triggers
        return triggers.search(text, tree) or (triggers.names_op(text, tree)
                                               and may_record_op(tree, module, is_package, self))

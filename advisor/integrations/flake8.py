"""flake8 plugin: `flake8 --select PRC` reports what `prec-advisor check FILE` reports.

flake8 has already read and ast-parsed the file. Most files say nothing
about precision, so the plugin first looks for the engine's trigger words
in the code flake8 parsed (names, attributes, keywords, strings other than
docstrings, numbers, noqa comments) and only then runs the libcst check.
flake8 applies its own --select/--ignore and noqa to the codes returned.
Checks are per file: the cross-file call chains of `prec-advisor check DIR`
need the whole project.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from advisor import __version__, api
from advisor.catalogue import CatalogueError
from advisor.config import Config, ConfigError, discover


@cache
def _checker(folder: str) -> api.Checker:
    """The check `prec-advisor check` would run in `folder`, with selection left to flake8."""
    config = discover(Path(folder))
    config = Config(extra_rules=config.extra_rules, target_gpu=config.target_gpu, devices=config.devices,
                    root=config.root, source=config.source)
    target = None
    if config.target_gpu:
        from advisor.hardware.table import lookup
        target = lookup(config.target_gpu)
    return api.Checker.create(config, target)


def _code_text(tree: ast.AST, lines: list) -> str:
    """The parts of the file the engine's findings can come from: everything but docstrings and comments
    (noqa comments excepted)."""
    parts = [line for line in lines if "noqa" in line]
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docstrings.add(id(node.value))
        elif isinstance(node, ast.Dict):  # trainer_defaults={"precision": ...}
            parts.extend(f"{key.value!r}:" for key in node.keys if isinstance(key, ast.Constant))
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            parts.append(node.value if isinstance(node.value, str) else repr(node.value))
        elif isinstance(node, ast.Name):
            parts.append(node.id)
        elif isinstance(node, ast.Attribute):
            parts.append(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            parts.append(f"{getattr(node.func, 'id', None) or node.func.attr}(")  # `BitsandbytesPrecision(`
        elif isinstance(node, ast.keyword) and node.arg:
            parts.append(f"{node.arg}=")  # the trigger for a setting is `precision=`
        elif isinstance(node, ast.arg):
            parts.append(node.arg)
        elif isinstance(node, ast.alias):
            parts.append(f"{node.name} {node.asname or ''}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts.append(node.module)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            parts.append(node.name)
    return "\n".join(parts)


class Plugin:
    """An AST checker: flake8 passes `tree`, `filename` and `lines` by name."""

    name = "prec-advisor"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list):
        self.tree, self.filename, self.lines = tree, filename, lines

    def run(self) -> Iterator[tuple]:
        folder = Path(self.filename).parent if self.filename not in ("stdin", "-") else Path.cwd()
        try:
            checker = _checker(str(folder.resolve()))
        except (ConfigError, CatalogueError, ValueError) as exc:  # ValueError: an unknown target-gpu
            yield from self._report_error(f"prec-advisor configuration: {exc}")
            return
        text = "".join(self.lines)
        triggers = checker.index.triggers
        if not triggers.search(text) or not triggers.search(_code_text(self.tree, self.lines)):
            return
        report = checker.judge(checker.scan([self.filename], stdin=(self.filename, text)))
        for finding in report.findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)

    def _report_error(self, reason: str) -> Iterator[tuple]:
        """A file checked with a broken configuration is not checked: say so (PRC001), never crash flake8."""
        yield 1, 0, "PRC001 " + " ".join(reason.split()), type(self)

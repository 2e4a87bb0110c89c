"""flake8 plugin: `flake8 --select PRC` reports what `prec-advisor check FILE` reports.

flake8 has already read and ast-parsed the file. Most files say nothing
about precision, so the plugin first looks for the engine's trigger words
in the file's code as written, its docstrings and comments blanked
(`advisor.scan.prose`), and only then runs the libcst check.
flake8 applies its own --select/--ignore and noqa to the codes returned.
Checks are per file: the cross-file call chains of `prec-advisor check DIR`
need the whole project.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from itertools import chain
from pathlib import Path

from advisor import __version__, api
from advisor.catalogue import CatalogueError
from advisor.config import Config, ConfigError, discover
from advisor.scan.files import module_name_for
from advisor.scan.prose import without_prose
from advisor.scan.pytree import PythonTree


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
        index, tree = checker.index, PythonTree(self.tree)
        module, package = module_name_for(self.filename), self.filename.endswith("__init__.py")
        if not index.worth_parsing(text, tree, module, package) or not index.worth_parsing(
                without_prose(text, chain.from_iterable(tree.nodes.values())), tree, module, package):
            return  # (the engine would parse the file with libcst only to find nothing)
        report = checker.judge(checker.scan([self.filename], stdin=(self.filename, text)))
        for finding in report.findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)

    def _report_error(self, reason: str) -> Iterator[tuple]:
        """A file checked with a broken configuration is not checked: say so (PRC001), never crash flake8."""
        yield 1, 0, "PRC001 " + " ".join(reason.split()), type(self)

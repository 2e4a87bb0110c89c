"""The static scanner: Python's parse of every file, and libcst's only for the files worth it.

Most files of a code base have nothing to say: the pre-filter (`OpIndex.worth_parsing`)
reads the text and Python's parse, and only a file it keeps goes through the
libcst pass (`recording.record`), which is also the only reason libcst is imported.
"""
from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from advisor.facts import FileFacts
from advisor.scan.bindings import module_bindings
from advisor.scan.callsites import calls_one_of
from advisor.scan.files import module_name_for
from advisor.scan.opindex import OpIndex, identifiers
from advisor.scan.pytree import PythonTree

if TYPE_CHECKING:
    import libcst as cst

    from advisor.scan.positions import Positions

BOOL_OPERANDS_MAX = 1000  # libcst nests one level per `and`/`or`: about 7,000 overflow an 8 MB stack
BOOL_WORD_RE = re.compile(r"\b(?:and|or)\b")


def guard_parse(text: str, path: str) -> ast.AST:
    """Python's parse of `text`; raise SyntaxError (RecursionError, MemoryError) for code libcst must never see.

    libcst's native parser has no depth limit: a few thousand nested levels overflow
    the C stack and kill the whole process (SIGSEGV). CPython's parser refuses such
    code first, except long `and`/`or` chains, which it keeps flat and libcst nests.
    """
    tree = ast.parse(text, filename=path)
    if text.count("and") + text.count("or") < BOOL_OPERANDS_MAX or len(BOOL_WORD_RE.findall(text)) < BOOL_OPERANDS_MAX:
        return tree  # (the substrings bound the words from above, and cost a tenth of the regex)
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and len(node.values) > BOOL_OPERANDS_MAX:
            message = f"{len(node.values)} `and`/`or` operands in one expression, more than the parser handles"
            raise SyntaxError(f"{message} ({BOOL_OPERANDS_MAX})", (path, node.lineno, node.col_offset + 1, None))
    return tree


def scan(path: str, text: str, index: OpIndex, companions=(), names: frozenset = frozenset()
         ) -> tuple[FileFacts, cst.Module | None, Positions | None]:
    """Facts of one file, its parsed module and its positions (None, None when no trigger
    word made it worth parsing); raises SyntaxError when it does not parse.

    `companions` are callables `walk -> visitor` (the PRC4xx one) walked in the same
    traversal: walking the tree costs as much as parsing it. A file without any trigger
    word has no facts to give; Python's own parser (several times faster than libcst's)
    still checks that it is valid code. `names` (project functions and classes that
    accumulate, found in an earlier round, for a file that round did not parse) decide alone:
    the file's own triggers did not make it worth parsing then and cannot now.
    """
    tree = PythonTree(guard_parse(text, path))
    facts = FileFacts(path=path, module=module_name_for(path))
    if names:
        worth = calls_one_of(tree, names)
    else:
        worth = bool(companions) or index.worth_parsing(text, tree, facts.module, path.endswith("__init__.py"))
    if not worth:
        facts.parsed = False  # its imports still resolve other modules' names (re-exports, star imports)
        facts.bindings, facts.star_imports, facts.all_names = module_bindings(
            tree.tree, facts.module, path.endswith("__init__.py"), index.aliases)
        return facts, None, None
    from advisor.scan.recording import record  # libcst loads only once a file is worth parsing

    return record(path, text, tree, facts, index, companions)


def mentions(text: str, names: frozenset) -> bool:
    """Whether the text (code, docstrings or comments) names one of `names` (identifiers, e.g. project
    wrappers): the cheap test before a file of a wrapper round is parsed by Python."""
    return bool(names) and not names.isdisjoint(identifiers(text))

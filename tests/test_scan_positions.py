"""Call, operand and statement positions taken from Python's parse match libcst's exactly, on real
code and on the spellings where the two parsers could disagree (semicolons, one-line suites,
non-ASCII text, form feeds, f-strings, parenthesized operands)."""
import ast
import os

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.facts import Span
from advisor.scan.noqa import noqa_lines
from advisor.scan.positions import Positions
from advisor.scan.pytree import PythonTree

from conftest import package_source

TRICKY = (
    "x = f(1); y = g(h(2))  # two on a line\n"
    "if x: z = k(3)\n"
    "else:\n    w = (m(4)\n         + n(5))\n"
    "s = 'é' + p('ü', q(6))\n"
    "\x0cdef d():\n    return f'{r(7)!r} {t(8):>{u(9)}}'\n"
    "class C:\n    a = v(10); b = 2\n    def m(self): return self.w(11)\n"
    "try:\n    pass\nexcept E as e: log(e)\nfinally:\n    done()\n"
    "while x(12): break\n"
    "with open(p) as f: f.read()\n"
    "lam = lambda: (yield_(13) for _ in rng(14))\n"
    "data = {k(15): [v(16) for v in w(17)] for k in z(18)}\n"
    "a = b if c(19) else d(20); e = f'{g(21)}'\n"
    "eps = (x + 1e-8) * -2.5 + (y) - f'{z + 1.5}' @ w ** 2\n"
)


class Collect(cst.CSTVisitor):
    def __init__(self):
        self.calls, self.lines, self.operations = [], [], []

    def visit_Call(self, node):
        self.calls.append(node)

    def visit_BinaryOperation(self, node):
        self.operations.append(node)

    def visit_SimpleStatementLine(self, node):
        self.lines.append(node)


def sources():
    folder = package_source("torch_geometric")
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(folder) for f in names if f.endswith(".py"))
    return [("tricky.py", TRICKY)] + [(f, open(f, encoding="utf-8").read()) for f in files[::25]]


@pytest.mark.parametrize("path, text", sources(), ids=lambda value: os.path.basename(str(value))[:40])
def test_python_positions_equal_libcst_positions(path, text):
    module = cst.parse_module(text)
    collected = Collect()
    module.visit(collected)
    libcst = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    def span(node):
        where = libcst[node]
        return Span(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)
    positions = Positions(module, PythonTree(ast.parse(text)), text)
    positions.span = None  # every span below must come from Python's parse, none from libcst's
    calls, lines, operations = (len(found) for found in (collected.calls, collected.lines, collected.operations))
    assert [positions.call_span(k, n, calls) for k, n in enumerate(collected.calls)] == [
        span(n) for n in collected.calls]
    assert [positions.statement_span(k, n, lines) for k, n in enumerate(collected.lines)] == [
        span(n) for n in collected.lines]
    operands = [(k, side, getattr(n, side)) for k, n in enumerate(collected.operations) for side in ("left", "right")
                if not getattr(n, side).lpar]
    assert [positions.operand_span(k, side, n, operations) for k, side, n in operands] == [
        span(n) for _, _, n in operands]
    parenthesized = [(k, side, getattr(n, side)) for k, n in enumerate(collected.operations)
                     for side in ("left", "right") if getattr(n, side).lpar]
    # these take libcst's: Python's span leaves out `(`
    positions = Positions(module, PythonTree(ast.parse(text)), text)
    assert [positions.operand_span(k, side, n, operations) for k, side, n in parenthesized] == [
        span(n) for _, _, n in parenthesized]


NOQA_SPELLINGS = (
    'a = f(1)  # noqa: PRC201\n'
    'b = "# noqa: PRC101"  # a string, then no comment\n'
    'c = """\n# noqa: PRC102\n"""\n'
    'd = ("x"  # noqa: PRC103\n     "y")\n'
    "e = f'{g(2)}'  # NOQA\n"
    'h = "#"  # noqa:PRC104,PRC2\n'
)


@pytest.mark.parametrize("path, text", [("noqa.py", NOQA_SPELLINGS)] + sources()[1:6],
                         ids=lambda value: os.path.basename(str(value))[:40])
def test_noqa_comments_told_from_strings_by_python_parse_as_by_the_tokenizer(path, text):
    positions = Positions(cst.parse_module(text), PythonTree(ast.parse(text)), text)
    assert noqa_lines(text, positions.in_string) == noqa_lines(text)


def test_noqa_comments_of_the_spellings():
    positions = Positions(cst.parse_module(NOQA_SPELLINGS), PythonTree(ast.parse(NOQA_SPELLINGS)), NOQA_SPELLINGS)
    assert noqa_lines(NOQA_SPELLINGS, positions.in_string) == {
        1: frozenset({"PRC201"}), 6: frozenset({"PRC103"}), 8: None, 9: frozenset({"PRC104", "PRC2"})}

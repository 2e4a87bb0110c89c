"""The scanner's traversal calls what libcst's `visit_batched` calls, in the same order, on the same nodes."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import libcst as cst
import pytest

from advisor.scan import traversal
from advisor.scan.recording import parse_unvalidated

ROOT = Path(__file__).resolve().parent.parent

EVERY_SYNTAX = '''\
"""doc"""
from __future__ import annotations
import torch, os.path as osp
from . import sibling
from ..pkg import (a as b, c)
X: int = 1 if os else 2
y = [i * 2 for i in range(3) if i] + [*{k: v for k, v in {}.items()}]
z = (lambda q, /, r=1, *s, t, **u: q)(1, t=2)
w = f"{X!r:>{y}} {z=}"


@torch.no_grad()
@decorator
class A(torch.nn.Module, metaclass=Meta):
    attr: "torch.Tensor"

    async def forward(self, x, *args, key: int = 3, **kwargs) -> torch.Tensor:
        global X
        async with torch.autocast("cuda", enabled=False) as ctx, other():
            async for i in aiter(x):
                if (n := len(x)) > 2:
                    x = x.scatter_add_(0, i, x) @ x
                elif not n:
                    del x[0], x[1:2, ::3]
                else:
                    x **= 2; x -= 1
        try:
            raise ValueError from None
        except* (TypeError, ValueError) as err:
            pass
        finally:
            assert x, "message"
        while x:
            break
        else:
            yield from x
        match x:
            case [1, *rest] | {"k": _, **others} if rest:
                return await x
            case Point(x=0, y=_) as p:
                nonlocal_value = ~x
        return x[..., None]
'''


def _recording_visitor():
    """A visitor with every node and attribute method libcst knows, recording each call
    (an attribute visitor only for a field that holds something: see visit_batched)."""
    events: list = []

    def method(name, field=None):
        def record(self, node) -> None:
            if field is None or getattr(node, field) is not None:
                events.append((name, id(node)))
        record.__name__ = name
        return record

    namespace = {}
    for name in dir(cst):
        cls = getattr(cst, name)
        if not (isinstance(cls, type) and issubclass(cls, cst.CSTNode)) or cls.__module__ in traversal.TRIVIA_MODULES:
            continue
        for prefix in ("visit_", "leave_"):
            namespace[prefix + name] = method(prefix + name)
            for field in traversal.child_fields(cls):
                namespace[f"{prefix}{name}_{field}"] = method(f"{prefix}{name}_{field}", field)
    return type("Recording", (cst.BatchableCSTVisitor,), namespace)(), events


def _sources():
    yield "every-syntax", EVERY_SYNTAX
    for path in sorted((ROOT / "examples").rglob("*.py")) + sorted((ROOT / "advisor" / "checks").glob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()
    spec = importlib.util.find_spec("lightning")  # its source, read as text, never imported
    if spec is not None and spec.submodule_search_locations:
        trainer = Path(next(iter(spec.submodule_search_locations))) / "pytorch" / "trainer" / "trainer.py"
        yield "lightning trainer.py", trainer.read_text()


@pytest.mark.parametrize(("name", "source"), list(_sources()), ids=lambda value: value if len(value) < 60 else None)
def test_the_traversal_makes_the_calls_libcst_makes(name, source):
    module = cst.parse_module(source)
    theirs, their_events = _recording_visitor()
    ours, our_events = _recording_visitor()
    cst.visit_batched(module, [theirs])
    traversal.visit_batched(module, [ours])
    assert len(their_events) > 20
    assert our_events == their_events


def test_children_are_libcsts_own_and_whitespace_and_punctuation_hold_none():
    module = cst.parse_module(EVERY_SYNTAX)
    stack, checked = [module], 0
    while stack:
        node = stack.pop()
        ours = list(traversal.children(node))
        if type(node).__module__ in traversal.TRIVIA_MODULES:
            assert ours == []
        else:
            assert ours == list(node.children)
            checked += 1
        stack.extend(node.children)
    assert checked > 200


def test_every_node_class_has_its_fields_in_source_order():
    """A libcst upgrade that visits fields another way fails here, not in a finding's position."""
    function_def = traversal.child_fields(cst.FunctionDef)
    assert function_def.index("decorators") < function_def.index("name") < function_def.index("body")
    if_exp = traversal.child_fields(cst.IfExp)
    assert if_exp.index("body") < if_exp.index("test") < if_exp.index("orelse")


@pytest.mark.parametrize(("name", "source"), list(_sources()), ids=lambda value: value if len(value) < 60 else None)
def test_the_unvalidated_parse_builds_libcsts_tree(name, source):
    ours = parse_unvalidated(source)
    assert ours.deep_equals(cst.parse_module(source))
    assert ours.code == source


def test_nodes_built_after_the_unvalidated_parse_are_validated_again():
    parse_unvalidated(EVERY_SYNTAX)
    with pytest.raises(cst.CSTValidationError):
        cst.Integer("1", lpar=[cst.LeftParen()])  # an opening parenthesis without its closing one
    with pytest.raises(cst.ParserSyntaxError):
        parse_unvalidated("x = (")
    with pytest.raises(cst.CSTValidationError):
        cst.Integer("1", lpar=[cst.LeftParen()])

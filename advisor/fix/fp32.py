"""The unsafe PRC2xx fix: run one FP32-required op with autocast off and fp32 inputs.

    y = torch.scatter_add(out, 0, index, src)
becomes
    with torch.autocast(device_type="cuda", enabled=False):
        y = torch.scatter_add(out.float(), 0, index, src.float()).to(out.dtype)

Only what can be rewritten confidently is: the statement is `name = op(...)`
or `return op(...)` alone on its line(s), every other call in it is a
dtype-neutral helper (so no layer silently runs with autocast off), and the
op is one whose floating arguments we know (so an index never gets
`.float()`). Otherwise there is no fix and the finding's text says how.
The fix is unsafe: it changes numerics (for the better) and costs memory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.facts import FileFacts, OpSite
from advisor.findings import Edit, Fix
from advisor.fix.edits import LineIndex

NEUTRAL_CALLS = {"size", "numel", "dim", "long", "int", "float", "double", "view", "reshape", "t", "unsqueeze",
                 "squeeze", "contiguous", "detach", "clone", "expand", "expand_as", "len", "max", "min"}
ATOMS = (cst.Name, cst.Attribute, cst.Subscript, cst.Call)
NEWLINE_RE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class OpShape:
    """Which arguments of an op are floating tensors, and whether the result keeps their dtype."""

    positions: tuple = (0,)
    keywords: tuple = ("input",)
    receiver: bool = False  # a Tensor method: the receiver is a floating input too
    cast_back: bool = True  # one tensor of the first input's dtype (not a tuple, complex or object)


_SCATTER = OpShape((0, 3), ("input", "src", "source"))
_SCATTER_METHOD = OpShape((2,), ("src", "source"), receiver=True)
_ONE = OpShape()
_ONE_METHOD = OpShape((), (), receiver=True)
_TWO = OpShape((0, 1), ("A", "B", "input", "input2"))
_TUPLE = OpShape(cast_back=False)
_MVN = OpShape((0, 1), ("loc", "covariance_matrix", "precision_matrix", "scale_tril"), cast_back=False)
_SCATTER_LIB = OpShape((0,), ("src", "x"))

SHAPES = {
    **dict.fromkeys(("torch.scatter_add", "torch.scatter", "torch.scatter_reduce", "torch.index_add",
                     "torch.index_reduce"), _SCATTER),
    **dict.fromkeys(("Tensor.scatter_add", "Tensor.scatter", "Tensor.scatter_reduce", "Tensor.index_add",
                     "Tensor.index_reduce"), _SCATTER_METHOD),
    **dict.fromkeys(("torch.inverse", "torch.det", "torch.logdet", "torch.cholesky", "torch.cholesky_inverse",
                     "torch.pinverse", "torch.matrix_exp", "torch.linalg.inv", "torch.linalg.pinv",
                     "torch.linalg.matrix_exp", "torch.linalg.cholesky", "torch.linalg.det", "torch.linalg.norm",
                     "torch.linalg.vector_norm", "torch.linalg.matrix_norm", "torch.linalg.svdvals",
                     "torch.linalg.eigvalsh", "torch.linalg.matrix_power"), OpShape((0,), ("input", "A", "x"))),
    **dict.fromkeys(("torch.cholesky_solve", "torch.linalg.solve", "torch.linalg.solve_triangular"), _TWO),
    **dict.fromkeys(("torch.svd", "torch.qr", "torch.slogdet", "torch.linalg.svd", "torch.linalg.qr",
                     "torch.linalg.eigh", "torch.linalg.slogdet", "torch.linalg.cholesky_ex", "torch.linalg.inv_ex",
                     "torch.fft.rfft", "torch.fft.rfft2", "torch.fft.rfftn"), _TUPLE),
    **dict.fromkeys(("Tensor.inverse", "Tensor.det", "Tensor.logdet", "Tensor.cholesky", "Tensor.pinverse"),
                    _ONE_METHOD),
    "torch.stft": OpShape((0,), ("input", "window"), cast_back=False),
    "Tensor.stft": OpShape((), ("window",), receiver=True, cast_back=False),
    "torch.sparse.mm": OpShape((0, 1), ("sparse", "dense", "mat1", "mat2")),
    "torch.sparse.addmm": OpShape((0, 1, 2), ("input", "mat1", "mat2")),
    "torch.spmm": OpShape((0, 1), ("input", "mat2")),
    "torch.distributions.MultivariateNormal": _MVN,
    "torch.distributions.multivariate_normal.MultivariateNormal": _MVN,
    "torch.distributions.LowRankMultivariateNormal": OpShape((0, 1, 2), ("loc", "cov_factor", "cov_diag"),
                                                             cast_back=False),
    **dict.fromkeys(("torch_geometric.utils.scatter", "torch_geometric.utils.segment", "torch_geometric.utils.softmax",
                     "torch_geometric.nn.global_add_pool", "torch_geometric.nn.global_mean_pool"), _SCATTER_LIB),
}


def shape_for(op: str) -> OpShape | None:
    if op.startswith(("torch_scatter.scatter", "torch_scatter.segment")):
        return _SCATTER_LIB
    return SHAPES.get(op)


def device_type_for(facts: FileFacts) -> str:
    """"cpu" when every Trainer/Fabric of the file says accelerator="cpu", else "cuda"."""
    accelerators = {(s.accelerator or "").lower() for s in facts.settings}
    return "cpu" if accelerators == {"cpu"} else "cuda"


def fp32_region_fix(site: OpSite, text: str, torch_name: str | None, rule,
                    device_type: str = "cuda") -> Fix | None:
    """The unsafe fix for one op site, or None when the statement is not one we rewrite.

    `text` must be the text the site was scanned from (never a re-read of the
    file: during `--fix` passes the file on disk is older than the text).
    """
    shape = shape_for(site.op)
    if rule.fix != "unsafe" or shape is None or site.statement_span is None or site.span is None:
        return None
    index = LineIndex(text)
    start = index.offset(site.statement_span.line, site.statement_span.column)
    end = index.offset(site.statement_span.end_line, site.statement_span.end_column)
    indent = text[index.starts[site.statement_span.line - 1]:start]
    if indent.strip():
        return None  # after `;` or `if x:` on the same line
    statement = text[start:end]
    call_at = index.offset(site.span.line, site.span.column) - start
    rewritten = _rewrite(statement, call_at, shape, torch_name or "torch", device_type, indent, _newline(text, end))
    if rewritten is None:
        return None
    edits = [Edit(site.statement_span, rewritten)]
    if torch_name is None:
        edits.insert(0, _import_torch(text, index))
    return Fix("unsafe", rule.fix_title, tuple(edits))


def _newline(text: str, offset: int) -> str:
    found = NEWLINE_RE.search(text, offset)
    return found.group() if found else "\n"


def _rewrite(statement: str, call_at: int, shape: OpShape, torch: str, device: str, indent: str,
             newline: str) -> str | None:
    try:
        wrapper = MetadataWrapper(cst.parse_module(statement))
    except (cst.ParserSyntaxError, RecursionError):
        return None
    body = wrapper.module.body
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    small = body[0].body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        call = small.value
    elif isinstance(small, cst.Return):
        call = small.value
    else:
        return None
    positions = wrapper.resolve(PositionProvider)
    lines = LineIndex(statement)
    offset = lambda node, edge: lines.offset(getattr(positions[node], edge).line,  # noqa: E731
                                             getattr(positions[node], edge).column + 1)
    if not isinstance(call, cst.Call) or offset(call, "start") != call_at or not _only_neutral_calls(call):
        return None
    if any("\n" in s.value or "\r" in s.value for s in _strings(small)):
        return None  # re-indenting would change a multi-line string
    upcast = _floating_arguments(call, shape)
    if not upcast:
        return None
    inserts = []  # (offset, text)
    for node in upcast:
        bare = isinstance(node, ATOMS) or node.lpar
        if not bare:
            inserts.append((offset(node, "start"), "("))
        inserts.append((offset(node, "end"), ".float()" if bare else ").float()"))
    source = next((n for n in upcast if isinstance(n, (cst.Name, cst.Attribute))), None)
    if shape.cast_back and source is not None:
        inserts.append((offset(call, "end"), f".to({wrapper.module.code_for_node(source)}.dtype)"))
    for at, piece in sorted(inserts, key=lambda item: item[0], reverse=True):
        statement = statement[:at] + piece + statement[at:]
    unit = "\t" if "\t" in indent else "    "
    body_text = NEWLINE_RE.sub(lambda m: m.group() + unit, statement)
    return f"with {torch}.autocast(device_type=\"{device}\", enabled=False):{newline}{indent}{unit}{body_text}"


def _floating_arguments(call: cst.Call, shape: OpShape) -> list:
    """The argument expressions to upcast, in source order; literals never are."""
    chosen = []
    if shape.receiver:
        if not isinstance(call.func, cst.Attribute) or _is_module_name(call.func.value):
            return []
        chosen.append(call.func.value)
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    for position, arg in enumerate(positional):
        if position in shape.positions:
            chosen.append(arg.value)
    chosen += [arg.value for arg in call.args if arg.keyword is not None and arg.keyword.value in shape.keywords]
    return [node for node in chosen if not _is_literal(node)]


def _is_module_name(node: cst.BaseExpression) -> bool:
    """`torch.scatter_add(...)` in a file that never imports torch looks like a method call."""
    return isinstance(node, cst.Name) and node.value == "torch"


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _is_literal(node.expression)
    return isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)) or (
        isinstance(node, cst.Name) and node.value in ("None", "True", "False"))


def _only_neutral_calls(call: cst.Call) -> bool:
    """Besides the op, only calls that cannot run a layer (x.size(0), idx.long(), len(x)...)."""
    for inner in _collect([call.func, *call.args], cst.Call):
        name = inner.func.attr.value if isinstance(inner.func, cst.Attribute) else getattr(inner.func, "value", None)
        if name not in NEUTRAL_CALLS:
            return False
    return True


class _Collect(cst.CSTVisitor):
    def __init__(self, kind):
        self.kind, self.found = kind, []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.kind):
            self.found.append(node)
        return True


def _collect(nodes, kind) -> list:
    collector = _Collect(kind)
    for node in nodes:
        node.visit(collector)
    return collector.found


def _strings(node) -> list:
    return _collect([node], (cst.SimpleString, cst.FormattedStringText))


def _import_torch(text: str, index: LineIndex) -> Edit:
    """`import torch` before the first statement that is not a docstring or a __future__ import."""
    module = cst.parse_module(text)
    skipped = 0
    for statement in module.body:
        first = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        docstring = skipped == 0 and isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString)
        future = (isinstance(first, cst.ImportFrom) and isinstance(first.module, cst.Name)
                  and first.module.value == "__future__")
        if not (docstring or future):
            break
        skipped += 1
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    if skipped < len(module.body):
        line = positions[module.body[skipped]].start.line
    else:
        line = len(index.starts) if text.endswith(("\n", "\r")) else None
    newline = _newline(text, 0)
    if line is None:  # no statement after the docstring/__future__ block and no final newline
        end = len(text)
        return Edit(index.span(end, end), f"{newline}import torch{newline}")
    at = index.starts[line - 1]
    return Edit(index.span(at, at), f"import torch{newline}")

"""The unsafe PRC2xx fix: compute one FP32-required op in fp32 when its inputs are half.

    summed = torch.scatter_add(out, 0, index, x)
becomes
    summed = _prc_half_like(torch.scatter_add(_prc_fp32(out), 0, index, _prc_fp32(x)), out)

with two helpers added to the module once (`HELPERS`): `_prc_fp32` upcasts an fp16/bf16
tensor and passes every other dtype unchanged (fp64, complex, integer and fp32 keep their
semantics, bit for bit), `_prc_half_like` casts the result back only when the input was
fp16/bf16. Both are typed functions, so TorchScript and torch.compile accept the fixed code
wherever they accepted the original, whatever the statement looks like.

Autocast does not touch the scatter/index families, linalg or fft on CUDA (and upcasts them
itself on CPU): fp32 inputs are enough. Only ops autocast would run in half again
(`AUTOCAST_LOWERED`: the sparse matmuls) need a `with torch.autocast(..., enabled=False):`
region, whose `device_type` is the file's accelerator when known, else the tensor's own device.
A result that cannot be cast back (a tuple, a distribution) stays fp32 and the fix says so.
The fix is unsafe: it changes numerics (for the better) and costs memory.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.facts import FileFacts, OpSite, Span
from advisor.findings import Edit, Fix
from advisor.fix.edits import LineIndex
from advisor.scan.sourcefile import LINE_END_RE

if TYPE_CHECKING:
    from advisor.scan.positions import Positions

UPCAST, CAST_BACK = "_prc_fp32", "_prc_half_like"
HELPERS = '''def {up}(x: {torch}.Tensor) -> {torch}.Tensor:
    """prec-advisor: fp16/bf16 -> fp32 for an op that must accumulate in fp32; other dtypes pass unchanged."""
    return x.float() if x.dtype == {torch}.float16 or x.dtype == {torch}.bfloat16 else x


def {back}(y: {torch}.Tensor, x: {torch}.Tensor) -> {torch}.Tensor:
    """prec-advisor: the fp32 result back in x's dtype when x was fp16/bf16, else unchanged."""
    return y.to(x.dtype) if x.dtype == {torch}.float16 or x.dtype == {torch}.bfloat16 else y


'''
# Calls that cannot run a layer and cost nothing worth avoiding: allowed in an expression the
# fix evaluates twice (the dtype source of the cast-back) or runs with autocast off.
NEUTRAL_CALLS = {"size", "numel", "dim", "long", "int", "float", "double", "view", "reshape", "t", "unsqueeze",
                 "squeeze", "contiguous", "detach", "clone", "expand", "expand_as", "len", "max", "min", UPCAST}
# Ops on autocast's lower-precision lists (CUDA, CPU): with fp32 inputs they would still run in half.
AUTOCAST_LOWERED = {"torch.sparse.mm", "torch.sparse.addmm", "torch.spmm"}
ATOMS = (cst.Name, cst.Attribute, cst.Subscript, cst.Call)
INDENT_RE = re.compile(r"[ \t\f]*")


@dataclass(frozen=True)
class OpShape:
    """Which arguments of an op are floating tensors flowing into it, and what it returns."""

    positions: tuple = (0,)
    keywords: tuple = ("input",)
    receiver: bool = False  # a Tensor method: the receiver is a floating input too
    kept_fp32: str | None = None  # why the result is not cast back (None: it is)


_TUPLE = "it returns a tuple"
_SCATTER = OpShape((0, 3), ("input", "src", "source"))
_SCATTER_METHOD = OpShape((2,), ("src", "source"), receiver=True)
_ONE_METHOD = OpShape((), (), receiver=True)
_TWO = OpShape((0, 1), ("A", "B", "input", "input2"))
_FIRST_TUPLE = OpShape(kept_fp32=_TUPLE)
_DISTRIBUTION = "it returns a distribution"
_MVN = OpShape((0, 1), ("loc", "covariance_matrix", "precision_matrix", "scale_tril"), kept_fp32=_DISTRIBUTION)
_PYG = OpShape((0,), ("src", "x"))  # torch_geometric.utils: (src, index, ..., dim_size, reduce)
_SCATTER_LIB = OpShape((0, 3), ("src", "out"))  # torch_scatter.scatter*(src, index, dim, out, dim_size)
_SEGMENT_LIB = OpShape((0, 2), ("src", "out"))  # torch_scatter.segment_*/gather_*(src, index, out, ...)

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
                     "torch.linalg.eigh", "torch.linalg.slogdet", "torch.linalg.cholesky_ex", "torch.linalg.inv_ex"),
                    _FIRST_TUPLE),
    **dict.fromkeys(("torch.fft.rfft", "torch.fft.rfft2", "torch.fft.rfftn"),
                    OpShape(kept_fp32="it returns complex values")),
    **dict.fromkeys(("Tensor.inverse", "Tensor.det", "Tensor.logdet", "Tensor.cholesky", "Tensor.pinverse"),
                    _ONE_METHOD),
    "torch.stft": OpShape((0,), ("input", "window"), kept_fp32="it returns complex values"),
    "Tensor.stft": OpShape((), ("window",), receiver=True, kept_fp32="it returns complex values"),
    "torch.sparse.mm": OpShape((0, 1), ("sparse", "dense", "mat1", "mat2")),
    "torch.sparse.addmm": OpShape((0, 1, 2), ("input", "mat1", "mat2")),
    "torch.spmm": OpShape((0, 1), ("input", "mat2")),
    "torch.distributions.MultivariateNormal": _MVN,
    "torch.distributions.multivariate_normal.MultivariateNormal": _MVN,
    "torch.distributions.LowRankMultivariateNormal": OpShape((0, 1, 2), ("loc", "cov_factor", "cov_diag"),
                                                             kept_fp32=_DISTRIBUTION),
    **dict.fromkeys(("torch_geometric.utils.scatter", "torch_geometric.utils.segment", "torch_geometric.utils.softmax",
                     "torch_geometric.nn.global_add_pool", "torch_geometric.nn.global_mean_pool"), _PYG),
    **dict.fromkeys(("torch_scatter.scatter_softmax", "torch_scatter.scatter_log_softmax"), OpShape((0,), ("src",))),
    **dict.fromkeys(("torch_scatter.scatter_min", "torch_scatter.scatter_max"),
                    OpShape((0, 3), ("src", "out"), kept_fp32=_TUPLE)),
    **dict.fromkeys(("torch_scatter.segment_min_coo", "torch_scatter.segment_max_coo", "torch_scatter.segment_min_csr",
                     "torch_scatter.segment_max_csr"), OpShape((0, 2), ("src", "out"), kept_fp32=_TUPLE)),
}


def shape_for(op: str) -> OpShape | None:
    if op in SHAPES:
        return SHAPES[op]
    if op.startswith(("torch_scatter.segment", "torch_scatter.gather")):
        return _SEGMENT_LIB
    if op.startswith("torch_scatter.scatter"):
        return _SCATTER_LIB
    return None


def device_type_for(facts: FileFacts) -> str | None:
    """The file's accelerator when every Trainer/Fabric of it names the same "cpu"/"cuda"/"mps"
    (a constant `device_type` TorchScript accepts), else None: the tensor's device decides."""
    accelerators = {(s.accelerator or "").lower() for s in facts.settings}
    found = accelerators.pop() if len(accelerators) == 1 else None
    return {"gpu": "cuda"}.get(found, found) if found in ("cpu", "cuda", "gpu", "mps") else None


# ---- the fix ----------------------------------------------------------------------------

def add_fp32_fixes(facts: FileFacts, text: str, module: cst.Module, positions: Positions) -> None:
    """Give each op site of a scanned file the rewrite its unsafe PRC2xx fix applies (`site.fp32_fix`).

    Built where the scan ran, from the scanner's own module and Python's positions:
    the file is not parsed again and libcst positions are resolved only inside each
    rewritten call. `text` is the text the file was scanned from (during `--fix`
    passes the file on disk is older than the text).
    """
    file = None
    device_type = device_type_for(facts)
    for site in facts.ops:
        if shape_for(site.op) is not None and site.span in positions.op_nodes:
            file = file or _File(text, module, positions)
            site.fp32_fix = _region_fix(site, file, device_type)


def _region_fix(site: OpSite, file: _File, device_type: str | None) -> Fix | None:
    """The unsafe fix for one op site, or None when the call is not one we rewrite."""
    shape = shape_for(site.op)
    call, statement = file.positions.op_nodes[site.span]
    if not file.place(call, site.span, site.statement_span if statement is not None else None):
        return None
    if site.op.startswith("torch.") and any(a.keyword is not None and a.keyword.value == "out" for a in call.args):
        return None  # an `out=` buffer is written in place: an fp32 copy of it would not be
    upcast = _floating_arguments(call, shape)
    if not upcast:
        return None
    if site.op.startswith("torch_scatter.") and site.span in file.discarded:
        return None  # only an in-place write into `out` is used: an fp32 copy would lose it
    module_torch = _module_torch(file)  # the helpers' annotations need a module-level `import torch`
    torch = module_torch or "torch"
    like = next((node for node in upcast if _repeatable(node)), None)
    if shape.kept_fp32 is None and like is None:
        return None  # no input cheap enough to read the dtype back from
    new_call = _rewritten_call(file, call, upcast, like if shape.kept_fp32 is None else None)
    if site.op in AUTOCAST_LOWERED:
        edit = _autocast_region(file, site, call, statement, new_call, torch, device_type, like or upcast[0])
        if edit is None:
            return None
    else:
        edit = Edit(site.span, new_call)
    edits = [edit]
    text = file.text
    if f"def {UPCAST}(" not in text:
        edits.insert(0, _helpers_edit(file, torch, site))
    if module_torch is None:
        imports = _import_torch(file)
        if imports.span == edits[0].span:  # one insertion point: one edit, the import first
            edits[0] = Edit(imports.span, imports.content + _newline(text, 0) * 2 + edits[0].content)
        else:
            edits.insert(0, imports)
    title = "Compute it in fp32 when its inputs are fp16/bf16 (other dtypes run unchanged), " + (
        "cast back to their dtype" if shape.kept_fp32 is None else f"result kept in fp32: {shape.kept_fp32}")
    if site.op in AUTOCAST_LOWERED:
        title += ", with autocast off (it would run in half again)"
    return Fix("unsafe", title, tuple(edits))


class _File:
    """What the fix reads of one scanned file: its text, the scanner's module and positions.

    Offsets inside a rewritten call come from libcst positions resolved on that call
    alone, anchored at the call's start from Python's parse; statements, `def`s and
    `return`s take Python's positions. No libcst metadata of the whole file is resolved
    (unless the two parses disagree on the top-level statements: then the scanner's, once).
    """

    def __init__(self, text: str, module: cst.Module, positions: Positions):
        self.text = text
        self.module = module
        self.positions = positions
        self.index = LineIndex(text)
        self.uses_jit = "torch.jit" in text or "jit.script" in text
        self._offsets: dict = {}  # node -> (start, end) offsets in the text

    def place(self, call: cst.Call, span: Span, statement: Span | None) -> bool:
        """Offsets of `call` and of every node in it; False where the call's own code (libcst's,
        written alone) is not the text at `span` (never seen: the two parses would disagree);
        `statement` is the simple statement holding it, when there is one."""
        if call in self._offsets:
            return True
        alone_line = cst.SimpleStatementLine([cst.Expr(call)])
        indent = self._indent(span, statement)  # continuation lines inside the call start with it
        body = [cst.If(cst.Name("_"), cst.IndentedBlock([alone_line], indent=indent))] if indent else [alone_line]
        alone = cst.Module(body, default_newline=self.module.default_newline)
        ranges = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        code, start = alone.code, self.index.offset(span.line, span.column)
        written = LineIndex(code)
        base, end = (written.offset(where.line, where.column + 1) for where in (ranges[call].start, ranges[call].end))
        if code[base:end] != self.text[start:start + end - base] or self.index.span(start, start + end - base) != span:
            return False
        for node in _collect([call], cst.CSTNode):
            where = ranges[node]
            self._offsets[node] = tuple(start + written.offset(at.line, at.column + 1) - base
                                        for at in (where.start, where.end))
        return True

    def _indent(self, call: Span, statement: Span | None) -> str:
        """The indentation libcst writes inside the call: that of the simple statement holding it,
        else (in a compound statement's header) of the innermost statement holding it."""
        line = statement.line if statement is not None else call.line
        if statement is None:
            at = self.index.offset(call.line, call.column)
            holding = [start for start, end in self._statements if start <= at < end]
            line = self.index.position(max(holding))[0] if holding else line
        return INDENT_RE.match(self.text, self.index.starts[line - 1]).group()

    @cached_property
    def _statements(self) -> list:
        """(start, end) offsets of every statement, from Python's parse."""
        return [self.ast_offsets(node) for cls, nodes in self.positions.nodes.items() if issubclass(cls, ast.stmt)
                for node in nodes]

    def offset(self, node: cst.CSTNode, edge: str) -> int:
        return self._offsets[node][edge == "end"]

    def source(self, node: cst.CSTNode) -> str:
        return self.text[self.offset(node, "start"):self.offset(node, "end")]

    def ast_offsets(self, start: ast.AST, end: ast.AST | None = None) -> tuple[int, int]:
        span = self.positions.ast_span(start, end)
        return self.index.offset(span.line, span.column), self.index.offset(span.end_line, span.end_column)

    @cached_property
    def top_level(self) -> dict:
        """Each top-level statement -> its (start, end) offsets: Python's statements, one per
        compound statement and one per `;`-separated part of a line."""
        tree, body, found = self.positions.tree, self.module.body, {}
        statements = list(tree.body)
        for statement in body:
            count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
            group, statements = statements[:count], statements[count:]
            if len(group) < count:
                break
            found[statement] = self.ast_offsets(group[0], group[-1])
        if len(found) != len(body) or statements:  # the two parses disagree: the scanner's libcst positions
            found = {statement: self._libcst_offsets(statement) for statement in body}
        return found

    def _libcst_offsets(self, node: cst.CSTNode) -> tuple[int, int]:
        span = self.positions.span(node)
        return self.index.offset(span.line, span.column), self.index.offset(span.end_line, span.end_column)

    def line_of(self, statement: cst.CSTNode) -> int:
        """The first line of a top-level statement, its decorators included."""
        line = self.index.position(self.top_level[statement][0])[0]
        decorators = getattr(statement, "decorators", ())
        if decorators:  # the `@` of the first one: count the lines the decorators take
            taken = sum(len(LINE_END_RE.findall(self.module.code_for_node(d))) for d in decorators)
            line -= taken - len(decorators[0].leading_lines) + len(statement.lines_after_decorators)
        return line

    @cached_property
    def discarded(self) -> set:
        """Spans of the calls that are a whole statement (their result unused)."""
        return {self.positions.ast_span(node.value) for node in self.positions.nodes.get(ast.Expr, ())
                if isinstance(node.value, ast.Call)}

    @cached_property
    def functions(self) -> list:
        """(start, end, node) of every `def`, from Python's parse."""
        defs = self.positions.of_class(ast.FunctionDef, ast.AsyncFunctionDef)
        return [(*self.ast_offsets(node), node) for node in defs]


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


def _rewritten_call(file: _File, call: cst.Call, upcast: list, like: cst.CSTNode | None) -> str:
    """The call's own text with each floating input upcast and (when `like`) the result cast back."""
    start = file.offset(call, "start")
    pieces = []  # (offset, rank, text): at one offset closers come first, then the outer opener
    for node in upcast:
        pieces += [(file.offset(node, "start") - start, 3, f"{UPCAST}("),
                   (file.offset(node, "end") - start, 0, ")")]
    original = file.source(call)
    if like is not None:
        pieces += [(0, 2, f"{CAST_BACK}("), (len(original), 1, f", {file.source(like)})")]
    for at, _, piece in sorted(pieces, key=lambda p: (p[0], p[1]), reverse=True):
        original = original[:at] + piece + original[at:]
    return original


def _repeatable(node: cst.CSTNode) -> bool:
    """An expression cheap and pure enough to evaluate a second time (to read its dtype)."""
    if not isinstance(node, ATOMS) and not node.lpar:
        return False
    return _only_neutral_calls([node])


def _is_module_name(node: cst.BaseExpression) -> bool:
    """`torch.scatter_add(...)` in a file that never imports torch looks like a method call."""
    return isinstance(node, cst.Name) and node.value == "torch"


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _is_literal(node.expression)
    return isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)) or (
        isinstance(node, cst.Name) and node.value in ("None", "True", "False"))


def _only_neutral_calls(nodes) -> bool:
    """Only calls that cannot run a layer (x.size(0), idx.long(), len(x)...)."""
    for inner in _collect(nodes, cst.Call):
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


# ---- an autocast-off region, for the ops autocast would run in half ---------------------------

def _autocast_region(file: _File, site: OpSite, call: cst.Call, statement: cst.SimpleStatementLine | None,
                     new_call: str, torch: str, device_type: str | None, tensor: cst.CSTNode) -> Edit | None:
    """`name = op(...)` or `return op(...)`, alone on its lines, as a `with` block; None where the
    region could not be written faithfully (a layer would run with autocast off, a multi-line
    string would be re-indented) or TorchScript would reject it (a file that scripts code needs a
    constant device and no `return` before the region)."""
    if site.statement_span is None or statement is None:
        return None
    text, index = file.text, file.index
    start = index.offset(site.statement_span.line, site.statement_span.column)
    end = index.offset(site.statement_span.end_line, site.statement_span.end_column)
    indent = text[index.starts[site.statement_span.line - 1]:start]
    if indent.strip() or len(statement.body) != 1:
        return None  # after `;` or `if x:` on the same line
    small = statement.body[0]
    value = small.value if isinstance(small, (cst.Assign, cst.Return)) else None
    if value is not call or (isinstance(small, cst.Assign) and (
            len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name))):
        return None
    if not _only_neutral_calls([call.func, *call.args]) or any(
            "\n" in s.value or "\r" in s.value for s in _collect([small], (cst.SimpleString, cst.FormattedStringText))):
        return None
    if file.uses_jit and (device_type is None or _returns_before(file, start)):
        return None
    device = f'"{device_type}"' if device_type else f"{file.source(tensor)}.device.type"
    call_start, call_end = file.offset(call, "start") - start, file.offset(call, "end") - start
    body = text[start:end]
    body = body[:call_start] + new_call + body[call_end:]
    unit = "\t" if "\t" in indent else "    "
    newline = _newline(text, end)
    body = LINE_END_RE.sub(lambda m: m.group() + unit, body)
    return Edit(site.statement_span,
                f"with {torch}.autocast(device_type={device}, enabled=False):{newline}{indent}{unit}{body}")


def _returns_before(file: _File, start: int) -> bool:
    """A `return` earlier in the function holding `start` (TorchScript's exit transform then
    fails on a `with` block: "INTERNAL ASSERT FAILED at ir.cpp")."""
    functions = [(begin, node) for begin, end, node in file.functions if begin <= start < end]
    if not functions:
        return False
    innermost = max(functions, key=lambda f: f[0])[1]
    return any(file.ast_offsets(node)[0] < start for statement in innermost.body for node in ast.walk(statement)
               if isinstance(node, ast.Return))


# ---- what the module needs: the helpers, `import torch` ------------------------------------

def _newline(text: str, offset: int) -> str:
    found = LINE_END_RE.search(text, offset)
    return found.group() if found else "\n"


def _helpers_edit(file: _File, torch: str, site: OpSite) -> Edit:
    """The helpers, before the module's first top-level def or class (its comments and
    decorators included), or before the statement holding the site if that comes first;
    always after the module-level `import torch`."""
    text, index, where = file.text, file.index, file.top_level
    body = file.module.body
    torch_imported = max((where[s][1] for s in body if _imports_torch(s)), default=0)
    site_at = index.offset(site.span.line, site.span.column)
    chosen = None
    for statement in body:
        start, end = where[statement]
        defines = isinstance(statement, (cst.FunctionDef, cst.ClassDef))
        if start >= torch_imported and (defines or end > site_at):
            chosen = statement
            break
    newline = _newline(text, 0)
    helpers = HELPERS.format(up=UPCAST, back=CAST_BACK, torch=torch)
    if chosen is None:
        end = len(text)
        lead = "" if text.endswith(("\n", "\r")) else newline
        return Edit(index.span(end, end), lead + newline + newline + helpers.rstrip("\n") + "\n")
    line = file.line_of(chosen)
    while line > 1 and text[index.starts[line - 2]:index.starts[line - 1]].lstrip().startswith("#"):
        line -= 1  # comments right above the statement belong to it
    at = index.starts[line - 1]
    above, blank = text[:at].splitlines(), 0
    for previous in reversed(above[-2:]):  # two blank lines before the helpers, as before any def
        if previous.strip():
            break
        blank += 1
    return Edit(index.span(at, at), newline * (2 - blank if above else 0) + helpers)


def _torch_alias(statement: cst.CSTNode) -> str | None:
    """`T` for a top-level `import torch as T` (`torch` without `as`), else None."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    for small in statement.body:
        for alias in small.names if isinstance(small, cst.Import) else ():
            if isinstance(alias.name, cst.Name) and alias.name.value == "torch":
                return alias.asname.name.value if alias.asname else "torch"
    return None


def _module_torch(file: _File) -> str | None:
    return next((alias for alias in map(_torch_alias, file.module.body) if alias), None)


def _imports_torch(statement: cst.CSTNode) -> bool:
    return _torch_alias(statement) is not None


def _import_torch(file: _File) -> Edit:
    """`import torch` before the first statement that is not a docstring or a __future__ import."""
    text, index, module = file.text, file.index, file.module
    skipped = 0
    for statement in module.body:
        first = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        docstring = skipped == 0 and isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString)
        future = (isinstance(first, cst.ImportFrom) and isinstance(first.module, cst.Name)
                  and first.module.value == "__future__")
        if not (docstring or future):
            break
        skipped += 1
    if skipped < len(module.body):
        line = file.line_of(module.body[skipped])  # above its decorators, if any
    else:
        line = len(index.starts) if text.endswith(("\n", "\r")) else None
    newline = _newline(text, 0)
    if line is None:  # no statement after the docstring/__future__ block and no final newline
        end = len(text)
        return Edit(index.span(end, end), f"{newline}import torch{newline}")
    at = index.starts[line - 1]
    return Edit(index.span(at, at), f"import torch{newline}")

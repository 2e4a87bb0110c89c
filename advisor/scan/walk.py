"""The one walk over a file: scopes, classes, functions, statements, regions.

Every recorder (settings, ops, call edges, the PRC4xx visitor) reads this
state instead of tracking scopes itself. `walk` runs the state's visit
methods first and its leave methods last, so a recorder always sees the
scope of the node it visits. It counts calls, binary operations and simple
statement lines in source order: `positions.Positions` places them from
Python's parse by that ordinal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from advisor import lightning
from advisor.facts import ClassInfo, FileFacts, FunctionInfo
from advisor.scan.dtypes import DtypeFacts
from advisor.scan.imports import Scopes, dotted
from advisor.scan.roles import class_kind, function_context
from advisor.scan.traversal import visit_batched
from advisor.scan.values import literal

AUTOCASTS = ("torch.autocast", "torch.amp.autocast", "torch.cuda.amp.autocast", "torch.cpu.amp.autocast",
             "torch.amp.autocast_mode.autocast")


@dataclass
class Function:
    """An open function: where it runs and what its names hold."""

    qualname: str
    context: str
    info: FunctionInfo
    dtypes: DtypeFacts = field(default_factory=DtypeFacts)
    branch_depth: int = 0  # the walk's branch depth where the function starts


@dataclass
class Class:
    """An open class."""

    name: str
    kind: str  # "module" | "autograd" | "data" | "other"
    bases: tuple
    info: ClassInfo
    setting_kind: str | None = None
    lite: bool = False
    defines_init: bool = False  # its own or an inherited local __init__ (may reinterpret precision)


_VISITOR_NAMES: dict[type, tuple] = {}


class Recorder(cst.BatchableCSTVisitor):
    """A batchable visitor whose visit/leave methods are found once per class, not once per file
    (libcst's `get_visitors` inspects every member of the instance on each traversal).
    Every recorder reads and writes the one shared walk state it is given."""

    def __init__(self, walk: Walk):
        self.walk = walk

    def get_visitors(self) -> dict:
        cls = type(self)
        names = _VISITOR_NAMES.get(cls)
        if names is None:
            names = _VISITOR_NAMES[cls] = tuple(
                name for name in dir(cls) if name.startswith(("visit_", "leave_"))
                and callable(getattr(cls, name)) and not getattr(getattr(cls, name), "_is_no_op", False))
        return {name: getattr(self, name) for name in names}


class Walk:
    """The walk state every recorder reads; `enter` and `leave` are its two visitors."""

    def __init__(self, path: str, module: cst.Module, facts: FileFacts, aliases: dict, setting_classes: dict):
        self.path = path
        self.module = module
        self.facts = facts
        self.module_name = facts.module
        self.scopes = Scopes(self.module_name, aliases, path.endswith("__init__.py"))
        self.setting_classes = setting_classes  # third-party Trainer subclasses (catalogue data) -> kind
        self.classes: list[Class] = []
        self.local_classes: dict[str, Class] = {}
        self.functions: list[Function] = []
        self.statements: list[cst.CSTNode] = []
        self.assigned_calls: list[dict[str, cst.Call]] = [{}]
        self.uncertain: list[set] = [set()]  # per scope: names assigned twice or inside a branch
        # name -> the expression it was bound to: module constants, then per open function its
        # parameter defaults (None once a name is bound twice: its value is no longer known)
        self.bindings: list[dict[str, cst.BaseExpression | None]] = [{}]
        self.autocast_off = 0  # depth of open `autocast(enabled=False)` blocks
        self.branch_depth = 0  # open if/for/while/try blocks: an assignment there may not run
        self.call_ordinal = -1  # of the call being visited, in source order
        self.operation_ordinal = -1  # of the binary operation being visited, in source order
        self.pending: list = []  # (fact, node, statement or None): placed once the walk is over
        self.call_pending: list = []  # (edge, call ordinal, node)
        self.op_pending: list = []  # (site, call ordinal or None, node, statement ordinal, statement)
        self.statement_ordinals: list[int] = []  # of the open simple statement lines
        self.statement_count = 0
        self.enter = _Enter(self)
        self.leave = _Leave(self)

    # -- what recorders ask ---------------------------------------------------
    def qualify(self, node: cst.BaseExpression) -> str | None:
        return self.scopes.qualify(node)

    @property
    def function(self) -> Function | None:
        return self.functions[-1] if self.functions else None

    @property
    def cls(self) -> Class | None:
        return self.classes[-1] if self.classes else None

    @property
    def context(self) -> str:
        return self.functions[-1].context if self.functions else "module"

    @property
    def statement(self) -> cst.CSTNode | None:
        return self.statements[-1] if self.statements else None

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def bound_value(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """A name's single bound expression (a module constant or a parameter default), else the node."""
        if not isinstance(node, cst.Name):
            return node
        for scope in reversed(self.bindings):
            if node.value in scope:
                return scope[node.value] or node
        return node

    def setting_kind(self, qualified: str | None) -> tuple[str | None, bool]:
        """(kind, is 1.x Lite) of a class called or subclassed, from its qualified name."""
        kind = lightning.setting_kind(qualified) or self.setting_classes.get(qualified or "")
        if kind:
            return kind, False
        if lightning.is_lite(qualified):
            return "Fabric", True
        return None, False

    def is_self(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == "self" and bool(self.classes)

    def dtype_of(self, node: cst.BaseExpression) -> str | None:
        """"int", "fp32" or None for an expression in the current function."""
        function = self.function
        return function.dtypes.of(node, self) if function else DtypeFacts().of(node, self)


def _shadow(walk: Walk, name: str) -> None:
    """A local def/class named like an import (`def Trainer`) hides the import from here on."""
    if walk.scopes.lookup(name) is not None:
        walk.scopes.bind(name, f"{walk.module_name}.{name}")


class _Enter(Recorder):
    def visit_Import(self, node: cst.Import) -> None:
        walk = self.walk
        walk.scopes.add_import(node)
        for alias in node.names:
            if dotted(alias.name) == "torch":
                walk.facts.imports_torch_as = alias.asname.name.value if alias.asname else "torch"
        if not walk.functions and not walk.classes:
            walk.facts.bindings.update(walk.scopes.stack[0])

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        walk = self.walk
        if isinstance(node.names, cst.ImportStar):
            if not walk.functions and not walk.classes:
                walk.facts.star_imports += (walk.scopes.absolute(node),)
            return
        walk.scopes.add_import_from(node)
        if not walk.functions and not walk.classes:
            walk.facts.bindings.update(walk.scopes.stack[0])

    def visit_Assign(self, node: cst.Assign) -> None:
        walk = self.walk
        if len(node.targets) != 1:
            return
        target, value = node.targets[0].target, node.value
        if isinstance(target, cst.Name):
            qualified = walk.qualify(value) if isinstance(value, (cst.Name, cst.Attribute)) else None
            if qualified:  # `MyTrainer = L.Trainer`: calls through the new name still count
                walk.scopes.bind(target.value, qualified)
                if not walk.functions and not walk.classes:
                    walk.facts.bindings[target.value] = walk.scopes.canonical(qualified)
            if isinstance(value, cst.Call):
                walk.assigned_calls[-1][target.value] = value
            start = walk.functions[-1].branch_depth if walk.functions else 0
            if walk.branch_depth > start or target.value in walk.bindings[-1]:
                walk.uncertain[-1].add(target.value)  # a plugin built here may not be the one passed
            if target.value == "__all__" and not walk.functions and not walk.classes:
                walk.facts.all_names = _static_names(value)
            if not walk.classes or walk.functions:
                scope = walk.bindings[-1]
                scope[target.value] = None if target.value in scope else value
        elif (isinstance(target, cst.Attribute) and walk.is_self(target.value) and isinstance(value, cst.Call)):
            callee = walk.qualify(value.func) or _local(walk, value.func)
            if callee:  # `self.criterion = nn.BCELoss()`: calls of self.criterion run that class
                walk.classes[-1].info.attributes.setdefault(target.attr.value, callee)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        walk = self.walk
        _shadow(walk, node.name.value)
        bases = tuple(walk.qualify(arg.value) or _local(walk, arg.value) or "" for arg in node.bases
                      if arg.keyword is None)
        qualname = ".".join([*(c.name for c in walk.classes), node.name.value])
        info = ClassInfo(qualname=qualname, bases=bases)
        kind, lite = next((walk.setting_kind(b) for b in bases if walk.setting_kind(b)[0]), (None, False))
        local = next((walk.local_classes[b.rsplit(".", 1)[-1]] for b in bases
                      if b.startswith(walk.module_name + ".") and b.rsplit(".", 1)[-1] in walk.local_classes), None)
        if kind is None and local is not None:
            kind, lite = local.setting_kind, local.lite
        entry = Class(node.name.value, local.kind if local else class_kind(bases), bases, info, kind, lite,
                      defines_init=bool(local and local.defines_init))
        walk.classes.append(entry)
        walk.local_classes[entry.name] = entry
        walk.facts.classes[qualname] = info

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        walk = self.walk
        name = node.name.value
        _shadow(walk, name)
        owner = walk.classes[-1] if walk.classes else None
        if name == "__init__" and owner is not None and not walk.functions:
            owner.defines_init = True
        walk.scopes.push()
        walk.assigned_calls.append({})
        walk.uncertain.append(set())
        if walk.functions:  # nested functions run where their parent runs
            parent = walk.functions[-1]
            qualname, context, owner_name = f"{parent.qualname}.<locals>.{name}", parent.context, parent.info.owner
        else:
            qualname = f"{owner.info.qualname}.{name}" if owner else name
            context = function_context(owner.kind if owner else None, name)
            owner_name = owner.info.qualname if owner else None
        params = tuple(p.name.value for p in (*node.params.posonly_params, *node.params.params))
        info = FunctionInfo(qualname=qualname, path=walk.path, module=walk.module_name, context=context,
                            params=params, owner=owner_name)
        walk.facts.functions.setdefault(qualname, info)
        function = Function(qualname, context, walk.facts.functions[qualname], branch_depth=walk.branch_depth)
        function.dtypes.start(node.params)
        walk.functions.append(function)
        params = node.params
        walk.bindings.append({param.name.value: param.default for param in
                              (*params.posonly_params, *params.params, *params.kwonly_params)})

    def visit_With(self, node: cst.With) -> None:
        walk = self.walk
        off = any(isinstance(item.item, cst.Call) and _disables_autocast(item.item, walk) for item in node.items)
        walk.autocast_off += off
        self.walk.leave.with_off.append(off)

    def visit_If(self, node: cst.If) -> None:
        self.walk.branch_depth += 1

    visit_For = visit_While = visit_Try = visit_Match = visit_If

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        walk = self.walk
        walk.statements.append(node)
        walk.statement_ordinals.append(walk.statement_count)
        walk.statement_count += 1

    def visit_Call(self, node: cst.Call) -> None:
        self.walk.call_ordinal += 1

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self.walk.operation_ordinal += 1


class _Leave(Recorder):
    def __init__(self, walk: Walk):
        super().__init__(walk)
        self.with_off: list[bool] = []

    def leave_Assign(self, original_node: cst.Assign) -> None:
        walk = self.walk
        if walk.functions and len(original_node.targets) == 1 and isinstance(original_node.targets[0].target, cst.Name):
            function = walk.functions[-1]
            function.dtypes.assign(original_node.targets[0].target.value, original_node.value, walk,
                                   walk.branch_depth > function.branch_depth)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.walk.classes.pop()

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        walk = self.walk
        walk.bindings.pop()
        walk.scopes.pop()
        walk.assigned_calls.pop()
        walk.uncertain.pop()
        walk.functions.pop()

    def leave_With(self, original_node: cst.With) -> None:
        self.walk.autocast_off -= self.with_off.pop()

    def leave_If(self, original_node: cst.If) -> None:
        self.walk.branch_depth -= 1

    leave_For = leave_While = leave_Try = leave_Match = leave_If

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.walk.statements.pop()
        self.walk.statement_ordinals.pop()


def walk(module: cst.Module, state: Walk, recorders) -> None:
    """One traversal: the state's visit methods, every recorder, then the state's leave methods."""
    visit_batched(module, [state.enter, *recorders, state.leave])


def _local(walk: Walk, node: cst.BaseExpression) -> str | None:
    """`Name` defined in this file (not imported): qualified with the file's module."""
    if isinstance(node, cst.Name) and walk.scopes.lookup(node.value) is None:
        return f"{walk.module_name}.{node.value}"
    return None


def _disables_autocast(call: cst.Call, walk: Walk) -> bool:
    """`torch.autocast(..., enabled=False)`: the region where fp32 code belongs."""
    return walk.qualify(call.func) in AUTOCASTS and any(
        a.keyword is not None and a.keyword.value == "enabled" and literal(a.value, walk.qualify) is False
        for a in call.args)


def _static_names(value: cst.BaseExpression) -> tuple | None:
    if isinstance(value, (cst.List, cst.Tuple)):
        names = [e.value.evaluated_value for e in value.elements if isinstance(e.value, cst.SimpleString)]
        if len(names) == len(value.elements):
            return tuple(n for n in names if isinstance(n, str))
    return None

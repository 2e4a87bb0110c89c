"""Records precision settings: Trainer/Fabric/LightningCLI calls and their subclasses'.

A call to a project class that may be a Trainer subclass defined in another
module (its name says Trainer/Fabric/Lite, or it passes `precision=`) is kept
with `kind=None`; the project-wide judgement settles it once every module's
classes are known.
"""
from __future__ import annotations

import libcst as cst

from advisor import lightning
from advisor.facts import NOT_STATIC, Argument, Literal, PluginCall, Setting
from advisor.scan.opindex import EXTERNAL_ROOTS, may_name_a_trainer
from advisor.scan.values import branches, literal
from advisor.scan.walk import Recorder


class SettingRecorder(Recorder):
    def visit_Call(self, node: cst.Call) -> None:
        walk = self.walk
        qualified = walk.qualify(node.func)
        kind, lite = walk.setting_kind(qualified)
        unproven = None
        if kind is None and isinstance(node.func, cst.Name) and node.func.value in walk.local_classes:
            local = walk.local_classes[node.func.value]
            kind, lite = local.setting_kind, local.lite
            qualified = qualified or f"{walk.module_name}.{node.func.value}"
            if kind and local.defines_init:
                unproven = f"`{local.name}` subclasses {kind} and defines its own __init__"
        if kind is None and self._candidate(node, qualified):
            qualified = qualified or f"{walk.module_name}.{node.func.value}"
        elif kind is None:
            return
        self._record(kind, lite, qualified, node)
        walk.facts.settings[-1].unproven = unproven

    def _candidate(self, node: cst.Call, qualified) -> bool:
        """A call that may construct a Trainer subclass another module defines."""
        if qualified is None:
            if not isinstance(node.func, cst.Name) or node.func.value in self.walk.local_classes:
                return False
            qualified = node.func.value
        if qualified.split(".")[0] in EXTERNAL_ROOTS:
            return False
        return may_name_a_trainer(qualified.rsplit(".", 1)[-1], any(
            arg.keyword is not None and arg.keyword.value == "precision" for arg in node.args))

    def _argument(self, name: str, node) -> Argument:
        """`node` is a keyword Arg or a dict element: both hold the value in `.value`."""
        value = literal(node.value, self.walk.qualify)
        return Argument(name=name, text=self.walk.code(node.value), span=None,
                        value=None if value is NOT_STATIC else value, static=value is not NOT_STATIC)

    def _record(self, kind, lite: bool, qualified: str, node: cst.Call) -> None:
        walk = self.walk
        keywords = {arg.keyword.value: arg for arg in node.args if arg.keyword is not None}
        if kind == "LightningCLI":
            keywords = _cli_defaults(keywords)
            if keywords is None:
                return
        setting = Setting(kind=kind, path=walk.path, callee=qualified, span=None, call_span=None,
                          has_star_kwargs=any(arg.star == "**" for arg in node.args), lite=lite)
        setting.multiline = len(keywords) > 1 and all(
            "\n" in walk.code(arg.comma) for arg in list(keywords.values())[:-1]
            if arg.comma is not cst.MaybeSentinel.DEFAULT)
        for name, arg in keywords.items():
            setting.arguments[name] = self._argument(name, arg)
            walk.pending.append((("argument", setting, name), arg.value, arg))
        if "precision" in keywords:
            self._precision(setting, keywords["precision"].value)
        for name in ("accelerator", "devices", "strategy"):
            if name in keywords:
                setattr(setting, name, self._text_value(keywords[name].value))
        if "plugins" in keywords:
            self._plugins(setting, keywords["plugins"].value)
        walk.facts.settings.append(setting)
        walk.pending.append((setting, node.func, node))

    def _precision(self, setting: Setting, value: cst.BaseExpression) -> None:
        walk = self.walk
        leaves = [walk.bound_value(leaf) for leaf in branches(walk.bound_value(value))]
        literals = [literal(leaf, walk.qualify) for leaf in leaves]
        if any(v is NOT_STATIC or (isinstance(v, str) and "." in v and v not in lightning.VALID_PRECISIONS)
               for v in literals):
            return  # a variable or an expression: not static
        facts = []
        for leaf, val in zip(leaves, literals, strict=True):
            facts.append(Literal(value=val, text=walk.code(leaf), span=None))
            walk.pending.append((("literal", setting, len(facts) - 1), leaf, None))
        setting.literals = tuple(facts)
        normalized = {lightning.normalize(v) for v in literals}
        setting.normalized = normalized.pop() if len(normalized) == 1 else None

    def _text_value(self, node: cst.BaseExpression) -> str:
        walk = self.walk
        value = literal(node, walk.qualify)
        if isinstance(value, (str, int)) and value is not None:
            return str(value)
        if isinstance(node, cst.Call):
            qualified = walk.qualify(node.func) or (node.func.value if isinstance(node.func, cst.Name) else "")
            return qualified.rsplit(".", 1)[-1] or walk.code(node)
        return walk.code(node)

    def _plugins(self, setting: Setting, value: cst.BaseExpression) -> None:
        walk = self.walk
        items = [e.value for e in value.elements] if isinstance(value, (cst.List, cst.Tuple)) else [value]
        assigned = walk.assigned_calls[0] | walk.assigned_calls[-1]
        for item in items:
            conditional = False
            if isinstance(item, cst.Name) and item.value in assigned:
                scope = -1 if item.value in walk.assigned_calls[-1] else 0
                conditional = item.value in walk.uncertain[scope]
                item = assigned[item.value]
            if not isinstance(item, cst.Call):
                setting.plugins.append(walk.code(item))
                continue
            name = walk.qualify(item.func) or walk.code(item.func)
            call = PluginCall(name=name, span=None, conditional=conditional)
            for arg in item.args:
                if arg.keyword is not None:
                    call.arguments[arg.keyword.value] = self._argument(arg.keyword.value, arg)
                    walk.pending.append((("plugin-arg", call, arg.keyword.value), arg.value, None))
            setting.plugins.append(name)
            setting.plugin_calls.append(call)
            walk.pending.append((call, item, None))


def _cli_defaults(keywords: dict):
    """LightningCLI(trainer_defaults={...} or dict(...)): the dict stands in for the call."""
    arg = keywords.get("trainer_defaults")
    value = arg.value if arg is not None else None
    if isinstance(value, cst.Dict):
        return {element.key.evaluated_value: element for element in value.elements
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString)}
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict":
        return {a.keyword.value: a for a in value.args if a.keyword is not None}
    return None

"""Canonical op and class names: the catalogue's `[aliases]`, applied as the scanner applies them."""
from __future__ import annotations

from advisor.scan.imports import Scopes


def canonical(name: str, aliases: dict) -> str:
    """`torch_geometric.nn.conv.message_passing.MessagePassing` -> `torch_geometric.nn.MessagePassing`."""
    return Scopes("", aliases).canonical(name)

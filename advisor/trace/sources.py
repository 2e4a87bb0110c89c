"""Which named files are worth importing for `--trace`: those that define a class.

`check src/*.py --trace` names helpers too; importing a file that defines no
class (so no LightningModule) would run its code for nothing, so it is left
to the static check. Read as text: no import, no torch.
"""
from __future__ import annotations

import re
from pathlib import Path

_CLASS = re.compile(rb"^[ \t]*class[ \t]+\w+[ \t]*[(:]", re.MULTILINE)


def defines_classes(path: str) -> bool:
    try:
        return bool(_CLASS.search(Path(path).read_bytes()))
    except OSError:
        return True  # let the child report it as the one clear error

"""The public Python API: what the CLI, the flake8 plugin and the tests call."""
from __future__ import annotations

from typing import Optional

from advisor import engine
from advisor.catalogue import load_catalogue
from advisor.config import Config
from advisor.engine import Report
from advisor.scanner import OpIndex


def check(paths: list[str], config: Optional[Config] = None, *, stdin: Optional[tuple] = None,
          jobs: Optional[int] = None) -> Report:
    """Check files and folders (or one `(name, text)` from stdin) with a config."""
    config = config or Config()
    catalogue = load_catalogue(config.extra_rules)
    results = engine.run(paths, config, catalogue, OpIndex.build(catalogue), jobs=jobs, stdin=stdin)
    return engine.finalize(results, catalogue, config)


def check_text(text: str, path: str = "<string>", config: Optional[Config] = None) -> Report:
    """Check one source text as if it were the file `path`."""
    return check([path], config, stdin=(path, text))

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=None, stdin=None, env=None, text=True, **options):
    """Run `python -m advisor ...` in a subprocess, like a user's shell would
    (`options` go to subprocess.run, e.g. preexec_fn to cap its resources)."""
    return subprocess.run([sys.executable, "-m", "advisor", *map(str, args)], cwd=cwd or ROOT, input=stdin,
                          capture_output=True, text=text, env=env, timeout=300, **options)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """CLI runs cache per-file results: keep them in this session's temporary folder, not the user's."""
    import os
    os.environ.setdefault("PREC_ADVISOR_CACHE_DIR", str(tmp_path_factory.mktemp("prec-advisor-cache")))


@pytest.fixture
def cli():
    return run_cli

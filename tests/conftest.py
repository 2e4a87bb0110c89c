"""Shared helpers, and the markers that split the suite.

Markers (registered in pyproject.toml; `slow` tests run only when -m names them, e.g. `-m slow`):
  torch       the test needs torch (or lightning, bitsandbytes, PyG), in this process or in a
              child it starts; `pytest -m "not torch"` is the static suite
  subprocess  the test starts processes (the CLI, a traced or validated script, pre-commit, pip)
Marks come from the tables below, by test file, and for a file holding both kinds by words of
the test's name. A guard keeps the torch table honest: an unmarked test's children find stubs
that refuse to import torch and its kin, and an unmarked test that imports torch in this process
fails, so a missing mark shows up as a failure under `-m "not torch"`, never as a silent pass.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVERY_TEST = ()
# test file -> words of the test names that need torch (EVERY_TEST: the whole file)
TORCH_TESTS = {
    "test_callback.py": EVERY_TEST,
    "test_callback_runtime.py": EVERY_TEST,
    "test_cli_fix_trace.py": ("trace", "validate"),
    "test_detect.py": ("through_torch",),
    "test_env_command.py": ("torch_probe",),
    "test_faults.py": EVERY_TEST,
    "test_fixed_code_runs.py": EVERY_TEST,
    "test_fixed_settings_run.py": EVERY_TEST,
    "test_modelload.py": EVERY_TEST,
    "test_rule_examples.py": ("runtime",),
    "test_trace_api.py": EVERY_TEST,
    "test_trace_census.py": EVERY_TEST,
    "test_trace_dispatch.py": EVERY_TEST,
    "test_trace_graph.py": EVERY_TEST,
    "test_trace_project.py": EVERY_TEST,
    "test_validate_cli.py": EVERY_TEST,
    "test_validate_settings.py": EVERY_TEST,
}
SUBPROCESS_FILES = {
    "test_adversarial.py", "test_advice_cli.py", "test_cache.py", "test_callback.py", "test_check_cli.py",
    "test_cli_fix_trace.py", "test_detect.py", "test_env_command.py", "test_faults.py", "test_fix_safety.py",
    "test_fixed_code_runs.py", "test_fixed_settings_run.py", "test_flake8_plugin.py", "test_isolation.py",
    "test_lazy_cli.py", "test_precommit.py", "test_project_modules.py", "test_recommend.py", "test_settings_facts.py",
    "test_trace_api.py", "test_trace_census.py", "test_trace_dispatch.py", "test_trace_graph.py",
    "test_trace_project.py", "test_validate_cli.py", "test_validate_settings.py", "test_wheel.py",
    "test_yaml_settings.py",
}
DEEP_PACKAGES = ("torch", "lightning", "pytorch_lightning", "bitsandbytes", "torch_geometric")


def package_source(name: str) -> Path:
    """The source folder of an installed package, found without importing it (read as text, never run)."""
    return Path(next(iter(importlib.util.find_spec(name).submodule_search_locations)))


def run_cli(*args, cwd=None, stdin=None, env=None, text=True, **options):
    """Run `python -m advisor ...` in a subprocess, like a user's shell would
    (`options` go to subprocess.run, e.g. preexec_fn to cap its resources)."""
    options.setdefault("timeout", 300)
    return subprocess.run([sys.executable, "-m", "advisor", *map(str, args)], cwd=cwd or ROOT, input=stdin,
                          capture_output=True, text=text, env=env, **options)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """CLI runs cache per-file results: keep them in this session's temporary folder, not the user's."""
    import os
    os.environ.setdefault("PREC_ADVISOR_CACHE_DIR", str(tmp_path_factory.mktemp("prec-advisor-cache")))


@pytest.fixture
def cli():
    return run_cli


def _needs_torch(item) -> bool:
    words = TORCH_TESTS.get(item.path.name)
    return words is not None and (words == EVERY_TEST or any(word in item.name for word in words))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _needs_torch(item):
            item.add_marker(pytest.mark.torch)
        if item.path.name in SUBPROCESS_FILES:
            item.add_marker(pytest.mark.subprocess)
    if "slow" not in config.option.markexpr:  # so that `-m "not torch"` does not bring the slow ones back
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(scope="session")
def _torch_stubs(tmp_path_factory):
    """A folder of modules named like the deep packages that refuse to be imported."""
    folder = tmp_path_factory.mktemp("no-torch")
    for name in DEEP_PACKAGES:
        (folder / f"{name}.py").write_text(
            f"raise ImportError('{name} imported by a test not marked `torch`: add it to TORCH_TESTS in "
            "tests/conftest.py')\n")
    return folder


@pytest.fixture(autouse=True)
def _torch_guard(request, monkeypatch):
    if request.node.get_closest_marker("torch"):
        yield
        return
    stubs = request.getfixturevalue("_torch_stubs")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(stubs), os.environ.get("PYTHONPATH")])))
    before = {name for name in DEEP_PACKAGES if name in sys.modules}
    yield
    imported = {name for name in DEEP_PACKAGES if name in sys.modules} - before
    assert not imported, f"{request.node.nodeid} imported {sorted(imported)}: add it to TORCH_TESTS in conftest.py"

"""The pre-commit hooks, run by the real pre-commit against a snapshot of this working tree.

`pre-commit try-repo` on a dirty repository commits only tracked files (`git add -u`), so the
snapshot copies tracked and untracked-but-not-ignored files into a fresh git repository: the
hooks are tested as they are on disk now.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
BAD = "import lightning as L\ntrainer = L.Trainer(precision=16)\n"
CLEAN = 'import lightning as L\ntrainer = L.Trainer(precision="bf16-mixed")\n'
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]


def git(cwd, *args):
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("hook-repo")
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "snapshot")
    return repo, git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def target(tmp_path, files):
    git(tmp_path, "init", "-q")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    if files:
        git(tmp_path, "add", *files)
    return tmp_path


def pre_commit(cwd, home, *args):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    return subprocess.run([*PRE_COMMIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_try_repo_fails_on_a_bad_file_and_shows_the_finding(tmp_path, hook_repo, home):
    repo, _ = hook_repo
    project = target(tmp_path, {"train.py": BAD, "README.md": "precision=16\n"})
    result = pre_commit(project, home, "try-repo", str(repo), "prec-advisor", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "prec-advisor" in result.stdout and "Failed" in result.stdout
    assert "train.py:2:31: PRC101" in result.stdout


@pytest.fixture(scope="module")
def configured(hook_repo, home, tmp_path_factory):
    """A project whose .pre-commit-config.yaml uses the hooks; the environment is built once."""
    repo, rev = hook_repo
    project = tmp_path_factory.mktemp("project")
    config = (f"repos:\n-   repo: {repo}\n    rev: {rev}\n    hooks:\n    -   id: prec-advisor\n"
              "    -   id: prec-advisor-fix\n")
    target(project, {".pre-commit-config.yaml": config})
    assert pre_commit(project, home, "install-hooks").returncode == 0
    return project


def run_hook(project, home, hook, files):
    """Stage the files (pre-commit sees a hook's changes as a diff against the index) and run the hook."""
    for name, text in files.items():
        (project / name).write_text(text)
    git(project, "add", *files)
    return pre_commit(project, home, "run", hook, "--files", *files)


def test_clean_file_passes(configured, home):
    result = run_hook(configured, home, "prec-advisor", {"clean.py": CLEAN})
    assert result.returncode == 0 and "Passed" in result.stdout, result.stdout


def test_zero_files_pass(configured, home):
    # a commit that touches no Python or YAML file (TorchFix's hook crashed on this, torchfix#63)
    result = run_hook(configured, home, "prec-advisor", {"README.md": "precision=16\n"})
    assert result.returncode == 0 and "no files to check" in result.stdout, result.stdout


def test_hook_environment_has_no_torch(configured, home):
    pythons = list(Path(home).glob("repo*/py_env-*/bin/python"))
    assert pythons
    probe = "import importlib.util as u; print([m for m in ('torch', 'lightning') if u.find_spec(m)])"
    hook_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # what the hook itself sees
    for python in pythons:
        result = subprocess.run([python, "-c", probe], capture_output=True, text=True, env=hook_env, timeout=120)
        assert result.stdout.strip() == "[]"


def _cli_has(option):
    return option in subprocess.run([sys.executable, "-m", "advisor", "check", "--help"], capture_output=True,
                                    text=True).stdout


@pytest.mark.skipif(not _cli_has("--fix"), reason="`prec-advisor check --fix` is not there yet")
def test_fix_hook_rewrites_and_fails_then_passes(configured, home):
    result = run_hook(configured, home, "prec-advisor-fix", {"fixme.py": BAD})
    assert result.returncode == 1 and "files were modified by this hook" in result.stdout, result.stdout
    assert (configured / "fixme.py").read_text() == BAD.replace("precision=16", 'precision="16-mixed"')
    git(configured, "add", "fixme.py")
    again = pre_commit(configured, home, "run", "prec-advisor-fix", "--files", "fixme.py")
    assert again.returncode == 0, again.stdout


def test_yaml_config_is_checked(configured, home):
    result = run_hook(configured, home, "prec-advisor", {"config.yaml": "trainer:\n  precision: 16  # legacy\n",
                                                          "ci.yml": "on: [push]\njobs: {}\n"})
    assert result.returncode == 1 and "config.yaml:2:14: PRC101" in result.stdout, result.stdout
    assert "ci.yml" not in result.stdout

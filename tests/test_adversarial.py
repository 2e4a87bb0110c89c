"""Hostile inputs through `prec-advisor check`: each is a one-line error naming the file, or is
checked normally; never a traceback, a crash or a hang, and `--fix` leaves what it cannot handle
byte-identical. One tree holds them all, so one run also shows the other files are still checked.

Single bad inputs (syntax error, NUL, Latin-1, binary, unreadable) have their own tests in
test_check_cli.py; here they sit together with the rest.
"""
import hashlib
import json
import os
import resource

import libcst as cst
import pytest

from conftest import run_cli

LEGACY = "import lightning as L\nL.Trainer(precision=16)\n"
MEMORY_CAP = 2 * 2**30  # address space of the whole run: a file that blew up libcst would hit it
CPU_CAP_S = 60  # CPU seconds of the whole run (load-independent); a hang ends at run_cli's timeout

# name -> (content, words of its one-line PRC001 error, or None when it is checked normally)
FILES = {
    "binary.py": (bytes(range(256)) * 4, "NUL bytes"),
    "nul.py": (b"x = 1\x00\n", "NUL bytes"),
    "latin1.py": (b"caf\xe9 = 1\n", "cannot decode as utf-8"),
    "empty.py": (b"", None),
    "comments.py": (b"# only a comment\n# precision=16 in a comment is not a setting\n", None),
    "deep_parens.py": ((LEGACY + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n").encode(), "nested parentheses"),
    "deep_calls.py": ((LEGACY + "x = f" + "()" * 5000 + "\n").encode(), "nesting too deep"),
    "deep_lambdas.py": ((LEGACY + "x = " + "lambda: " * 5000 + "1\n").encode(), "nesting too deep"),
    "and_chain.py": ((LEGACY + "x = " + " and ".join(["a"] * 20000) + "\n").encode(), "operands in one"),
    "long_line.py": (("import lightning as L\ns = '" + "a" * 2**20 + "'\nL.Trainer(precision=16)\n").encode(), None),
    "five_mb.py": ((LEGACY + "x = 1\n" * (5 * 2**20 // 6)).encode(), "larger than 2 MB"),
    "python2.py": (b"print 'hello'\n", "Missing parentheses"),
    "tabs.py": (b"if True:\n\tx = 1\n        y = 2\n", "inconsistent use of tabs"),
    "with space [1].py": (LEGACY.encode(), None),
    "x.py/inner.py": (LEGACY.encode(), None),  # a directory named x.py is walked, not read
    "ok.py": (LEGACY.encode(), None),
    "config.yaml": (b"trainer: [unclosed\n  precision: : 16\n\t- tab\n", None),  # not YAML: left alone
    "binary.yaml": (b"\x00\x01trainer:\n", "NUL bytes"),
}
LINKS = {"loop_a.py": "loop_b.py", "loop_b.py": "loop_a.py", "dangling.py": "missing.py", "sub/up": ".."}
LINK_ERRORS = {"loop_a.py": "Too many levels of symbolic links", "loop_b.py": "Too many levels of symbolic links",
               "dangling.py": "No such file or directory"}
FIXABLE = {"long_line.py", "with space [1].py", "x.py/inner.py", "ok.py"}
ERRORS = {**{name: words for name, (_, words) in FILES.items() if words}, **LINK_ERRORS,
          "pipe.py": "not a regular file"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    for name, (content, _) in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    for name, target in LINKS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / name)
    os.mkfifo(root / "pipe.py")  # reading it would block forever
    return root


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def check(tree, *args):
    """Run check on the whole tree (the YAML files named, as pre-commit does) under the caps."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_cli("check", ".", "config.yaml", "binary.yaml", *args, cwd=tree, preexec_fn=_capped)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) < CPU_CAP_S
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def snapshot(tree):
    return {str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "pipe.py"}


@pytest.fixture(scope="module")
def checked(tree):
    return check(tree)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_hostile_file_is_one_line_naming_it(checked, name):
    lines = [line for line in checked.stdout.splitlines() if line.startswith(f"{name}:")]
    assert len(lines) == 1 and " PRC001 " in lines[0] and ERRORS[name] in lines[0], lines


def test_the_others_are_still_checked_and_the_exit_code_is_2(checked):
    assert checked.returncode == 2
    flagged = {line.split(":", 1)[0] for line in checked.stdout.splitlines() if " PRC101 " in line}
    assert flagged == FIXABLE
    clean = {"empty.py", "comments.py", "config.yaml"}
    assert not [line for line in checked.stdout.splitlines() if line.split(":", 1)[0] in clean]


def test_json_stays_one_document_and_errors_reach_stderr(tree):
    result = check(tree, "--format", "json")
    data = json.loads(result.stdout)
    assert {f["path"] for f in data["findings"] if f["code"] == "PRC001"} == set(ERRORS)
    assert len([line for line in result.stderr.splitlines() if ": error: " in line]) == len(ERRORS)


def test_diff_writes_nothing_and_fix_touches_only_the_fixable(tree):
    before = snapshot(tree)
    assert check(tree, "--diff").returncode == 2 and snapshot(tree) == before
    result = check(tree, "--fix", "--unsafe-fixes")
    after = snapshot(tree)
    assert result.returncode == 2
    assert {name for name in before if before[name] != after[name]} == FIXABLE
    for name in FIXABLE:
        cst.parse_module((tree / name).read_bytes())
    assert check(tree, "--fix").returncode == 2 and snapshot(tree) == after


@pytest.mark.parametrize("data, words", [
    (b'x = "\xff\xfe"\n', "cannot decode as utf-8"),
    (b"x = 1\x00\n", "NUL bytes"),
])
@pytest.mark.parametrize("mode", ["check", "fix"])
def test_undecodable_stdin_is_one_line_and_fix_echoes_it(tree, data, words, mode):
    result = run_cli("check", "-", *(["--fix"] if mode == "fix" else []), stdin=data, text=False, cwd=tree)
    error = result.stderr.decode()
    assert result.returncode == 2 and error.count("\n") == 1 and words in error and "Traceback" not in error
    assert result.stdout == (data if mode == "fix" else b"")  # an editor piping its buffer keeps it


def test_stdin_fix_keeps_the_coding_cookie_bytes(tree):
    data = b"# -*- coding: latin-1 -*-\nimport lightning as L\ns = '\xe9'\nL.Trainer(precision=16)\n"
    result = run_cli("check", "-", "--fix", stdin=data, text=False, cwd=tree)
    assert result.stdout == data.replace(b"precision=16", b'precision="16-mixed"')

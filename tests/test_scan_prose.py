"""Docstrings and comments are prose: blanking them keeps the code, its strings and its noqa comments where
they were, and a word only prose holds makes no file worth libcst's parse."""
import ast
import io
import keyword
import tokenize
from pathlib import Path

from advisor.api import Checker, check
from advisor.config import Config
from advisor.scan.prose import without_prose
from advisor.scan.pytree import PythonTree

from conftest import ROOT, package_source

SOURCE = '''\
"""Module docs: scatter_add_ and 1e-8."""
import torch  # scatter_add_ in a comment
s = "# a string, not a comment"; t = f"{s} # still a string"  # x.masked_fill(m, -1e9)
def f(x):
    """Docs naming é and index_add_
    over two lines."""
    return x + 1e-8  # noqa: PRC211
d = "é"  # comment after é
'''


def test_docstrings_and_comments_go_code_strings_and_noqa_stay():
    code = without_prose(SOURCE, ast.walk(ast.parse(SOURCE)))
    assert len(code) == len(SOURCE) and code.count("\n") == SOURCE.count("\n")
    lines = code.splitlines()
    assert lines[0].strip() == "" and lines[4].strip() == "" and lines[5].strip() == ""
    assert lines[1].rstrip() == "import torch"
    assert lines[2].rstrip() == 's = "# a string, not a comment"; t = f"{s} # still a string"'
    assert lines[6] == "    return x + 1e-8  # noqa: PRC211"
    assert lines[7].rstrip() == 'd = "é"'
    for prose in ("scatter_add_", "index_add_", "masked_fill", "comment after"):
        assert prose not in code


def test_a_file_without_prose_is_its_own_code():
    text = "x = 1\r\ny = 'a'\r\n"
    assert without_prose(text, ast.walk(ast.parse(text))) is text


def parsed_files(folder) -> dict:
    """Whether the scan parsed each file (by name) with libcst; the others were read by Python's parse alone."""
    return {Path(r.path).name: r.facts.parsed for r in Checker.create().scan([str(folder)], jobs=1)}


def test_a_trigger_word_counts_where_the_code_uses_it_not_where_prose_says_it(tmp_path):
    (tmp_path / "prose.py").write_text('"""Built on torch_scatter.scatter_add and Tensor.index_add_."""\n'
                                       "import torch  # softmax, scatter_add_\n\n\ndef shift(x):\n"
                                       '    """Calls no scatter_add."""\n    return x + 1\n')
    (tmp_path / "code.py").write_text("import torch\n\n\ndef accumulate(x, i):\n"
                                      "    return torch.zeros(3).index_add_(0, i, x)\n")
    (tmp_path / "alias.py").write_text("from torch_scatter import scatter_add as add\n\n\ndef f(x, i):\n"
                                       "    return add(x, i)\n")
    (tmp_path / "module.py").write_text("from torch.linalg import inv\n\n\ndef f(p):\n"
                                        "    return inv(p)\n")  # the trigger is linalg's every name
    assert parsed_files(tmp_path) == {
        "prose.py": False, "code.py": True, "alias.py": True, "module.py": True}


def test_a_project_wrapper_named_only_in_prose_makes_no_file_worth_parsing(tmp_path):
    (tmp_path / "ops.py").write_text("import torch\n\n\ndef aggregate(x, index, n):\n"
                                     "    return x.new_zeros(n, x.size(1)).index_add_(0, index, x)\n")
    (tmp_path / "model.py").write_text("import torch\n\nfrom ops import aggregate\n\n\nclass Net(torch.nn.Module):\n"
                                       "    def forward(self, x, index):\n        return aggregate(x, index, 10)\n")
    (tmp_path / "notes.py").write_text('"""Like ops.aggregate, but in numpy."""\n\n\ndef total(values):\n'
                                       "    return sum(values)  # aggregate would accumulate\n")
    parsed = parsed_files(tmp_path)
    assert (parsed["model.py"], parsed["notes.py"]) == (True, False)
    report = check([str(tmp_path)], Config(select=("PRC2",)), jobs=1)
    assert [(Path(f.path).name, f.line, f.code) for f in report.findings] == [("model.py", 8, "PRC202")]


def _code_sources():
    from test_traversal import EVERY_SYNTAX

    yield EVERY_SYNTAX
    lightning = package_source("lightning") / "pytorch" / "trainer"
    for folder in (ROOT / "examples", ROOT / "tests" / "fixtures", ROOT / "tests" / "projects", lightning):
        for path in sorted(folder.rglob("*.py")):
            try:
                yield path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # (fixtures that test undecodable input)


def test_every_identifier_of_the_code_is_a_code_word():
    """The pre-filter's words are every name token the tokenizer reads outside strings and comments."""
    checked = 0
    for text in _code_sources():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue  # (fixtures that test unparsable input)
        tokens = {t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME}
        assert tokens - PythonTree(tree).words <= {*keyword.kwlist, *keyword.softkwlist}
        checked += 1
    assert checked > 60

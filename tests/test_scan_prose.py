"""Blanking docstrings and comments keeps the code, its strings and its noqa comments where they were."""
import ast

from advisor.scan.prose import without_prose

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

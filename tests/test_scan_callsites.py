"""An op pattern's trigger makes a file worth libcst's parse only where Python's parse holds a call the op
recorder could record; the test never drops a file in which the libcst pass records a site."""
from pathlib import Path

from test_scan_prose import parsed_files

from advisor.api import Checker, check
from advisor.config import Config
from advisor.facts import FileFacts
from advisor.scan.callsites import may_record_op
from advisor.scan.files import module_name_for
from advisor.scan.pytree import PythonTree
from advisor.scan.recording import record
from advisor.scan.scanner import guard_parse

from conftest import ROOT, package_source

# (The files of each set share a folder: no function of the first set is named like one of the second, whose
# accumulating functions make a wrapper round parse every file that names them.)
NOT_WORTH_PARSING = {
    # only torch_sparse.matmul is catalogued:
    "only_torch_matmul.py": "import torch\n\n\ndef product(a, b):\n    return torch.matmul(a, b)\n",
    "isinstance_only.py": "from torch_geometric.nn import MessagePassing\n\n\ndef is_conv(m):\n"
                          "    return isinstance(m, MessagePassing)\n",
    "eps_default.py": "def step(x, eps=1e-8):\n    return x / eps\n",
    "import_never_called.py": "from torch_scatter import scatter_add\n\n__all__ = ['scatter_add']\n",
    "reference_not_call.py": "import torch\n\nOPS = {'inv': torch.linalg.inv}\n",
    "relative_project_call.py": "from ..utils import scatter\n\n\ndef gather(x, i):\n    return scatter(x, i)\n",
    "self_alias.py": "import torch\n\nlinalg = torch\nfor _ in range(3):\n    linalg = linalg.linalg\n"
                     "matmul = linalg.matmul\n",  # (a name that extends itself: read once per assignment)
    "sum_without_half_dtype.py": "import torch\n\n\ndef total(x):\n    y = torch.zeros(3, dtype=torch.bfloat16)\n"
                                 "    return x.sum(1) + y\n",  # the rule is about sum(dtype=torch.bfloat16)
    "scatter_max.py": "from torch_geometric.utils import scatter\n\n\ndef pool(x, i):\n"
                      "    return scatter(x, i, reduce='max')\n",  # max accumulates nothing
    "finfo_tiny.py": "import torch\n\n\ndef safe(x):\n    return x.clamp(min=torch.finfo(torch.float32).tiny)\n",
    "local_shadow.py": "def scatter_add(x):\n    return x\n\n\ndef passthrough(x):\n    return scatter_add(x)\n",
}
WORTH_PARSING = {
    "sparse_matmul.py": "from torch_sparse import matmul\n\n\ndef f(a, b):\n    return matmul(a, b)\n",
    "alias_assigned.py": "import torch\n\ninv = torch.linalg.inv\n\n\ndef f(p):\n    return inv(p)\n",
    "alias_of_alias.py": "import torch.linalg as la\n\nsolve = la\nf = solve.inv\n\n\ndef g(p):\n    return f(p)\n",
    "alias_rebound.py": "import torch\n\nx = torch\nx = x.linalg\ninv = x.inv\n\n\ndef g(p):\n    return inv(p)\n",
    "local_import.py": "def f(x, i):\n    from torch_scatter import scatter_add as add\n    return add(x, i)\n",
    "method.py": "def f(out, i, x):\n    return out.index_add_(0, i, x)\n",
    "max_base.py": "from torch_geometric.nn import MessagePassing as Base\n\n\nclass MaxConv(Base):\n"
                   "    def __init__(self):\n        super().__init__(aggr='max')\n",
    "propagate.py": "from project.base import MyBase\n\n\nclass Conv(MyBase):\n"
                    "    def forward(self, x, e):\n        return self.propagate(e, x=x)\n",
    "sum_half_dtype.py": "import torch\n\n\ndef total(x):\n    return x.sum(dtype=torch.float16)\n",
    "scatter_reduce_unknown.py": "from torch_geometric.utils import scatter\n\n\ndef pool(x, i, mode):\n"
                                 "    return scatter(x, i, reduce=mode)\n",  # its value is not static: may be "sum"
    "finfo_fill.py": "import torch\n\n\ndef mask(x, m):\n    return x.masked_fill(m, torch.finfo(torch.float32).min)\n",
    "clamp_tiny_eps.py": "def safe(x):\n    return x.clamp(min=-1e-10)\n",
    "self_attribute.py": "import torch\n\n\nclass M(torch.nn.Module):\n    def __init__(self):\n"
                         "        self.loss = torch.nn.BCELoss()\n\n    def forward(self, p, y):\n"
                         "        return self.loss(p, y)\n",
    "float_add.py": "def f(x):\n    return x + -1e-8\n",
}


def test_a_trigger_counts_only_where_a_call_could_be_an_op_site(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name, text in {**NOT_WORTH_PARSING, **WORTH_PARSING}.items():
        (tmp_path / "pkg" / "sub" / name).write_text(text)
    parsed = parsed_files(tmp_path)
    assert {name for name in NOT_WORTH_PARSING if parsed[name]} == set()
    assert {name for name in WORTH_PARSING if not parsed[name]} == set()


def test_a_wrapper_round_parses_the_files_that_call_a_wrapper_not_those_that_only_name_it(tmp_path):
    (tmp_path / "ops.py").write_text("def aggregate(x, index, n):\n"
                                     "    return x.new_zeros(n, x.size(1)).index_add_(0, index, x)\n")
    (tmp_path / "reexport.py").write_text("from ops import aggregate\n\n__all__ = ['aggregate']\n")
    (tmp_path / "hinted.py").write_text("from ops import aggregate\n\n\ndef uses(fn=aggregate):\n"
                                        "    return isinstance(fn, type(aggregate))\n")
    (tmp_path / "aliased.py").write_text("from ops import aggregate as agg\n\nfn = agg\n\n\ndef run(x, i):\n"
                                         "    return fn(x, i, 3)\n")
    (tmp_path / "subclassed.py").write_text("import ops\n\n\nclass Mine(ops.aggregate):\n    pass\n")
    parsed = parsed_files(tmp_path)
    assert (parsed["reexport.py"], parsed["hinted.py"], parsed["aliased.py"], parsed["subclassed.py"]) == (
        False, False, True, True)


def test_a_file_left_unparsed_still_gives_its_chain_when_it_calls_a_wrapper(tmp_path):
    """`torch.matmul` (not catalogued) made the first round pass the model by; the wrapper round reads it."""
    (tmp_path / "ops.py").write_text("import torch\n\n\ndef aggregate(x, index, n):\n"
                                     "    return x.new_zeros(n, x.size(1)).index_add_(0, index, x)\n")
    (tmp_path / "model.py").write_text("import torch\n\nfrom ops import aggregate\n\n\nclass Net(torch.nn.Module):\n"
                                       "    def forward(self, x, index, w):\n"
                                       "        return aggregate(torch.matmul(x, w), index, 10)\n")
    report = check([str(tmp_path)], Config(select=("PRC2",)), jobs=1)
    assert [(Path(f.path).name, f.line, f.code) for f in report.findings] == [("model.py", 8, "PRC202")]


def _corpus():
    pyg, lightning = package_source("torch_geometric"), package_source("lightning")
    for folder in (ROOT / "examples", ROOT / "tests" / "fixtures", ROOT / "tests" / "projects", pyg / "nn",
                   pyg / "utils", lightning / "pytorch" / "trainer"):  # read as text, never imported
        yield from sorted(folder.rglob("*.py"))


def test_every_file_whose_libcst_pass_records_a_site_passes_the_call_test():
    index, with_sites, without = Checker.create().index, 0, 0
    for path in _corpus():
        try:
            text = path.read_text(encoding="utf-8")
            tree = PythonTree(guard_parse(text, str(path)))
        except (UnicodeDecodeError, SyntaxError, RecursionError):
            continue  # (fixtures that test bad input)
        facts, _, _ = record(str(path), text, tree, FileFacts(path=str(path), module=module_name_for(str(path))),
                             index, [])
        found = may_record_op(tree, facts.module, path.name == "__init__.py", index)
        assert found or not facts.ops, f"{path}: {[site.op for site in facts.ops]}"
        with_sites += bool(facts.ops)
        without += not found
    assert with_sites > 100 and without > 100  # the test is a real filter on a real corpus

"""advisor.fix.fp32: which op sites get the unsafe FP32 fix, and what it writes."""
import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.ops import fp32_region_fix, matching_rules
from advisor.fix.fp32 import add_fp32_fixes
from advisor.scan.opindex import OpIndex
from advisor.scan.scanner import scan

from fixing import fix_twice

CATALOGUE = load_catalogue()
INDEX = OpIndex.build(CATALOGUE)
HEAD = "import torch\nimport lightning as L\n\n\nclass Net(L.LightningModule):\n    def forward(self, x, idx):\n"


def fixes(body: str, head: str = HEAD):
    text = head + body
    facts, module, positions = scan("net.py", text, INDEX)
    add_fp32_fixes(facts, text, module, positions)
    return [fp32_region_fix(site, rule)
            for site in facts.ops for rule in matching_rules(site, CATALOGUE.op_rules())]


def rewritten(fix) -> str:
    return fix.edits[-1].content


@pytest.mark.parametrize("body", [
    "        x.index_add_(0, idx, x)\n",  # in-place: an fp32 copy of the receiver would lose the write
    "        y = torch.linalg.multi_dot([x, x])\n",  # arguments we do not know
    "        y = torch.linalg.inv(x, out=torch.empty(3, 3, dtype=torch.float16))\n",  # an out= buffer
    "        y = torch.linalg.inv(self.proj(x))\n",  # no input cheap enough to read the dtype back from
])
def test_calls_we_cannot_rewrite_confidently_get_no_fix(body):
    assert fixes(body) == [None]


def test_any_statement_shape_works_without_a_with_block():
    [nested] = fixes("        y = self.lin(torch.linalg.inv(x))\n")
    assert rewritten(nested) == "_prc_half_like(torch.linalg.inv(_prc_fp32(x)), x)"
    [shared] = fixes("        a = 1; y = torch.scatter_add(x, 0, idx, x)\n")
    assert rewritten(shared) == "_prc_half_like(torch.scatter_add(_prc_fp32(x), 0, idx, _prc_fp32(x)), x)"
    assert shared.edits[0].content.startswith("def _prc_fp32(x: torch.Tensor) -> torch.Tensor:")


def test_every_floating_input_is_upcast_positional_or_keyword():
    [positional] = fixes("        y = torch_scatter.scatter_std(x, idx, 0, out)\n", HEAD.replace(
        "import torch\n", "import torch\nimport torch_scatter\n"))
    assert rewritten(positional) == "_prc_half_like(torch_scatter.scatter_std(_prc_fp32(x), idx, 0, _prc_fp32(out)), x)"
    [keyword] = fixes("        y = torch.scatter_add(input=x, dim=0, index=idx, src=x.t())\n")
    assert rewritten(keyword) == \
        "_prc_half_like(torch.scatter_add(input=_prc_fp32(x), dim=0, index=idx, src=_prc_fp32(x.t())), x)"


def test_methods_upcast_the_receiver_and_tuple_results_stay_fp32_saying_why():
    [inverse] = fixes("        return x.inverse()\n")
    assert rewritten(inverse) == "_prc_half_like(_prc_fp32(x).inverse(), x)"
    [svd] = fixes("        u = torch.svd(x)\n")
    assert rewritten(svd) == "torch.svd(_prc_fp32(x))" and "result kept in fp32: it returns a tuple" in svd.title


def test_a_sparse_matmul_gets_an_autocast_off_region_on_the_tensors_device():
    [fix] = fixes("        y = torch.sparse.mm(x, idx)\n")
    assert rewritten(fix) == ('with torch.autocast(device_type=x.device.type, enabled=False):\n'
                              '            y = _prc_half_like(torch.sparse.mm(_prc_fp32(x), _prc_fp32(idx)), x)')
    [cpu] = fixes("        y = torch.sparse.mm(x, idx)\n\n\nL.Trainer(accelerator='cpu')\n")
    assert rewritten(cpu).startswith('with torch.autocast(device_type="cpu", enabled=False):')


def test_a_region_torchscript_would_reject_is_not_written():
    body = "        if x is None:\n            return x\n        y = torch.sparse.mm(x, idx)\n        return y\n"
    scripted = "\n\nscripted = torch.jit.script(Net())\n"
    assert fixes(body + scripted) == [None]  # non-constant device_type, and a `return` before the region
    assert fixes(body + scripted + "L.Trainer(accelerator='cpu')\n") == [None]  # still the early return
    assert fixes(body) != [None]


def test_a_missing_import_is_added_before_the_helpers():
    head = '"""Doc."""\nimport lightning as L\nfrom torch_scatter import scatter\n\n\nclass Net(L.LightningModule):\n' \
           "    def forward(self, x, idx):\n"
    [fix] = fixes("        return scatter(x, idx, dim=0)\n", head)
    imports, helpers, call = fix.edits
    assert (imports.span.line, imports.span.column, imports.content) == (2, 1, "import torch\n")
    assert helpers.span.line == 6 and helpers.content.startswith("def _prc_fp32(")
    assert call.content == "_prc_half_like(scatter(_prc_fp32(x), idx, dim=0), x)"


def test_a_torch_imported_only_inside_a_function_still_gets_a_module_level_import():
    head = "import lightning as L\n\n\nclass Net(L.LightningModule):\n    def forward(self, x, idx):\n" \
           "        import torch\n"
    [fix] = fixes("        return torch.linalg.inv(x)\n", head)
    imports, helpers, _ = fix.edits
    assert (imports.span.line, imports.content) == (1, "import torch\n")
    assert helpers.content.startswith("def _prc_fp32(x: torch.Tensor)")


def test_the_import_goes_above_a_decorated_first_statement():
    head = '"""Doc."""\n@staticmethod\ndef helper():\n    pass\n\n\nfrom torch_scatter import scatter\n' \
           "import lightning as L\n\n\nclass Net(L.LightningModule):\n    def forward(self, x, idx):\n"
    [fix] = fixes("        return scatter(x, idx, dim=0)\n", head)
    assert fix.edits[0].span.line == 2 and fix.edits[0].content.startswith("import torch\n")
    fixed = fix_twice(head + "        return scatter(x, idx, dim=0)\n")  # above the def it would not parse
    assert fixed.fixed == 1


def test_calls_over_several_lines_keep_their_layout():
    head = HEAD.replace("import torch\n", "import torch\nfrom torch_scatter import scatter\n")
    [fix] = fixes("        y = scatter(\n            x,\n            idx,\n        dim=0)\n", head)
    assert rewritten(fix) == "_prc_half_like(scatter(\n            _prc_fp32(x),\n            idx,\n        dim=0), x)"
    [header] = fixes("        if torch.linalg.det(\n                x) > 0:\n            pass\n")
    assert rewritten(header) == "_prc_half_like(torch.linalg.det(\n                _prc_fp32(x)), x)"
    [tabs] = fixes("\t\ty = torch.linalg.inv(\n\t\t\tx)\n", HEAD.replace("    ", "\t"))
    assert rewritten(tabs) == "_prc_half_like(torch.linalg.inv(\n\t\t\t_prc_fp32(x)), x)"

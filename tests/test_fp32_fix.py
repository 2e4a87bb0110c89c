"""advisor.fix.fp32: which statements get the unsafe FP32-region fix, and what it writes."""
import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.ops import matching_rules
from advisor.fix.fp32 import device_type_for, fp32_region_fix
from advisor.scan.opindex import OpIndex
from advisor.scan.scanner import scan

CATALOGUE = load_catalogue()
INDEX = OpIndex.build(CATALOGUE)
HEAD = "import torch\nimport lightning as L\n\n\nclass Net(L.LightningModule):\n    def forward(self, x, idx):\n"


def fixes(body: str, head: str = HEAD):
    text = head + body
    facts, *_ = scan("net.py", text, INDEX)
    return [fp32_region_fix(site, text, facts.imports_torch_as, rule, device_type_for(facts))
            for site in facts.ops for rule in matching_rules(site, CATALOGUE.op_rules())]


@pytest.mark.parametrize("body", [
    "        y = self.lin(torch.linalg.inv(x))\n",  # the op is not the whole value
    "        y = torch.linalg.inv(self.proj(x))\n",  # a layer would run with autocast off
    "        x.index_add_(0, idx, x)\n",  # in-place: no statement shape we rewrite
    "        a = 1; y = torch.linalg.inv(x)\n",  # shares its line
    "        y = torch.linalg.multi_dot([x, x])\n",  # arguments we do not know
    "        y = torch.linalg.inv(x, out=torch.empty(3, 3, dtype=torch.float16))\n",
])
def test_statements_we_cannot_rewrite_confidently_get_no_fix(body):
    assert fixes(body) == [None]


def test_a_multiline_call_is_reindented_and_keeps_its_comment():
    [fix] = fixes("        y = torch.index_add(\n            x, 0, idx, x,  # rows\n        )\n")
    assert fix.applicability == "unsafe" and len(fix.edits) == 1
    assert fix.edits[0].content == ('with torch.autocast(device_type="cuda", enabled=False):\n'
                                    "            y = torch.index_add(\n"
                                    "                x.float(), 0, idx, x.float(),  # rows\n"
                                    "            ).to(x.dtype)")


def test_methods_upcast_the_receiver_and_tuple_results_are_not_cast_back():
    [inverse] = fixes("        return x.inverse()\n")
    assert inverse.edits[0].content.endswith("return x.float().inverse().to(x.dtype)")
    [svd] = fixes("        u = torch.svd(x)\n")
    assert svd.edits[0].content.endswith("u = torch.svd(x.float())")


def test_cpu_scripts_disable_cpu_autocast_and_a_missing_import_is_added():
    head = '"""Doc."""\nimport lightning as L\nfrom torch_scatter import scatter\n\n\nclass Net(L.LightningModule):\n' \
           "    def forward(self, x, idx):\n"
    [fix] = fixes("        return scatter(x, idx, dim=0)\n\n\nL.Trainer(accelerator='cpu')\n", head)
    imports, wrap = fix.edits
    assert (imports.span.line, imports.span.column, imports.content) == (2, 1, "import torch\n")
    assert wrap.content.startswith('with torch.autocast(device_type="cpu", enabled=False):')

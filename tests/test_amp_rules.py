"""PRC4xx: plain PyTorch AMP, Hugging Face and Accelerate, through `check_amp` and `target_findings`."""
import textwrap

import libcst as cst
import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.amp import check_amp, target_findings
from advisor.fix.fixer import fix_text

CATALOGUE = load_catalogue()


def check(source, capability=None):
    findings, facts = check_amp("train.py", textwrap.dedent(source), CATALOGUE)
    if capability is not None and facts is not None:
        findings += target_findings([facts], capability, CATALOGUE)
    return findings


def codes(source, capability=None):
    return sorted(f.code for f in check(source, capability))


def fixed(source, capability=None, passes=3):
    """Apply every fix (safe, recommended and unsafe) until nothing changes, like the fixer's loop."""
    text = textwrap.dedent(source)
    for _ in range(passes):
        findings, facts = check_amp("train.py", text, CATALOGUE)
        if capability is not None and facts is not None:
            findings += target_findings([facts], capability, CATALOGUE)
        text, applied, _ = fix_text(text, [f for f in findings if f.fix], {})
        if not applied:
            break
    cst.parse_module(text)
    return text


def test_files_without_trigger_words_or_that_do_not_parse_are_skipped():
    assert check_amp("a.py", "import torch\nx = torch.ones(3)\n", CATALOGUE) == ([], None)
    assert check_amp("a.py", "with autocast(:\n", CATALOGUE) == ([], None)


def test_deprecated_cuda_amp_fixes_keep_the_alias_and_the_meaning_of_positional_arguments():
    source = """\
        import torch as th
        scaler = th.cuda.amp.GradScaler(1024.0)
        with th.cuda.amp.autocast(True, th.bfloat16):
            y = model(x)
        with th.cpu.amp.autocast():
            y = model(x)

        class F(th.autograd.Function):
            @staticmethod
            @th.cuda.amp.custom_fwd
            def forward(ctx, x):
                return x

            @staticmethod
            @th.cuda.amp.custom_bwd()
            def backward(ctx, g):
                return g
        """
    assert codes(source).count("PRC401") == 5
    assert fixed(source) == textwrap.dedent("""\
        import torch as th
        scaler = th.amp.GradScaler("cuda", 1024.0)
        with th.amp.autocast("cuda", enabled=True, dtype=th.bfloat16):
            y = model(x)
        with th.amp.autocast("cpu"):
            y = model(x)

        class F(th.autograd.Function):
            @staticmethod
            @th.amp.custom_fwd(device_type="cuda")
            def forward(ctx, x):
                return x

            @staticmethod
            @th.amp.custom_bwd(device_type="cuda")
            def backward(ctx, g):
                return g
        """)


def test_deprecated_name_imported_directly_is_reported_without_a_fix():
    [finding] = check("from torch.cuda.amp import GradScaler\nscaler = GradScaler()\n")
    assert (finding.code, finding.line, finding.column, finding.fix) == ("PRC401", 2, 10, None)
    assert "torch.amp.GradScaler" in finding.message


def test_gradscaler_with_bf16_only_when_every_autocast_is_bf16():
    bf16 = """\
        import torch
        scaler = torch.amp.GradScaler("cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(x)
        scaler.scale(loss).backward()
        """
    assert codes(bf16) == ["PRC402"]
    assert codes(bf16 + "with torch.autocast('cuda'):\n    y = model(x)\n") == []
    assert codes(bf16.replace("dtype=torch.bfloat16", "dtype=my_dtype")) == []


@pytest.mark.parametrize("source, expected", [
    ("import torch\nwith torch.autocast('cuda'):\n    loss = model(x)\nloss.backward()\n", ["PRC403"]),
    ("import torch\nwith torch.autocast('cuda'):\n    y = model(x)\n", []),  # inference
    ("import torch\nwith torch.autocast(dev):\n    loss = model(x)\nloss.backward()\n", []),  # device unknown
    ("import torch\nimport lightning as L\nwith torch.autocast('cuda'):\n    loss = model(x)\nloss.backward()\n", []),
    ("import torch\nfrom torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler\ns = ShardedGradScaler()\n"
     "with torch.autocast('cuda'):\n    loss = model(x)\ns.scale(loss).backward()\n", []),
])
def test_fp16_autocast_without_gradscaler(source, expected):
    assert codes(source) == expected


def test_backward_inside_autocast_and_disabled_regions():
    source = """\
        import torch
        scaler = torch.amp.GradScaler("cuda")
        def step(x):
            with torch.autocast("cuda"):
                loss = model(x)
                with torch.autocast("cuda", enabled=False):
                    extra = head(x.float())
                scaler.scale(loss).backward()
            with torch.autocast("cuda", enabled=False):
                extra.backward()
        """
    [finding] = check(source)
    assert (finding.code, finding.line) == ("PRC405", 8)


def test_clip_before_unscale_gets_the_unscale_call_inserted():
    source = """\
        import torch
        scaler = torch.amp.GradScaler("cuda")
        def step(model, optimizer, loss):
            scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # clip
            scaler.step(optimizer)
            scaler.update()
        """
    [finding] = check(source)
    assert (finding.code, finding.line, finding.fix.applicability) == ("PRC406", 5, "unsafe")
    assert "scaler.unscale_(optimizer)" in finding.message
    assert fixed(source) == textwrap.dedent(source).replace(
        "    torch.nn.utils", "    scaler.unscale_(optimizer)\n    torch.nn.utils")


@pytest.mark.parametrize("source, expected_fix", [
    # unscale_ already before the clip: nothing to report
    ("s.scale(l).backward()\ns.unscale_(o)\ntorch.nn.utils.clip_grad_norm_(p, 1.0)\ns.step(o)\n", None),
    # unscale_ after the clip: reported, but inserting a second unscale_ would raise, so no fix
    ("s.scale(l).backward()\ntorch.nn.utils.clip_grad_norm_(p, 1.0)\ns.unscale_(o)\ns.step(o)\n", False),
    # the clip shares its line: reported without a fix
    ("s.scale(l).backward()\nif c: torch.nn.utils.clip_grad_norm_(p, 1.0)\ns.step(o)\n", False),
    # no scaled backward in this function: nothing to report
    ("def f():\n    s.scale(l).backward()\ndef g():\n    torch.nn.utils.clip_grad_norm_(p, 1.0)\n", None),
])
def test_clip_before_unscale_cases(source, expected_fix):
    found = check("import torch\n" + source)
    if expected_fix is None:
        assert found == []
    else:
        [finding] = found
        assert finding.code == "PRC406" and (finding.fix is not None) == expected_fix


def test_half_model_under_autocast():
    source = """\
        import torch
        net = Net().cuda().half()
        self.encoder.bfloat16()
        other = Other().half()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = net(x)
            z = self.encoder(y)
        """
    assert [(f.code, f.line) for f in check(source)] == [("PRC407", 2), ("PRC407", 3)]


def test_optimizer_eps_in_true_fp16_training():
    source = """\
        import torch
        model = Net().half()
        a = torch.optim.Adam(model.parameters())
        b = torch.optim.AdamW(
            model.parameters(),
        )
        c = torch.optim.AdamW(model.parameters(), eps=1e-8)
        d = torch.optim.SGD(model.parameters(), lr=0.1)
        e = torch.optim.Adam(model.parameters(), eps=1e-3)
        """
    assert [(f.code, f.line) for f in check(source)] == [("PRC408", 3), ("PRC408", 4), ("PRC408", 7)]
    out = fixed(source)
    assert "Adam(model.parameters(), eps=1e-4)" in out and "AdamW(model.parameters(), eps=1e-4)" in out
    assert "AdamW(\n    model.parameters(),\n)" in out  # multi-line call: reported, not rewritten
    code = "import torch\nmodel = Net()\nopt = torch.optim.Adam(model.parameters())\nx = x.half()\n"
    assert codes(code) == ["PRC408"]
    assert codes("import torch\nm = Net().to(torch.bfloat16)\nopt = torch.optim.Adam(m.parameters())\n") == []


@pytest.mark.parametrize("capability, expected", [(None, []), ((7, 5), []), ((8, 0), ["PRC404", "PRC409", "PRC410"]),
                                                  ((9, 0), ["PRC404", "PRC409", "PRC410"])])
def test_target_rules_only_for_bf16_capable_targets(capability, expected):
    source = """\
        import torch
        from transformers import TrainingArguments
        from accelerate import Accelerator
        args = TrainingArguments("out", fp16=True)
        accelerator = Accelerator(mixed_precision="fp16")
        scaler = torch.amp.GradScaler("cuda")
        with torch.autocast("cuda", dtype=torch.float16):
            loss = model(x)
        scaler.scale(loss).backward()
        """
    assert codes(source, capability) == expected


def test_target_fixes_switch_to_bf16():
    source = """\
        import torch as T
        from transformers import TrainingArguments
        import accelerate
        args = TrainingArguments("out", fp16=True)
        both = TrainingArguments("out", fp16=True, bf16=False)
        accelerator = accelerate.Accelerator(mixed_precision='fp16')
        with T.autocast("cuda"):
            y = model(x)
        with T.autocast("cuda", dtype=T.half):
            y = model(x)
        """
    findings = check(source, (8, 6))
    assert {f.code for f in findings} == {"PRC404", "PRC409", "PRC410"}
    assert all("8.6" in f.message for f in findings)
    assert fixed(source, (8, 6)) == textwrap.dedent(source).replace(
        '"out", fp16=True)\nboth', '"out", bf16=True)\nboth').replace("'fp16'", "'bf16'").replace(
        'T.autocast("cuda")', 'T.autocast("cuda", dtype=T.bfloat16)').replace("dtype=T.half", "dtype=T.bfloat16")


def test_a_noqa_on_the_closing_line_covers_the_finding():
    scaler = "import torch\nscaler = torch.cuda.amp.GradScaler(\n    init_scale=2.0,\n){}\n"
    [finding] = check(scaler.format(""))
    assert finding.line == 2
    assert check_amp("train.py", scaler.format("  # noqa: PRC401"), CATALOGUE, noqa={4: {"PRC401"}})[0] == []
    accelerate = "from accelerate import Accelerator\nacc = Accelerator(\n    mixed_precision='fp16',\n)\n"
    [target] = check(accelerate, (8, 0))
    assert target.line == 3
    _, facts = check_amp("train.py", accelerate, CATALOGUE)
    assert target_findings([facts], (8, 0), CATALOGUE, {"train.py": {4: None}}) == []

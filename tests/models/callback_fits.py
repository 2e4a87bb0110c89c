"""Real Lightning fits for the PrecisionAdvisor callback tests (CPU; bf16-mixed stands in for the GPU).

    python callback_fits.py ddp     # 2 processes on CPU (gloo), the callback reporting once
    python callback_fits.py gpu     # one GPU, its own precision: exit 0 when the scatter is reported
"""
import sys

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from advisor import PrecisionAdvisor


class Scatter(L.LightningModule):
    """Accumulates autocast's bf16 output with scatter_add_: the sums run in bf16."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x, index):
        h = self.lin(x)
        return torch.zeros(4, 8, dtype=h.dtype, device=h.device).scatter_add_(0, index.unsqueeze(1).expand_as(h), h)

    def training_step(self, batch, batch_idx):
        return self(*batch).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Clean(Scatter):
    """The same sums, in an FP32 region on fp32 inputs."""

    def forward(self, x, index):
        h = self.lin(x)
        with torch.autocast(h.device.type, enabled=False):
            h = h.float()
            return torch.zeros(4, 8, device=h.device).scatter_add_(0, index.unsqueeze(1).expand_as(h), h)


class SqrtOfNegative(Scatter):
    """A NaN loss in bf16 (no GradScaler): the square root of negative activations."""

    def training_step(self, batch, batch_idx):
        x, _ = batch
        return torch.sqrt(self.lin(x)).mean()


class Overflow(Scatter):
    """An fp16 forward above 65504: the loss is inf."""

    def training_step(self, batch, batch_idx):
        x, _ = batch
        return self.lin(x).mul(1e5).pow(2).mean()


class LargeGradients(Scatter):
    """The loss is fp32 and finite; its gradient, `factor / 64` times the scale, reaches the fp16 layer."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def training_step(self, batch, batch_idx):
        x, _ = batch
        return self.lin(x).float().mul(self.factor).mean()


class Wide(Scatter):
    """4.2M parameters, enough for the memory breakdown's hundredths of a GiB, with the optimizer given."""

    def __init__(self, optimizer):
        super().__init__()
        self.lin, self.optimizer = torch.nn.Linear(8, 8), optimizer
        self.wide = torch.nn.Linear(1024, 4096)

    def training_step(self, batch, batch_idx):
        return self.wide(torch.ones(2, 1024)).mean()

    def configure_optimizers(self):
        return self.optimizer(self.parameters(), lr=0.1)


def fp16(scaler=None):
    """fp16 autocast with a GradScaler on CPU: Trainer(precision="16-mixed") would switch CPU runs to bf16."""
    from lightning.pytorch.plugins import MixedPrecision

    return {"precision": None, "plugins": [MixedPrecision("16-mixed", "cpu", scaler)]}


def data():
    generator = torch.Generator().manual_seed(0)
    x, index = torch.randn(32, 8, generator=generator), torch.randint(0, 4, (32,), generator=generator)
    return DataLoader(TensorDataset(x, index), batch_size=8)


def trainer(callback, root, **options):
    options = {"precision": "bf16-mixed", "accelerator": "cpu", **options}
    return L.Trainer(max_steps=3, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                     default_root_dir=root, callbacks=[callback], **options)


if __name__ == "__main__" and sys.argv[1:] == ["ddp"]:
    torch.manual_seed(0)
    advisor = PrecisionAdvisor()
    trainer(advisor, ".", strategy="ddp", devices=2, logger=False).fit(Scatter(), data())
    print(f"rank {torch.distributed.get_rank()} done: {len(advisor.findings)} finding(s)", flush=True)

if __name__ == "__main__" and sys.argv[1:] == ["gpu"]:
    torch.manual_seed(0)
    precision = "bf16-mixed" if torch.cuda.get_device_capability()[0] >= 8 else "16-mixed"
    advisor = PrecisionAdvisor()
    trainer(advisor, ".", accelerator="gpu", devices=1, precision=precision).fit(Scatter(), data())
    codes = [(f.code, f.line) for f in advisor.findings]
    print(f"{torch.cuda.get_device_name()} under {precision}: {codes}; report {advisor.report_path}", flush=True)
    sys.exit(0 if any(code == "PRC201" for code, _ in codes) else 1)

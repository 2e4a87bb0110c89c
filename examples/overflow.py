"""A model whose activations overflow fp16 (largest finite value 65504).

Raw, unnormalised sensor readings (hundreds) go through a Linear layer and an
energy feature `log1p(sum(h**2))`: h**2 is about 1e6 per unit, finite in fp32
and bf16 (same exponent range) but inf in fp16, so `16-true` gives an inf
loss while `bf16-mixed` trains like fp32.

    prec-advisor validate examples/overflow.py --candidates bf16-mixed,16-true
"""
import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class EnergyRegressor(pl.LightningModule):
    def __init__(self, features: int = 16, hidden: int = 64, samples: int = 1024, batch_size: int = 64):
        super().__init__()
        self.save_hyperparameters()
        self.project = nn.Linear(features, hidden)
        self.head = nn.Linear(1, 1)
        self.example_input_array = torch.zeros(batch_size, features)

    def forward(self, x):
        h = self.project(x)
        energy = torch.log1p(h.pow(2).sum(dim=-1, keepdim=True))
        return self.head(energy)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(0)
        x = 300.0 * torch.randn(self.hparams.samples, self.hparams.features, generator=generator)
        noise = 0.05 * torch.randn(self.hparams.samples, 1, generator=generator)
        y = torch.log1p(x.pow(2).sum(dim=-1, keepdim=True)) + noise
        return DataLoader(TensorDataset(x, y), batch_size=self.hparams.batch_size, shuffle=True)


if __name__ == "__main__":
    pl.Trainer(max_epochs=2, accelerator="cpu").fit(EnergyRegressor())

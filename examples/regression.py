"""A small regression LightningModule: trains in seconds on a CPU.

    prec-advisor validate examples/regression.py
"""
import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    """An MLP fitting a noisy linear target, with its own data.

    The LayerNorm keeps something trainable under the 4-bit bitsandbytes modes,
    which freeze every Linear layer.
    """

    def __init__(self, features: int = 32, hidden: int = 128, samples: int = 2048, batch_size: int = 64):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.example_input_array = torch.zeros(batch_size, features)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(self.hparams.samples, self.hparams.features, generator=generator)
        weight = torch.randn(self.hparams.features, 1, generator=generator)
        y = x @ weight + 0.1 * torch.randn(self.hparams.samples, 1, generator=generator)
        return DataLoader(TensorDataset(x, y), batch_size=self.hparams.batch_size, shuffle=True)


if __name__ == "__main__":
    pl.Trainer(max_epochs=2, accelerator="cpu", precision="bf16-mixed").fit(Regressor())

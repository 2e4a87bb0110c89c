import lightning as L
import torch
from torch import nn
from torch.utils.data import Dataset


class Spectra(Dataset):
    def __getitem__(self, i):
        wave = torch.randn(1000)
        return torch.fft.rfft(wave).abs()  # data loading: outside autocast


class ClipGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return torch.linalg.norm(grad) * grad  # backward: not reported


class SpectralKalman(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(501, 16)

    def forward(self, wave, cov):
        spectrum = torch.fft.rfft(wave).abs()
        gain = torch.linalg.solve(cov, self.proj(spectrum).unsqueeze(-1))
        with torch.autocast("cuda", enabled=False):
            safe = torch.linalg.cholesky(cov.float())
        counts = torch.zeros(16, dtype=torch.long).index_add_(0, torch.arange(16), torch.ones(16, dtype=torch.long))
        return gain.squeeze(-1) + safe.diagonal(dim1=-2, dim2=-1) + counts

    def training_step(self, batch, i):
        scores = self(*batch)
        return nn.functional.binary_cross_entropy(scores.sigmoid(), torch.ones_like(scores))


def unused_helper(x, idx):
    return x.index_add(0, idx, x)


trainer = L.Trainer(accelerator="gpu", precision="16-mixed")

"""Data-dependent control flow: torch.fx cannot trace either model."""
import lightning as L
import torch


class ValueBranch(L.LightningModule):
    """Branches on a tensor's value: needs real values, so it runs on CPU."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.example_input_array = (torch.randn(5, 4), torch.tensor([0, 1, 0, 2, 1]))

    def forward(self, x, index):
        h = self.lin(x)
        if h.abs().sum() > 0:
            h = torch.zeros(3, 4, dtype=h.dtype).index_add_(0, index, h)
        return torch.cumsum(h, dim=0)


class ShapeBranch(L.LightningModule):
    """Branches on a shape: meta tensors have shapes, so it runs on meta."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.example_input_array = (torch.randn(5, 4), torch.tensor([0, 1, 0, 2, 1]))

    def forward(self, x, index):
        h = self.lin(x)
        if h.shape[0] > 2:
            h = torch.zeros(3, 4, dtype=h.dtype).scatter_add_(0, index.unsqueeze(1).expand_as(h), h)
        return h

import torch

from ..utils import scatter


class GCNConv(torch.nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.lin = torch.nn.Linear(channels, channels)

    def forward(self, x, edge_index):
        row, col = edge_index
        degree = scatter(torch.ones_like(row), row, 0, x.size(0))  # integer counts: not reported
        messages = self.lin(x)[col] / degree[col].clamp(min=1).unsqueeze(-1)
        return scatter(messages, row, 0, x.size(0), reduce="sum")

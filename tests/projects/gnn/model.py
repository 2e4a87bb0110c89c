import lightning as L
import torch
from torch_geometric.nn import MessagePassing, global_mean_pool
from torch_geometric.utils import softmax

from mylib.ops import degree_norm


class AttentionConv(MessagePassing):
    def __init__(self, channels):
        super().__init__(aggr="add")
        self.lin = torch.nn.Linear(channels, channels)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=self.lin(x))

    def message(self, x_j, alpha, index):
        return x_j * softmax(alpha, index).unsqueeze(-1)


class GraphClassifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.conv = AttentionConv(32)
        self.max_pool = torch.zeros(8).scatter_add_(0, torch.arange(8), torch.ones(8))  # __init__: not reported

    def forward(self, x, edge_index, batch):
        x = x * degree_norm(edge_index, x)
        return global_mean_pool(self.conv(x, edge_index), batch)

    def training_step(self, data, i):
        return self(data.x, data.edge_index, data.batch).sum()


trainer = L.Trainer(precision="bf16-true")

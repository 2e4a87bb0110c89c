"""Real PyTorch Geometric models: MessagePassing layers and PyG's scatter."""
import lightning as L
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.utils import scatter

NODES, EDGES, FEATURES = 10, 30, 16


def _graph():
    return torch.randn(NODES, FEATURES), torch.randint(0, NODES, (2, EDGES))


class GCN(L.LightningModule):
    """Two GCNConv layers: fx keeps each MessagePassing layer whole."""

    def __init__(self):
        super().__init__()
        self.conv1 = GCNConv(FEATURES, 32)
        self.conv2 = GCNConv(32, 4)
        self.example_input_array = _graph()

    def forward(self, x, edge_index):
        h = self.conv1(x, edge_index).relu()
        return self.conv2(h, edge_index)


class PooledGCN(L.LightningModule):
    """PyG's scatter with no dim_size needs index.max(): only a real forward can follow it."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(FEATURES, 4)
        self.example_input_array = (*_graph(), torch.tensor([0] * 5 + [1] * 5))

    def forward(self, x, edge_index, batch):
        h = self.lin(x)
        return scatter(h, batch, dim=0, reduce="sum")

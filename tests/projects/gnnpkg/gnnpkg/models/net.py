import lightning as L
import torch
from torch import nn

from gnnpkg.aggr import SumAggr
from gnnpkg.utils import scatter_mean


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.aggr = SumAggr()
        self.criterion = nn.BCELoss()

    def forward(self, x, index):
        pooled = self.aggr(x, index, 8)
        return torch.sigmoid(scatter_mean(pooled, index, 8))

    def training_step(self, batch, i):
        p = self(batch.x, batch.index)
        return self.criterion(p, batch.y.float())

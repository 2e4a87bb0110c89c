import lightning as L
import torch

import molpkg.nn as snn


class EnergyModel(L.LightningModule):
    def __init__(self, species: int = 10, hidden: int = 32):
        super().__init__()
        self.embed = torch.nn.Embedding(species, hidden)
        self.out = torch.nn.Linear(hidden, 1)

    def energy(self, h, batch, num_graphs: int):
        return snn.scatter_add(self.out(h), batch, num_graphs)

    def forward(self, z, batch):
        h = self.embed(z)
        atoms = snn.scatter_add(torch.ones_like(batch), batch, 8)  # integer counts: exact in any precision
        pooled = snn.scatter_sum_fp64(h, batch, 8)  # fp64 accumulator made by the helper
        return self.energy(h, batch, 8), atoms, pooled

    def training_step(self, batch, i):
        own = snn.scatter_sum_fp64(batch.h, batch.index, 8, out=batch.h.new_zeros(8, 32))  # half `out`
        return self(batch.z, batch.index)[0].sum() + own.sum()

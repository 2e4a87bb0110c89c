"""A point-cloud segmentation model in the style of torch-points3d: scatter ops in the forward,
trained with the legacy `precision=16`. `prec-advisor check examples/` explains what goes wrong."""
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch_scatter import scatter_max, scatter_mean


def interpolate(features, distances, neighbours, num_points):
    """Inverse-distance interpolation, as in torch-points3d's core/spatial_ops."""
    weights = 1.0 / torch.clamp(distances, min=1e-16)
    weights = weights / weights.sum(dim=1, keepdim=True)
    out = torch.zeros(num_points, features.shape[1], device=features.device, dtype=features.dtype)
    out.index_add_(0, neighbours.flatten(), (features[neighbours] * weights.unsqueeze(-1)).flatten(0, 1))
    return out


class VoxelPool(nn.Module):
    def forward(self, x, cluster):
        pooled = scatter_mean(x, cluster, dim=0)
        peak, _ = scatter_max(x, cluster, dim=0)  # max reductions accumulate nothing: fine
        return torch.cat([pooled, peak], dim=1)


class PointSegmenter(L.LightningModule):
    def __init__(self, in_features: int = 3, hidden: int = 64, classes: int = 13):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.pool = VoxelPool()
        self.head = nn.Linear(3 * hidden, classes)

    def forward(self, points, cluster, distances, neighbours):
        h = self.encoder(points)
        context = self.pool(h, cluster)[cluster]
        smoothed = interpolate(h, distances, neighbours, h.shape[0])
        votes = torch.zeros_like(smoothed).scatter_add_(0, cluster.unsqueeze(-1).expand_as(h), h)
        return self.head(torch.cat([smoothed, context, votes[cluster]], dim=1))

    def training_step(self, batch, batch_idx):
        logits = self(batch["pos"], batch["cluster"], batch["dist"], batch["nbr"])
        return F.cross_entropy(logits, batch["y"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    trainer = L.Trainer(
        accelerator="gpu",
        devices=1,
        precision=16,
        max_epochs=100,
    )

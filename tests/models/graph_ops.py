"""A project's own scatter wrapper, as GNN code bases write them."""
import torch


def scatter_sum(src, index, num_nodes):
    """Sum the rows of `src` into `num_nodes` buckets (accumulates in src's dtype)."""
    out = src.new_zeros((num_nodes, src.shape[1]))
    return out.index_add_(0, index, src)


class NeighbourMean(torch.nn.Module):
    """Mean of the messages arriving at each node, through scatter_add_."""

    def forward(self, messages, target, num_nodes):
        total = messages.new_zeros((num_nodes, messages.shape[1]))
        total = total.scatter_add_(0, target.unsqueeze(1).expand_as(messages), messages)
        count = messages.new_zeros((num_nodes,))
        count = count.scatter_add_(0, target, torch.ones_like(target, dtype=messages.dtype))
        return total / count.clamp(min=1).unsqueeze(1)

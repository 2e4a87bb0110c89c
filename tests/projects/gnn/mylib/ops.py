import torch


def scatter_sum(src, index, size):
    out = torch.zeros(size, dtype=src.dtype, device=src.device)
    return out.scatter_add_(0, index, src)


def degree_norm(edge_index, num_nodes):
    ones = torch.ones(edge_index.shape[1])
    return scatter_sum(ones, edge_index[0], num_nodes).clamp(min=1).pow(-0.5).unsqueeze(-1)

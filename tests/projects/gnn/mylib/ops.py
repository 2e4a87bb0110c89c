import torch


def scatter_sum(src, index, size):
    out = torch.zeros(size, dtype=src.dtype, device=src.device)
    return out.scatter_add_(0, index, src)


def degree_norm(edge_index, x):
    ones = x.new_ones(edge_index.shape[1])  # x's dtype: fp16/bf16 under autocast
    return scatter_sum(ones, edge_index[0], x.shape[0]).clamp(min=1).pow(-0.5).unsqueeze(-1)

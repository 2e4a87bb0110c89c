import torch


def scatter(src, index, dim: int = 0, dim_size=None, reduce: str = "sum"):
    size = list(src.shape)
    size[dim] = int(index.max()) + 1 if dim_size is None else dim_size
    if reduce == "sum":
        return src.new_zeros(size).scatter_add_(dim, index, src)
    return src.new_zeros(size).scatter_reduce_(dim, index, src, reduce, include_self=False)


def scatter_sum(src, index, dim_size=None):
    return scatter(src, index, 0, dim_size, "sum")


def scatter_mean(src, index, dim_size=None):
    total = scatter_sum(src, index, dim_size)
    count = scatter_sum(torch.ones_like(index), index, dim_size)  # integer counts
    return total / count.clamp(min=1).unsqueeze(-1)

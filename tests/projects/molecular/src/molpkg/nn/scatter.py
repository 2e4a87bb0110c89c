import torch

__all__ = ["scatter_add", "scatter_sum_fp64"]


@torch.jit.script
def _scatter_add(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    out = torch.zeros(dim_size, src.shape[1], dtype=src.dtype, device=src.device)
    return out.index_add(0, index, src)


def scatter_add(src, index, dim_size: int):
    return _scatter_add(src, index, dim_size)


def scatter_sum_fp64(src, index, dim_size: int, out=None):
    """Accumulates in fp64 unless the caller hands in its own `out`."""
    if out is None:
        out = torch.zeros(dim_size, src.shape[1], dtype=torch.float64, device=src.device)
    return out.index_add_(0, index, src.to(out.dtype))


def private_helper(src, index):  # not in __all__: the star import does not export it
    return src.index_add(0, index, src)

import torch
import torch.nn.functional as F


def add(src, index, out):
    return out.scatter_add_(0, index, src)


def segment_sum(src, index, size: int):
    return add(src, index, torch.zeros(size, src.shape[-1], dtype=src.dtype, device=src.device))


def exact_sum(src, index, size: int):
    return src.new_zeros(size, src.shape[-1]).index_add_(0, index, src)


def half_sum(src, index, size: int):
    src, index = src.half(), index.long()  # unpacked: src no longer holds what the caller passed
    return src.new_zeros(size, src.shape[-1]).index_add_(0, index, src)


def bce(p, y):
    return F.binary_cross_entropy(p, y)


class SumPool(torch.nn.Module):
    def forward(self, h, batch):
        exact = segment_sum(h.float(), batch, 8)  # fp32 data: nothing to report
        return segment_sum(h, batch, 8), exact

"""CUDA autocast's casting policy, applied by the dispatch recorder where no CUDA runs.

`--trace` judges a model under the precision it will train with on the GPU,
but runs it on meta or CPU tensors, where CUDA autocast does nothing (and CPU
autocast has other lists: it casts linalg and fft to fp32, CUDA does not).
So the tracer turns CUDA autocast's state on (`torch.set_autocast_enabled`,
which the user's own `autocast("cuda", enabled=False)` regions still switch
off) and the recorder casts each op's arguments as CUDA autocast would, on
the tensors CUDA autocast never sees (CPU and meta ones). Ops
arrive here after composite ops are decomposed (linear -> addmm), so the
lists name the aten ops that reach the dispatcher. Source: autocast_mode.h
(torch 2.13), see the design notes' fp32-ops.md, section 1.
"""
from __future__ import annotations

from contextlib import contextmanager

LOWER = frozenset("""
    mm addmm addmv addr mv bmm baddbmm addbmm _addmm_activation convolution _convolution conv_tbc
    cudnn_convolution cudnn_convolution_transpose _prelu_kernel _thnn_fused_lstm_cell _thnn_fused_gru_cell
    _scaled_dot_product_flash_attention _scaled_dot_product_flash_attention_for_cpu
    _scaled_dot_product_efficient_attention _scaled_dot_product_cudnn_attention
""".split())
FP32 = frozenset("""
    acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow softplus
    native_layer_norm native_group_norm _fused_rms_norm frobenius_norm nuclear_norm
    poisson_nll_loss cosine_embedding_loss nll_loss_forward nll_loss2d_forward hinge_embedding_loss kl_div
    l1_loss smooth_l1_loss huber_loss mse_loss margin_ranking_loss multilabel_margin_loss_forward
    soft_margin_loss triplet_margin_loss multi_margin_loss binary_cross_entropy_with_logits
    dist _pdist_forward _cdist_forward renorm logsumexp
    prod _softmax _log_softmax cumprod cumsum linalg_vector_norm linalg_matrix_norm sum norm
""".split())
PROMOTE = frozenset("addcdiv addcmul atan2 bilinear cross linalg_cross dot vdot grid_sampler index_put "
                    "tensordot scatter_add".split())


def _policy(name: str):
    if name in LOWER:
        return "lower"
    if name in FP32 or name.startswith(("upsample_", "_upsample_")):
        return "fp32"
    if name in PROMOTE:
        return "promote"
    return None


def _eligible(value, torch) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float64


def state_watcher_class():
    """A TorchFunctionMode that notes autocast's state at each torch call.

    Inside `__torch_dispatch__` torch hides autocast's state (its keys are
    excluded there), so the recorder reads what this mode saw at the Python
    call that issued the op: the user's `autocast(enabled=False)` regions count.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    class AutocastWatcher(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.cuda_dtype = None  # CUDA autocast's dtype while it is on, else None
            self.active = False  # any autocast (CUDA or CPU) on

        def __torch_function__(self, func, types, args=(), kwargs=None):
            cuda = torch.is_autocast_enabled("cuda")
            self.cuda_dtype = torch.get_autocast_dtype("cuda") if cuda else None
            self.active = cuda or torch.is_autocast_enabled("cpu")
            return func(*args, **(kwargs or {}))

    return AutocastWatcher


def cast_arguments(func, args, kwargs, cuda_dtype):
    """(args, kwargs) as CUDA autocast with `cuda_dtype` would pass them to `func` (None: as given)."""
    import torch
    from torch.utils._pytree import tree_flatten, tree_map

    if cuda_dtype is None:
        return args, kwargs
    policy = _policy(func._schema.name.split("::")[-1])
    if policy is None:
        return args, kwargs
    tensors = [v for v in tree_flatten((args, kwargs))[0] if _eligible(v, torch)]
    if not tensors or any(t.is_cuda for t in tensors):  # real CUDA tensors: real autocast did it
        return args, kwargs
    if policy == "lower":
        target = cuda_dtype
    elif policy == "fp32":
        target = torch.float32
    else:
        target = max((t.dtype for t in tensors), key=lambda d: torch.finfo(d).bits)
    cast = lambda v: v.to(target) if _eligible(v, torch) and v.dtype != target else v  # noqa: E731
    return tree_map(cast, args), tree_map(cast, kwargs)


@contextmanager
def cuda_autocast_state(dtype_name: str):
    """CUDA autocast switched on with `dtype_name`, as Lightning's "<dtype>-mixed" plugin does on a GPU."""
    import torch

    was_enabled, was_dtype = torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda")
    torch.set_autocast_enabled("cuda", True)
    torch.set_autocast_dtype("cuda", getattr(torch, dtype_name))
    try:
        yield
    finally:
        torch.set_autocast_enabled("cuda", was_enabled)
        torch.set_autocast_dtype("cuda", was_dtype)

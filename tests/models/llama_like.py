"""A LLaMA-like decoder stack: embedding, blocks of bias-free Linear layers and a norm, a head.

The factories return (model, example tokens); the tracer builds them on the meta device.
"""
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        h = self.norm1(x)
        scores = self.q(h) @ self.k(h).transpose(-1, -2) / h.shape[-1] ** 0.5
        x = x + self.o(torch.softmax(scores, dim=-1) @ self.v(h))
        h = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))


class LlamaLike(nn.Module):
    def __init__(self, vocab=32000, dim=4096, hidden=11008, layers=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, hidden) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def expected_params(vocab, dim, hidden, layers):
    """The count, by hand: embedding + head, 4 attention + 3 MLP matrices and 2 norms per block, a norm."""
    return 2 * vocab * dim + layers * (4 * dim * dim + 3 * dim * hidden + 4 * dim) + 2 * dim


def _tokens(vocab):
    return torch.randint(0, vocab, (2, 16))


def llama_10m():
    return LlamaLike(vocab=8000, dim=320, hidden=864, layers=4), _tokens(8000)


def llama_7b():
    return LlamaLike(), _tokens(32000)


def llama_20b():
    return LlamaLike(dim=6144, hidden=16384, layers=44), _tokens(32000)


def llama_70b():
    """LLaMA-2-70B's widths and depth (without grouped-query attention: 78B parameters here)."""
    return LlamaLike(dim=8192, hidden=28672, layers=80), _tokens(32000)

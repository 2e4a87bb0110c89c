"""Fine-tuning a LLaMA-shaped decoder: the worked examples of docs/hardware.md.

`prec-advisor check examples/llm_finetune.py --gpu rtx4090 --trace --model examples/llm_finetune.py:lora_7b`
sizes the advice with the model's census (built on the meta device: nothing is allocated).
Factories: `lora_7b` (frozen base, LoRA adapters), `full_7b` and `full_70b` (every parameter trains).
"""
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus trainable low-rank adapters (plain parameters, as litgpt's LoRA)."""

    def __init__(self, dim_in, dim_out, rank=8):
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out, bias=False)
        self.lora_a = nn.Parameter(torch.zeros(rank, dim_in))
        self.lora_b = nn.Parameter(torch.zeros(dim_out, rank))

    def forward(self, x):
        return self.linear(x) + (x @ self.lora_a.T) @ self.lora_b.T


class Block(nn.Module):
    def __init__(self, dim, hidden, rank):
        super().__init__()
        make = (lambda i, o: LoRALinear(i, o, rank)) if rank else (lambda i, o: nn.Linear(i, o, bias=False))
        self.norm1, self.norm2 = nn.RMSNorm(dim), nn.RMSNorm(dim)
        self.q, self.k, self.v, self.o = make(dim, dim), make(dim, dim), make(dim, dim), make(dim, dim)
        self.gate, self.up, self.down = make(dim, hidden), make(dim, hidden), make(hidden, dim)

    def forward(self, x):
        h = self.norm1(x)
        attention = torch.softmax(self.q(h) @ self.k(h).transpose(-1, -2) / h.shape[-1] ** 0.5, dim=-1)
        x = x + self.o(attention @ self.v(h))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Decoder(L.LightningModule):
    def __init__(self, vocab=32000, dim=4096, hidden=11008, layers=32, rank=0):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, hidden, rank) for _ in range(layers))
        self.norm = nn.RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        if rank:  # LoRA: only the adapters train
            for name, param in self.named_parameters():
                param.requires_grad_("lora_" in name)

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def training_step(self, batch, batch_idx):
        tokens = batch
        logits = self(tokens[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))

    def configure_optimizers(self):
        return torch.optim.AdamW((p for p in self.parameters() if p.requires_grad), lr=2e-4)


def _tokens(vocab=32000):
    return torch.randint(0, vocab, (1, 16))


def lora_7b():
    return Decoder(rank=8), _tokens()


def full_7b():
    return Decoder(), _tokens()


def full_70b():
    return Decoder(dim=8192, hidden=28672, layers=80), _tokens()


if __name__ == "__main__":
    trainer = L.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=1000)
    trainer.fit(lora_7b()[0], torch.utils.data.DataLoader(torch.randint(0, 32000, (64, 257)), batch_size=4))

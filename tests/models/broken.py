"""User code that goes wrong in every way the tracer must survive."""
import os
import sys
import time

import torch

print("this goes to the child's stdout, never ours")


class Raises(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("shape mismatch in user code")


def raises():
    model = Raises()
    return model, torch.zeros(2)


def hangs():
    time.sleep(3600)


def exits():
    sys.exit(3)


def crashes():
    os._exit(9)

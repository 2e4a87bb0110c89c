"""prec-advisor: find precision mistakes in PyTorch Lightning training code."""

__version__ = "0.1.0"

"""Validation runs: train each candidate precision briefly and compare with fp32.

`validate_candidates` is the entry point for code (e.g. `check --fix --validate`);
`command` is the CLI. Nothing here imports torch at import time.
"""
from advisor.validate.session import ValidationError, validate_candidates

__all__ = ["ValidationError", "validate_candidates"]

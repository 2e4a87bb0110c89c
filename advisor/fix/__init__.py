"""Turning findings' fixes into bytes: edits, the fixer, FP32 regions."""

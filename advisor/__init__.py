"""prec-advisor: find precision mistakes in PyTorch Lightning training code."""

__version__ = "0.1.0"
_CALLBACK_NAMES = ("PrecisionAdvisor", "PrecisionAdvisorError", "PrecisionAdvisorWarning")


def __getattr__(name: str):
    """`from advisor import PrecisionAdvisor` imports torch and Lightning only then:
    `import advisor` and the static CLI stay free of them."""
    if name in _CALLBACK_NAMES:
        from advisor import callback
        return getattr(callback, name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")

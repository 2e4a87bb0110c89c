from .scatter import scatter, scatter_mean

__all__ = ["scatter", "scatter_mean"]

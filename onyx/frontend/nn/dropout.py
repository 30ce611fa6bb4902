"""``Dropout``, ``Dropout1d/2d/3d`` and ``AlphaDropout``: active in training mode only."""

from __future__ import annotations

from onyx.frontend.nn import functional as F
from onyx.frontend.nn.module import Module
from onyx.frontend.tensor import Tensor


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability ``p`` while training (``onyx.manual_seed`` seeds it).

        >>> drop = Dropout(0.1)                     # doctest: +SKIP
        >>> drop.eval()(x) is x                     # identity in eval mode
        True
    """
    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    _fn = staticmethod(F.alpha_dropout)

"""Small module-level helpers of the torch namespace: ``is_tensor``, ``numel``, printing."""

from __future__ import annotations

from onyx.frontend import printing
from onyx.frontend.tensor import Tensor


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.dtype.is_floating_point


def set_printoptions(precision: int | None = None, threshold: int | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode=None) -> None:
    """Change how tensors print (``profile="default"`` restores torch's defaults)."""
    if profile == "default":
        printing.PRECISION, printing.THRESHOLD, printing.EDGEITEMS, printing.LINEWIDTH = \
            4, 1000, 3, 80
    for name, value in (("PRECISION", precision), ("THRESHOLD", threshold),
                        ("EDGEITEMS", edgeitems), ("LINEWIDTH", linewidth)):
        if value is not None:
            setattr(printing, name, int(value))

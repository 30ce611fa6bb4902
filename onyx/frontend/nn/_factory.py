"""Creating a layer's parameters and buffers with torch's ``device``/``dtype`` arguments."""

from __future__ import annotations

from onyx.frontend.creation import empty, ones, zeros
from onyx.frontend.nn.parameter import Parameter
from onyx.frontend.tensor import Tensor


def new_parameter(*shape: int, device=None, dtype=None) -> Parameter:
    """A parameter of ``shape`` (zeros until the layer's ``reset_parameters`` fills it)."""
    return Parameter(empty(*shape, device=device, dtype=dtype))


def new_buffer(shape, fill: float, device=None, dtype=None) -> Tensor:
    make = ones if fill == 1 else zeros
    t = make(*shape, device=device, dtype=dtype)
    if fill not in (0, 1):
        t.fill_(fill)
    return t

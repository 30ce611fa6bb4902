"""``softmax`` and ``log_softmax`` along a dim (ONNX ``Softmax``/``LogSoftmax``, opset 13+)."""

from __future__ import annotations

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import cast, int64s, method, wrap_dim
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _prepared(input: Tensor, dim, dtype, name: str) -> tuple[Tensor, int]:
    if dim is None:
        # torch's implicit choice (deprecated there): the last dim, or 0 for 0-3 D inputs
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = cast(input, dtypes.as_dtype(dtype)) if dtype is not None else input
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise OnyxError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                        f"'{x.dtype.name.capitalize()}'")
    return x, wrap_dim(dim, x.ndim)


@method("softmax")
def softmax(input, dim=None, dtype=None) -> Tensor:
    x, d = _prepared(input, dim, dtype, "softmax")
    return _along(x, d, "Softmax")


@method("log_softmax")
def log_softmax(input, dim=None, dtype=None) -> Tensor:
    x, d = _prepared(input, dim, dtype, "log_softmax")
    return _along(x, d, "LogSoftmax")


def _along(x: Tensor, d: int, op_type: str) -> Tensor:
    if x.ndim:
        return apply(op_type, x, axis=d)
    # a scalar is a one-element axis
    out = apply(op_type, apply("Reshape", x, int64s([1])), axis=0)
    return apply("Reshape", out, int64s([]))

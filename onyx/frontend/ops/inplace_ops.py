"""The ``name_`` in-place variants of the tensor methods, and ``+=`` and friends.

Each is ``inplace(self, lambda old: <the out-of-place op>(old, ...))``: arithmetic refuses a
result dtype ``self`` cannot hold (``int_tensor.add_(1.5)``), as torch does; fills, copies and
comparisons cast to ``self``'s dtype.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.ops import arithmetic, comparison, math, selection, shape
from onyx.frontend.ops._common import as_operand, int64s, method, operand, wrap_dim
from onyx.frontend.ops.inplace import inplace, rebind, scatter_positions
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _variant(fn, name: str, strict: bool = True):
    def op(self, *args, **kwargs):
        def compute(old):
            # ``x.mul_(x)``: the operand is the value before the write too
            return fn(old, *[old if a is self else a for a in args],
                      **{k: old if v is self else v for k, v in kwargs.items()})
        return inplace(self, compute, strict)
    op.__name__ = name
    op.__doc__ = f"In-place ``{fn.__name__}``: writes the result into ``self``."
    return op


_STRICT = {
    arithmetic: ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
                 "floor_divide", "remainder", "fmod", "pow", "float_power", "neg", "negative"],
    math: ["exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "sin",
           "cos", "tan", "asin", "arcsin", "acos", "arccos", "atan", "arctan", "sinh", "cosh",
           "tanh", "asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh", "sigmoid", "erf",
           "erfc", "reciprocal", "abs", "absolute", "sign", "sgn", "floor", "ceil", "round",
           "trunc", "fix", "frac", "square", "relu", "deg2rad", "rad2deg", "clamp", "clip",
           "clamp_min", "clamp_max", "nan_to_num", "lerp", "addcmul", "addcdiv", "hypot",
           "logaddexp"],
    comparison: ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
                 "bitwise_left_shift", "bitwise_right_shift"],
}
_CASTING = {
    comparison: ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                 "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor",
                 "logical_not"],
    selection: ["masked_fill", "index_fill", "index_add", "index_copy", "scatter",
                "scatter_add", "scatter_reduce"],
}
for _table, _strict in ((_STRICT, True), (_CASTING, False)):
    for _module, _names in _table.items():
        for _name in _names:
            setattr(Tensor, _name + "_", _variant(getattr(_module, _name), _name + "_", _strict))


def _dunder_inplace(fn):
    def op(self, other):
        try:
            other = as_operand(other)
        except TypeError:
            return NotImplemented
        return inplace(self, lambda old: fn(old, old if other is self else other))
    op.__name__ = f"__i{fn.__name__}__"
    return op


Tensor.__iadd__ = _dunder_inplace(arithmetic.add)
Tensor.__isub__ = _dunder_inplace(arithmetic.sub)
Tensor.__imul__ = _dunder_inplace(arithmetic.mul)
Tensor.__itruediv__ = _dunder_inplace(arithmetic.div)
Tensor.__ifloordiv__ = _dunder_inplace(arithmetic.floor_divide)
Tensor.__imod__ = _dunder_inplace(arithmetic.remainder)
Tensor.__ipow__ = _dunder_inplace(arithmetic.pow)
Tensor.__iand__ = _dunder_inplace(comparison.bitwise_and)
Tensor.__ior__ = _dunder_inplace(comparison.bitwise_or)
Tensor.__ixor__ = _dunder_inplace(comparison.bitwise_xor)
Tensor.__ilshift__ = _dunder_inplace(comparison.bitwise_left_shift)
Tensor.__irshift__ = _dunder_inplace(comparison.bitwise_right_shift)


def _broadcast_value(value, old: Tensor) -> Tensor:
    """``value`` (number or tensor) broadcast over ``old``; tensors keep their history."""
    v = operand(as_operand(value), old.dtype)
    if tuple(v.shape) == tuple(old.shape):
        return apply("Identity", v) if v is value else v
    return apply("Expand", v, int64s(list(old.shape)))


@method("fill_")
def fill_(self, value) -> Tensor:
    if isinstance(value, Tensor) and value.ndim:
        raise OnyxError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                        f"{value.ndim} dimensions.")
    return inplace(self, lambda old: _broadcast_value(value, old), strict=False)


@method("zero_")
def zero_(self) -> Tensor:
    return fill_(self, 0)


@method("copy_")
def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to ``self``'s shape, cast to its dtype) into ``self``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    try:
        np.broadcast_to(np.empty(src.shape, np.bool_), tuple(self.shape))
    except ValueError:
        raise OnyxError(f"The size of tensor a ({self.shape[-1] if self.ndim else 1}) must "
                        f"match the size of tensor b ({src.shape[-1]}) at non-singleton "
                        f"dimension {self.ndim - 1}") from None
    return inplace(self, lambda old: _broadcast_value(src, old), strict=False)


@method("fill_diagonal_")
def fill_diagonal_(self, fill_value, wrap: bool = False) -> Tensor:
    if self.ndim < 2:
        raise OnyxError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise OnyxError("all dimensions of input must be of equal length")
    n = min(self.shape)
    if self.ndim == 2 and wrap and self.shape[0] > self.shape[1] + 1:
        rows = np.arange(self.shape[0])
        rows = rows[rows % (self.shape[1] + 1) != self.shape[1]]
        coords = [rows, rows - rows // (self.shape[1] + 1) * (self.shape[1] + 1)]
    else:
        coords = [np.arange(n)] * self.ndim
    flat = Tensor._wrap(np.ravel_multi_index(coords, tuple(self.shape)).astype(np.int64))
    return inplace(self, lambda old: scatter_positions(old, flat, operand(fill_value,
                                                                          old.dtype)),
                   strict=False)


# ------------------------------------------------------------------ shape-changing
@method("unsqueeze_")
def unsqueeze_(self, dim: int) -> Tensor:
    d = [wrap_dim(dim, self.ndim + 1)]
    return rebind(self, lambda t: apply("Unsqueeze", t, int64s(d)))


@method("squeeze_")
def squeeze_(self, dim=None) -> Tensor:
    out_shape = list(shape.squeeze(self.detach(), dim).shape)
    return rebind(self, lambda t: apply("Reshape", t, int64s(out_shape)))


@method("transpose_", "swapaxes_", "swapdims_")
def transpose_(self, dim0: int, dim1: int) -> Tensor:
    perm = list(range(self.ndim))
    if self.ndim:
        a, b = wrap_dim(dim0, self.ndim), wrap_dim(dim1, self.ndim)
        perm[a], perm[b] = perm[b], perm[a]
    return rebind(self, lambda t: apply("Transpose", t, perm=perm))


@method("t_")
def t_(self) -> Tensor:
    if self.ndim > 2:
        raise OnyxError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                        f"{self.ndim}D")
    return transpose_(self, 0, -1) if self.ndim == 2 else self


@method("as_strided_", "resize_", "set_")
def _unsupported_storage_op(self, *args, **kwargs):
    raise OnyxError("operations on raw storage (resize_, set_, as_strided_) are not supported; "
                    "build a new tensor instead")


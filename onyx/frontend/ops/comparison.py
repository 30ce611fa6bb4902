"""Comparisons, logical and bitwise ops, ``maximum``/``minimum`` and value tests (``isnan``)."""

from __future__ import annotations

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import cast, const, method
from onyx.frontend.ops.arithmetic import _pair, dunder, floor_divide, mul
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _compare(op_type: str, *names: str):
    def compare(input, other) -> Tensor:
        a, b, dt = _pair(input, other)
        if dt is dtypes.bool_ and op_type != "Equal":  # ONNX orders numbers, not bools
            a, b = cast(a, dtypes.uint8), cast(b, dtypes.uint8)
        return apply(op_type, a, b)
    compare.__name__ = names[0]
    compare.__doc__ = f"Elementwise ``{op_type}`` (ONNX) with torch's type promotion."
    return method(*names)(compare)


eq = _compare("Equal", "eq")
gt = _compare("Greater", "gt", "greater")
ge = _compare("GreaterOrEqual", "ge", "greater_equal")
lt = _compare("Less", "lt", "less")
le = _compare("LessOrEqual", "le", "less_equal")


@method("ne", "not_equal")
def ne(input, other) -> Tensor:
    return apply("Not", eq(input, other))


Tensor.__eq__ = dunder(eq)
Tensor.__ne__ = dunder(ne)
Tensor.__lt__ = dunder(lt)
Tensor.__le__ = dunder(le)
Tensor.__gt__ = dunder(gt)
Tensor.__ge__ = dunder(ge)


@method("equal")
def equal(input, other) -> bool:
    """``True`` if both tensors have the same shape and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(apply("Not", eq(input, other))._data.sum() == 0)


@method("isclose")
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    a, b, dt = _pair(input, other)
    if not (dt.is_floating_point or dt.is_complex):
        return eq(a, b)
    close = apply("LessOrEqual", apply("Abs", apply("Sub", a, b)),
                  apply("Add", const(atol, dt), apply("Mul", const(rtol, dt), apply("Abs", b))))
    close = apply("Or", close, apply("Equal", a, b))  # equal infinities
    if equal_nan:
        close = apply("Or", close, apply("And", apply("IsNaN", a), apply("IsNaN", b)))
    return close


@method("allclose")
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# ------------------------------------------------------------------ logical
def _as_bool(x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"logical ops take tensors, not {type(x).__name__}")
    return cast(x, dtypes.bool_)


def _logical(op_type: str, name: str):
    def logical(input, other) -> Tensor:
        return apply(op_type, _as_bool(input), _as_bool(other))
    logical.__name__ = name
    logical.__doc__ = f"Elementwise logical ``{op_type}`` of the operands' truth values."
    return method(name)(logical)


logical_and = _logical("And", "logical_and")
logical_or = _logical("Or", "logical_or")
logical_xor = _logical("Xor", "logical_xor")


@method("logical_not")
def logical_not(input) -> Tensor:
    return apply("Not", _as_bool(input))


# ------------------------------------------------------------------ bitwise
def _integral_pair(a, b, name: str) -> tuple[Tensor, Tensor, dtypes.dtype]:
    a, b, dt = _pair(a, b)
    if dt.is_floating_point or dt.is_complex:
        raise OnyxError(f"\"{name}_cpu\" not implemented for '{dt.name}'")
    return a, b, dt


def _bitwise(op_type: str, bool_op: str, name: str):
    def bitwise(input, other) -> Tensor:
        a, b, dt = _integral_pair(input, other, name)
        return apply(bool_op if dt is dtypes.bool_ else op_type, a, b)
    bitwise.__name__ = name
    bitwise.__doc__ = f"Elementwise ``{op_type}`` (``{bool_op}`` on bool tensors)."
    return method(name)(bitwise)


bitwise_and = _bitwise("BitwiseAnd", "And", "bitwise_and")
bitwise_or = _bitwise("BitwiseOr", "Or", "bitwise_or")
bitwise_xor = _bitwise("BitwiseXor", "Xor", "bitwise_xor")


@method("bitwise_not")
def bitwise_not(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        return apply("Not", input)
    if input.dtype.is_floating_point or input.dtype.is_complex:
        raise OnyxError(f"\"bitwise_not_cpu\" not implemented for '{input.dtype.name}'")
    return apply("BitwiseNot", input)


@method("bitwise_left_shift")
def bitwise_left_shift(input, other) -> Tensor:
    """``input * 2**other``: the two's-complement left shift, signed types included."""
    a, b, dt = _integral_pair(input, other, "lshift")
    return mul(a, apply("Pow", const(2, dt), b))


@method("bitwise_right_shift")
def bitwise_right_shift(input, other) -> Tensor:
    """An arithmetic right shift: ``floor(input / 2**other)``."""
    a, b, dt = _integral_pair(input, other, "rshift")
    return floor_divide(a, apply("Pow", const(2, dt), b))


Tensor.__and__ = dunder(bitwise_and)
Tensor.__rand__ = dunder(bitwise_and, reflected=True)
Tensor.__or__ = dunder(bitwise_or)
Tensor.__ror__ = dunder(bitwise_or, reflected=True)
Tensor.__xor__ = dunder(bitwise_xor)
Tensor.__rxor__ = dunder(bitwise_xor, reflected=True)
Tensor.__invert__ = bitwise_not
Tensor.__lshift__ = dunder(bitwise_left_shift)
Tensor.__rlshift__ = dunder(bitwise_left_shift, reflected=True)
Tensor.__rshift__ = dunder(bitwise_right_shift)
Tensor.__rrshift__ = dunder(bitwise_right_shift, reflected=True)


# ------------------------------------------------------------------ maximum / minimum
@method("maximum")
def maximum(input, other) -> Tensor:
    a, b, _ = _pair(input, other)
    return apply("Max", a, b)


@method("minimum")
def minimum(input, other) -> Tensor:
    a, b, _ = _pair(input, other)
    return apply("Min", a, b)


@method("fmax")
def fmax(input, other) -> Tensor:
    """``maximum`` that ignores a NaN operand."""
    a, b, _ = _pair(input, other)
    return apply("Where", isnan(a), b, apply("Where", isnan(b), a, apply("Max", a, b)))


@method("fmin")
def fmin(input, other) -> Tensor:
    a, b, _ = _pair(input, other)
    return apply("Where", isnan(a), b, apply("Where", isnan(b), a, apply("Min", a, b)))


# ------------------------------------------------------------------ value tests
def _all_false(input) -> Tensor:
    return Tensor._wrap(np.zeros(input.shape, np.bool_))


@method("isnan")
def isnan(input) -> Tensor:
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        return _all_false(input)
    return apply("IsNaN", input)


@method("isinf")
def isinf(input) -> Tensor:
    if not input.dtype.is_floating_point:
        return _all_false(input)
    return apply("IsInf", input)


@method("isposinf")
def isposinf(input) -> Tensor:
    if not input.dtype.is_floating_point:
        return _all_false(input)
    return apply("IsInf", input, detect_negative=0)


@method("isneginf")
def isneginf(input) -> Tensor:
    if not input.dtype.is_floating_point:
        return _all_false(input)
    return apply("IsInf", input, detect_positive=0)


@method("isfinite")
def isfinite(input) -> Tensor:
    if not input.dtype.is_floating_point:
        return Tensor._wrap(np.ones(input.shape, np.bool_))
    return apply("Not", apply("Or", apply("IsNaN", input), apply("IsInf", input)))


@method("signbit")
def signbit(input) -> Tensor:
    if not input.dtype.is_floating_point:
        return lt(input, 0)
    # -0.0 has its sign bit set: 1 / -0.0 is -inf
    x = cast(input, dtypes.float32) if input.dtype.itemsize < 4 else input
    zero = const(0, x.dtype)
    neg_zero = apply("And", apply("Equal", x, zero),
                     apply("Less", apply("Reciprocal", x), zero))
    return apply("Or", apply("Less", x, zero), neg_zero)


def _is_nonzero(input) -> bool:
    if input.numel() != 1:
        raise OnyxError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input)


Tensor.is_nonzero = _is_nonzero


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

"""Arithmetic on tensors and Python numbers: ``+ - * / // % **``, with torch's promotion.

Each function is both ``onyx.add(a, b)`` and ``a.add(b)``; the Python operators call the same
functions (and give ``NotImplemented`` for operands that are neither tensors nor numbers).
"""

from __future__ import annotations

import functools

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_operand, cast, const, method, operand
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _pair(a, b) -> tuple[Tensor, Tensor, dtypes.dtype]:
    """Both operands as tensors of their common (torch-promoted) dtype."""
    if type(a) is Tensor and type(b) is Tensor and a._data.dtype == b._data.dtype:
        return a, b, a.dtype  # the common case, without the promotion walk
    a, b = as_operand(a), as_operand(b)
    dt = dtypes.result_type(a, b)
    return operand(a, dt), operand(b, dt), dt


def _float_pair(a, b) -> tuple[Tensor, Tensor, dtypes.dtype]:
    a, b = as_operand(a), as_operand(b)
    dt = dtypes.result_type(a, b)
    if not (dt.is_floating_point or dt.is_complex):
        dt = dtypes.get_default_dtype()
    return operand(a, dt), operand(b, dt), dt


def dunder(fn, reflected: bool = False):
    """A Python operator: ``NotImplemented`` for an operand we cannot take."""
    @functools.wraps(fn)
    def op(self, other):
        try:
            other = as_operand(other)
        except TypeError:
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    return op


def _refuse_bool(dt: dtypes.dtype, kernel: str) -> None:
    if dt is dtypes.bool_:
        raise OnyxError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_no_zero_divisor(b: Tensor, dt: dtypes.dtype) -> None:
    if not (dt.is_floating_point or dt.is_complex) and dt is not dtypes.bool_ \
            and (b._data == 0).any():
        raise OnyxError("ZeroDivisionError: integer division by zero")


@method("add")
def add(input, other, *, alpha=1) -> Tensor:
    a, b, dt = _pair(input, other)
    if alpha != 1:
        if isinstance(alpha, float) and not dt.is_floating_point:
            raise OnyxError("For integral input tensors, argument alpha must not be a floating "
                            "point number.")
        b = apply("Mul", b, const(alpha, dt))
    if dt is dtypes.bool_:
        return apply("Or", a, b)  # torch adds bools as a logical or
    return apply("Add", a, b)


@method("sub", "subtract")
def sub(input, other, *, alpha=1) -> Tensor:
    a, b, dt = _pair(input, other)
    if dt is dtypes.bool_:
        raise OnyxError("Subtraction, the `-` operator, with two bool tensors is not "
                        "supported. Use the `^` or `logical_xor()` operator instead.")
    if any(isinstance(v, bool) or isinstance(v, Tensor) and v.dtype is dtypes.bool_
           for v in (input, other)):
        raise OnyxError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                        "If you are trying to invert a mask, use the `~` or `logical_not()` "
                        "operator instead.")
    if alpha != 1:
        b = apply("Mul", b, const(alpha, dt))
    return apply("Sub", a, b)


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``."""
    return sub(other, input if alpha == 1 else mul(input, alpha))


@method("mul", "multiply")
def mul(input, other) -> Tensor:
    a, b, dt = _pair(input, other)
    if dt is dtypes.bool_:
        return apply("And", a, b)
    return apply("Mul", a, b)


@method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        a, b, _ = _float_pair(input, other)
        return apply("Div", a, b)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise OnyxError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                        f"but found '{rounding_mode}'")
    a, b, dt = _pair(input, other)
    if dt.is_floating_point:
        from onyx.frontend.ops.math import trunc
        return trunc(apply("Div", a, b))
    _check_no_zero_divisor(b, dt)
    return _int_div(a, b, dt)


def _int_div(a: Tensor, b: Tensor, dt: dtypes.dtype) -> Tensor:
    """Integer division truncating toward zero, whatever the Div kernel rounds to."""
    q = apply("Div", a, b)
    r = apply("Sub", a, apply("Mul", q, b))
    # Where the remainder's sign disagrees with the dividend's, the kernel floored: step back
    zero = const(0, dt)
    wrong = apply("And", apply("Not", apply("Equal", r, zero)),
                  apply("Xor", apply("Less", r, zero), apply("Less", a, zero)))
    return apply("Add", q, cast(wrong, dt))


@method("floor_divide")
def floor_divide(input, other) -> Tensor:
    a, b, dt = _pair(input, other)
    if dt.is_floating_point:
        return _float_floor_div(a, b, dt)
    _check_no_zero_divisor(b, dt)
    q = _int_div(a, b, dt)
    r = apply("Sub", a, apply("Mul", q, b))
    zero = const(0, dt)
    # truncation rounded up where signs differ and a remainder is left
    fix = apply("And", apply("Not", apply("Equal", r, zero)),
                apply("Xor", apply("Less", r, zero), apply("Less", b, zero)))
    return apply("Sub", q, cast(fix, dt))


def _float_floor_div(a: Tensor, b: Tensor, dt: dtypes.dtype) -> Tensor:
    """floor(a / b) computed from the exact remainder, so ``5.0 // 0.1`` is 49 as in torch."""
    zero, one = const(0, dt), const(1, dt)
    mod = apply("Mod", a, b, fmod=1)
    q = apply("Div", apply("Sub", a, mod), b)
    signs_differ = apply("Xor", apply("Less", b, zero), apply("Less", mod, zero))
    q = apply("Where", apply("And", apply("Not", apply("Equal", mod, zero)), signs_differ),
              apply("Sub", q, one), q)
    fq = apply("Floor", q)
    fq = apply("Where", apply("Greater", apply("Sub", q, fq), const(0.5, dt)),
               apply("Add", fq, one), fq)
    # x // 0 is x / 0 (inf or nan), as torch gives
    return apply("Where", apply("Equal", b, zero), apply("Div", a, b), fq)


@method("remainder")
def remainder(input, other) -> Tensor:
    """Python's modulo: the result takes the divisor's sign."""
    a, b, dt = _pair(input, other)
    _refuse_bool(dt, "remainder_cpu")
    if not dt.is_floating_point:
        _check_no_zero_divisor(b, dt)
        return apply("Mod", a, b, fmod=0)  # ONNX integer Mod already follows the divisor
    m = apply("Mod", a, b, fmod=1)
    zero = const(0, dt)
    fix = apply("And", apply("Not", apply("Equal", m, zero)),
                apply("Xor", apply("Less", b, zero), apply("Less", m, zero)))
    return apply("Where", fix, apply("Add", m, b), m)


@method("fmod")
def fmod(input, other) -> Tensor:
    """C's fmod: the result takes the dividend's sign."""
    a, b, dt = _pair(input, other)
    if not dt.is_floating_point:
        _check_no_zero_divisor(b, dt)
    return apply("Mod", a, b, fmod=1)


@method("neg", "negative")
def neg(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        raise OnyxError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                        "are trying to invert a mask, use the `~` or `logical_not()` operator "
                        "instead.")
    return apply("Neg", input)


@method("positive")
def positive(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        raise OnyxError("The `+` operator, on a bool tensor is not supported.")
    return input


@method("pow")
def pow(input, exponent) -> Tensor:
    a, e, dt = _pair(input, exponent)
    _refuse_bool(dt, "pow")
    if not (dt.is_floating_point or dt.is_complex) and (e._data < 0).any():
        raise OnyxError("Integers to negative integer powers are not allowed.")
    if isinstance(exponent, int | float) and exponent == 2 and dt.is_floating_point:
        return apply("Mul", a, a)  # exact, and cheaper than Pow
    return apply("Pow", a, e)


def float_power(input, exponent) -> Tensor:
    a, e, _ = _pair(input, exponent)
    return pow(cast(a, dtypes.float64), cast(e, dtypes.float64))


Tensor.float_power = float_power
Tensor.__add__ = dunder(add)
Tensor.__radd__ = dunder(add, reflected=True)
Tensor.__sub__ = dunder(sub)
Tensor.__rsub__ = dunder(sub, reflected=True)
Tensor.__mul__ = dunder(mul)
Tensor.__rmul__ = dunder(mul, reflected=True)
Tensor.__truediv__ = dunder(div)
Tensor.__rtruediv__ = dunder(div, reflected=True)
Tensor.__floordiv__ = dunder(floor_divide)
Tensor.__rfloordiv__ = dunder(floor_divide, reflected=True)
Tensor.__mod__ = dunder(remainder)
Tensor.__rmod__ = dunder(remainder, reflected=True)
Tensor.__pow__ = dunder(pow)
Tensor.__rpow__ = dunder(pow, reflected=True)
Tensor.__neg__ = neg
Tensor.__pos__ = positive


subtract, multiply, negative = sub, mul, neg
divide = true_divide = div

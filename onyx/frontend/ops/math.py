"""Unary elementwise math (``exp``, ``log1p``, ``round``, ``clamp``, ...) as ONNX ops.

Functions of floats promote integer and bool inputs to the default float dtype, as torch does;
``abs``, ``sign``, ``floor``, ``round``, ... keep integer inputs integer.
"""

from __future__ import annotations

import math as _math

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_operand, cast, const, copy_of, floating, method, operand
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _unary(op_type: str, *names: str, to_float: bool = True):
    def fn(input):
        return apply(op_type, floating(input) if to_float else input)
    fn.__name__ = names[0]
    fn.__doc__ = f"Elementwise ``{op_type}`` (ONNX)."
    return method(*names)(fn)


exp = _unary("Exp", "exp")
log = _unary("Log", "log")
sqrt = _unary("Sqrt", "sqrt")
sin = _unary("Sin", "sin")
cos = _unary("Cos", "cos")
tan = _unary("Tan", "tan")
asin = _unary("Asin", "asin", "arcsin")
acos = _unary("Acos", "acos", "arccos")
atan = _unary("Atan", "atan", "arctan")
sinh = _unary("Sinh", "sinh")
cosh = _unary("Cosh", "cosh")
tanh = _unary("Tanh", "tanh")
asinh = _unary("Asinh", "asinh", "arcsinh")
acosh = _unary("Acosh", "acosh", "arccosh")
atanh = _unary("Atanh", "atanh", "arctanh")
sigmoid = _unary("Sigmoid", "sigmoid")
erf = _unary("Erf", "erf")
reciprocal = _unary("Reciprocal", "reciprocal")
def _no_bool(name: str, input: Tensor) -> None:
    if input.dtype is dtypes.bool_:
        raise OnyxError(f"\"{name}_cpu\" not implemented for 'Bool'")


@method("abs", "absolute")
def abs(input) -> Tensor:
    _no_bool("abs", input)
    return apply("Abs", input)


@method("sign", "sgn")
def sign(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        return copy_of(input)
    return apply("Sign", input)


Tensor.__abs__ = abs


@method("relu")
def relu(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        raise OnyxError("\"clamp_min_cpu\" not implemented for 'Bool'")
    return apply("Relu", input)


def _scaled_log(input, factor: float) -> Tensor:
    x = floating(input)
    return apply("Mul", apply("Log", x), const(factor, x.dtype))


@method("log2")
def log2(input) -> Tensor:
    return _scaled_log(input, 1.0 / _math.log(2.0))


@method("log10")
def log10(input) -> Tensor:
    return _scaled_log(input, 1.0 / _math.log(10.0))


@method("exp2")
def exp2(input) -> Tensor:
    x = floating(input)
    return apply("Pow", const(2.0, x.dtype), x)


@method("rsqrt")
def rsqrt(input) -> Tensor:
    return apply("Reciprocal", apply("Sqrt", floating(input)))


@method("erfc")
def erfc(input) -> Tensor:
    x = floating(input)
    return apply("Sub", const(1.0, x.dtype), apply("Erf", x))


def _near_zero_series(input, coeffs: list[float], far) -> Tensor:
    """``far(x)`` in float64, but a Taylor series where ``|x| < 1e-3`` (cancellation there).

    Both branches stay finite with finite derivatives where they are not selected, so the
    gradient through ``Where`` is never polluted by ``0 * inf``.
    """
    x = floating(input)
    x64 = cast(x, dtypes.float64)
    series, power = None, x64
    for c in coeffs:
        term = apply("Mul", power, const(c, dtypes.float64))
        series = term if series is None else apply("Add", series, term)
        power = apply("Mul", power, x64)
    small = apply("Less", apply("Abs", x64), const(1e-3, dtypes.float64))
    return cast(apply("Where", small, series, far(x64)), x.dtype)


@method("expm1")
def expm1(input) -> Tensor:
    return _near_zero_series(input, [1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120],
                             lambda x: apply("Sub", apply("Exp", x), const(1.0, x.dtype)))


@method("log1p")
def log1p(input) -> Tensor:
    return _near_zero_series(input, [1.0, -1 / 2, 1 / 3, -1 / 4, 1 / 5],
                             lambda x: apply("Log", apply("Add", x, const(1.0, x.dtype))))


def _rounding(op_type: str, name: str):
    def fn(input) -> Tensor:
        _no_bool(name, input)
        if not input.dtype.is_floating_point:
            return copy_of(input)  # already whole numbers; torch still returns a new tensor
        return apply(op_type, input)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{op_type}``; integer tensors are returned as copies."
    return method(name)(fn)


floor = _rounding("Floor", "floor")
ceil = _rounding("Ceil", "ceil")


@method("round")
def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` places (negative: to tens, hundreds, ...)."""
    _no_bool("round", input)
    if not input.dtype.is_floating_point:
        return copy_of(input)
    if decimals == 0:
        return apply("Round", input)
    scale = const(10.0 ** _math.fabs(decimals), input.dtype)
    up, down = ("Mul", "Div") if decimals > 0 else ("Div", "Mul")
    return apply(down, apply("Round", apply(up, input, scale)), scale)


@method("trunc", "fix")
def trunc(input) -> Tensor:
    _no_bool("trunc", input)
    if not input.dtype.is_floating_point:
        return copy_of(input)
    # trunc(x) = sign(x) * floor(|x|): keeps -0.0 for small negatives, as torch does
    return apply("Mul", apply("Sign", input), apply("Floor", apply("Abs", input)))


@method("frac")
def frac(input) -> Tensor:
    if not input.dtype.is_floating_point:
        raise OnyxError(f"\"frac_cpu\" not implemented for '{input.dtype.name}'")
    return apply("Sub", input, trunc(input))


@method("square")
def square(input) -> Tensor:
    if input.dtype is dtypes.bool_:
        input = cast(input, dtypes.int64)
    return apply("Mul", input, input)


@method("deg2rad")
def deg2rad(input) -> Tensor:
    x = floating(input)
    return apply("Mul", x, const(_math.pi / 180.0, x.dtype))


@method("rad2deg")
def rad2deg(input) -> Tensor:
    x = floating(input)
    return apply("Mul", x, const(180.0 / _math.pi, x.dtype))


# ------------------------------------------------------------------ clamping
@method("clamp", "clip")
def clamp(input, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise OnyxError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [as_operand(b) for b in (min, max) if b is not None]
    dt = dtypes.result_type(input, *bounds)
    x = cast(input, dt)
    lo = None if min is None else operand(as_operand(min), dt)
    hi = None if max is None else operand(as_operand(max), dt)
    if all(b is None or b.ndim == 0 for b in (lo, hi)):
        return apply("Clip", x, lo, hi)
    # tensor bounds broadcast; max applied last so min > max gives max, as Clip does. Where
    # (not Max/Min) so a value equal to a bound keeps the gradient, as torch's clamp does
    if lo is not None:
        x = apply("Where", apply("Less", x, lo), lo, x)
    return x if hi is None else apply("Where", apply("Greater", x, hi), hi, x)


@method("clamp_min")
def clamp_min(input, min) -> Tensor:
    return clamp(input, min=min)


@method("clamp_max")
def clamp_max(input, max) -> Tensor:
    return clamp(input, max=max)


@method("nan_to_num")
def nan_to_num(input, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    if not input.dtype.is_floating_point:
        return copy_of(input)
    dt = input.dtype
    info = dtypes.finfo(dt)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    out = apply("Where", apply("IsNaN", input), const(nan, dt), input)
    out = apply("Where", apply("IsInf", input, detect_negative=0), const(hi, dt), out)
    return apply("Where", apply("IsInf", input, detect_positive=0), const(lo, dt), out)


# ------------------------------------------------------------------ ternary
@method("lerp")
def lerp(input, end, weight) -> Tensor:
    """``input + weight * (end - input)``, from the nearer end as torch computes it."""
    start, stop = as_operand(input), as_operand(end)
    w = as_operand(weight)
    dt = dtypes.result_type(start, stop, w)
    if not dt.is_floating_point:
        raise OnyxError(f"\"lerp_kernel_scalar\" not implemented for '{dt.name}'")
    a, b, w = operand(start, dt), operand(stop, dt), operand(w, dt)
    diff = apply("Sub", b, a)
    near_start = apply("Add", a, apply("Mul", w, diff))
    near_end = apply("Sub", b, apply("Mul", diff, apply("Sub", const(1.0, dt), w)))
    return apply("Where", apply("Less", apply("Abs", w), const(0.5, dt)), near_start, near_end)


@method("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    from onyx.frontend.ops.arithmetic import add, mul
    return add(input, mul(mul(tensor1, tensor2), value) if value != 1 else mul(tensor1, tensor2))


@method("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    from onyx.frontend.ops.arithmetic import add, div, mul
    if not (tensor1.dtype.is_floating_point or tensor2.dtype.is_floating_point):
        raise OnyxError("Integer division with addcdiv is no longer supported, and in a future "
                        "release addcdiv will perform a true division of tensor1 and tensor2.")
    q = div(tensor1, tensor2)
    return add(input, mul(q, value) if value != 1 else q)


@method("hypot")
def hypot(input, other) -> Tensor:
    from onyx.frontend.ops.arithmetic import _float_pair
    a, b, _ = _float_pair(input, other)
    return apply("Sqrt", apply("Add", apply("Mul", a, a), apply("Mul", b, b)))


@method("logaddexp")
def logaddexp(input, other) -> Tensor:
    """``log(exp(a) + exp(b))`` without overflow: ``max + log1p(exp(-|a - b|))``."""
    from onyx.frontend.ops.arithmetic import _float_pair
    a, b, _ = _float_pair(input, other)
    hi = apply("Max", a, b)
    gap = apply("Neg", apply("Abs", apply("Sub", a, b)))
    return apply("Add", hi, log1p(apply("Exp", gap)))


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
absolute, sgn, fix, clip = abs, sign, trunc, clamp

"""Matrix products: ``matmul``/``@``, ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``, ``einsum``."""

from __future__ import annotations

import string

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_operand, cast, const, int64s, method
from onyx.frontend.ops.arithmetic import dunder
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _same_dtype(a: Tensor, b: Tensor) -> None:
    if a.dtype is not b.dtype:
        raise OnyxError(f"expected both operands to have the same dtype, but got: "
                        f"{a.dtype.name} != {b.dtype.name}")


@method("matmul")
def matmul(input, other) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError("matmul(): argument 'other' must be Tensor")
    if input.ndim == 0 or other.ndim == 0:
        raise OnyxError(f"both arguments to matmul need to be at least 1D, but they are "
                        f"{input.ndim}D and {other.ndim}D")
    _same_dtype(input, other)
    xs, ys = input._data.shape, other._data.shape
    k_left = xs[-1]
    k_right = ys[0] if len(ys) == 1 else ys[-2]
    if k_left != k_right:
        left = "x".join(map(str, input.shape[-2:] if input.ndim > 1 else input.shape))
        right = "x".join(map(str, other.shape[-2:] if other.ndim > 1 else other.shape))
        raise OnyxError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
    return apply("MatMul", input, other)


Tensor.__matmul__ = dunder(matmul)
Tensor.__rmatmul__ = dunder(matmul, reflected=True)


@method("mm")
def mm(input, mat2) -> Tensor:
    if input.ndim != 2:
        raise OnyxError("self must be a matrix")
    if mat2.ndim != 2:
        raise OnyxError("mat2 must be a matrix")
    return matmul(input, mat2)


@method("bmm")
def bmm(input, mat2) -> Tensor:
    if input.ndim != 3:
        raise OnyxError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise OnyxError("batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0]:
        raise OnyxError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, "
                        f"{mat2.shape[1]}].")
    return matmul(input, mat2)


@method("mv")
def mv(input, vec) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise OnyxError(f"vector + matrix @ vector expected, got {input.ndim}, {vec.ndim}")
    return matmul(input, vec)


@method("dot")
def dot(input, other) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise OnyxError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise OnyxError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                        f"[{other.shape[0]}] to have the same number of elements, but got "
                        f"{input.shape[0]} and {other.shape[0]} elements respectively")
    return matmul(input, other)


@method("vdot")
def vdot(input, other) -> Tensor:
    return dot(input, other)


@method("inner")
def inner(input, other) -> Tensor:
    """Sum over the last dims of both: shape ``input.shape[:-1] + other.shape[:-1]``."""
    if input.ndim == 0 or other.ndim == 0:
        from onyx.frontend.ops.arithmetic import mul
        return mul(input, other)
    left = string.ascii_lowercase[:input.ndim - 1]
    right = string.ascii_uppercase[:other.ndim - 1]
    return einsum(f"{left}z,{right}z->{left}{right}", input, other)


@method("outer", "ger")
def outer(input, vec2) -> Tensor:
    if input.ndim != 1 or vec2.ndim != 1:
        raise OnyxError(f"outer: expected 1-D tensors, got {input.ndim}D and {vec2.ndim}D")
    dt = dtypes.result_type(input, vec2)
    return apply("Mul", apply("Unsqueeze", cast(input, dt), int64s([1])),
                 apply("Unsqueeze", cast(vec2, dt), int64s([0])))


def _scaled(t: Tensor, factor, dt: dtypes.dtype) -> Tensor:
    return t if factor == 1 else apply("Mul", t, const(factor, dt))


@method("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    prod = mm(mat1, mat2)
    if beta == 0:  # torch ignores input (even NaN in it) when beta is 0
        return _scaled(prod, alpha, prod.dtype)
    return apply("Add", _scaled(cast(input, prod.dtype), beta, prod.dtype),
                 _scaled(prod, alpha, prod.dtype))


@method("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    prod = bmm(batch1, batch2)
    if beta == 0:
        return _scaled(prod, alpha, prod.dtype)
    return apply("Add", _scaled(cast(input, prod.dtype), beta, prod.dtype),
                 _scaled(prod, alpha, prod.dtype))


@method("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    prod = mv(mat, vec)
    if beta == 0:
        return _scaled(prod, alpha, prod.dtype)
    return apply("Add", _scaled(cast(input, prod.dtype), beta, prod.dtype),
                 _scaled(prod, alpha, prod.dtype))


# ------------------------------------------------------------------ einsum
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation; ``...`` is spelled out into letters before the ONNX node is made,
    so the node (and its gradient) only ever sees explicit subscripts."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ops = [as_operand(t) for t in operands]
    if not all(isinstance(t, Tensor) for t in ops):
        raise TypeError("einsum(): operands must be tensors")
    inputs, output = _parse_einsum(equation.replace(" ", ""), ops)
    dt = dtypes.result_type(*ops)
    ops = [cast(t, dt) for t in ops]
    sizes: dict[str, int] = {}
    for spec, t in zip(inputs, ops):
        for c, n in zip(spec, t.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise OnyxError(f"einsum(): operands do not broadcast with remapped shapes "
                                f"(subscript {c!r}: {sizes[c]} and {n})")
    ops = [_broadcast_subscripts(t, spec, sizes) for t, spec in zip(ops, inputs)]
    return apply("Einsum", *ops, equation=",".join(inputs) + "->" + output)


def _broadcast_subscripts(t: Tensor, spec: str, sizes: dict) -> Tensor:
    target = [sizes[c] for c in spec]
    return t if list(t.shape) == target else apply("Expand", t, int64s(target))


def _parse_einsum(eq: str, ops: list) -> tuple[list[str], str]:
    lhs, arrow, rhs = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(ops):
        raise OnyxError("einsum(): more operands were provided than specified in the equation"
                        if len(ops) > len(specs) else
                        "einsum(): fewer operands were provided than specified in the equation")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell_rank = max([t.ndim - len(s.replace("...", "")) for s, t in zip(specs, ops)
                    if "..." in s] or [0])
    ell = "".join(spare[:ell_rank])
    inputs = []
    for s, t in zip(specs, ops):
        if "..." in s:
            n = t.ndim - len(s.replace("...", ""))
            s = s.replace("...", ell[ell_rank - n:] if n else "")
        if len(s) != t.ndim or not all(c.isalpha() for c in s):
            raise OnyxError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                            f"does not match the number of dimensions ({t.ndim}) for operand "
                            f"{len(inputs)}")
        inputs.append(s)
    if arrow:
        output = rhs.replace("...", ell)
    else:
        counts = {c: "".join(inputs).count(c) for c in set("".join(inputs))}
        output = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return inputs, output


@method("trace")
def trace(input) -> Tensor:
    if input.ndim != 2:
        raise OnyxError("trace: expected a matrix")
    from onyx.frontend.ops.reduction import sum as _sum
    from onyx.frontend.ops.triangular import diagonal
    return _sum(diagonal(input))


ger = outer

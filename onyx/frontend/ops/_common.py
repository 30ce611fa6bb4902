"""What every op module needs: method attachment, operand conversion, casting, views."""

from __future__ import annotations

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def method(*names: str):
    """Attach the decorated function to ``Tensor`` under each of ``names``."""
    def attach(fn):
        for name in names:
            setattr(Tensor, name, fn)
        return fn
    return attach


def cast(t: Tensor, dtype: dtypes.dtype) -> Tensor:
    if t.dtype is dtype:
        return t
    return apply("Cast", t, to=int(dtype.onnx))


def is_number(x) -> bool:
    return isinstance(x, int | float | bool | complex | np.number | np.bool_)


def as_operand(x):
    """A tensor, or a Python number, from what a user passes as the other operand."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.number | np.bool_):
        return x.item()
    if isinstance(x, int | float | bool | complex):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")


def operand(x, dtype: dtypes.dtype) -> Tensor:
    """``x`` (tensor or Python number) as a tensor of ``dtype``."""
    if isinstance(x, Tensor):
        return cast(x, dtype)
    return Tensor._wrap(np.asarray(x, dtype=dtype.np))


def binary(op_type: str, a, b, out_dtype: dtypes.dtype | None = None) -> Tensor:
    """An elementwise binary ONNX op with torch's type promotion."""
    if type(a) is Tensor and type(b) is Tensor and a._data.dtype == b._data.dtype \
            and out_dtype is None:
        return apply(op_type, a, b)  # fast path: same dtype, nothing to promote
    a, b = as_operand(a), as_operand(b)
    dt = dtypes.result_type(a, b)
    out = apply(op_type, operand(a, dt), operand(b, dt))
    return out if out_dtype is None else cast(out, out_dtype)


def int64s(values) -> Tensor:
    return Tensor._wrap(np.asarray(values, dtype=np.int64))


def const(value, dtype: dtypes.dtype) -> Tensor:
    return Tensor._wrap(np.asarray(value, dtype=dtype.np))


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, int | np.integer):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return int(dim) % n


def wrap_dims(dims, ndim: int) -> list[int]:
    """``dims`` (an int or a sequence) made non-negative; a repeated dim is an error."""
    dims = [dims] if isinstance(dims, int | np.integer) else list(dims)
    out = [wrap_dim(d, ndim) for d in dims]
    if len(set(out)) != len(out):
        raise OnyxError(f"dim {out[-1]} appears multiple times in the list of dims")
    return out


def shape_args(shape) -> list[int]:
    """Sizes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``."""
    if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, bool) or not isinstance(s, int | np.integer):
            raise TypeError(f"sizes must be ints, got {type(s).__name__}")
        out.append(int(s))
    return out


def floating(x: Tensor) -> Tensor:
    """``x`` unless it is an integer or bool tensor, then cast to the default float dtype."""
    return x if x.dtype.is_floating_point or x.dtype.is_complex else \
        cast(x, dtypes.get_default_dtype())


def fresh(out: Tensor, *sources: Tensor) -> Tensor:
    """``out`` made to own its memory where its kernel handed back (a view of) an input.

    For ops that are not views in torch (``clone``, ``flip``, ...): a later in-place write to
    the input must not show through. The values are the kernel's, only the buffer is new.
    """
    if any(s is not None and np.may_share_memory(out._data, s._data) for s in sources):
        _replace_data(out, out._data.copy())
    return out


def as_view(out: Tensor, source: Tensor, replay) -> Tensor:
    """Mark ``out`` as a view of ``source``: shared version counter and a base to write to.

    ``replay(t)`` redoes the view op on any tensor ``t`` shaped like ``source``; views of
    views compose it, so an in-place change to the view can be re-expressed on the base.
    """
    if not np.may_share_memory(out._data, source._data) and out._data.size:
        return out  # the kernel copied: not a view after all
    base = source._base if source._base is not None else source
    parent = source._view_fn
    out._base = base
    out._version = source._version
    rec = out.grad_fn
    if rec is not None:  # the record saw the view's own fresh counter: re-read the shared one
        versions = list(rec.out_versions)
        versions[out._out_index] = out._version.value
        rec.out_versions = tuple(versions)
    out._view_fn = replay if parent is None else (lambda t: replay(parent(t)))
    return out


def _replace_data(t: Tensor, data: np.ndarray) -> None:
    """Swap ``t``'s buffer for an equal one, keeping its record's saved output in step."""
    t._data = data
    if t.grad_fn is not None:
        t.grad_fn._out_data[t._out_index] = data


def copy_of(t: Tensor) -> Tensor:
    """A differentiable copy (``Identity``) that owns its memory."""
    return fresh(apply("Identity", t), t)


def check_float_for_grad(name: str, t: Tensor) -> None:
    if not (t.dtype.is_floating_point or t.dtype.is_complex):
        raise OnyxError(f"\"{name}\" not implemented for '{t.dtype.name}'")

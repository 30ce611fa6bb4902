"""Shape rules for ops that make tensors from attributes or small inputs: Constant,
ConstantOfShape, Range, EyeLike and the window functions.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.folding import fold
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import first_dtype
from onyx.ir.tensor import Tensor

# Constant's one-of attributes: (dtype, rank) of the tensor each one makes.
_CONSTANT_LISTS = {
    "value_float": (DType.FLOAT, 0), "value_floats": (DType.FLOAT, 1),
    "value_int": (DType.INT64, 0), "value_ints": (DType.INT64, 1),
    "value_string": (DType.STRING, 0), "value_strings": (DType.STRING, 1),
}


@shape_rule("Constant")
def _constant(ctx: InferenceContext):
    value = ctx.attr("value")
    if isinstance(value, Tensor):
        ctx.set_value(0, value)
        return tensor(value.dtype, value.shape)
    sparse = ctx.attr("sparse_value")
    if sparse is not None:
        return tensor(DType(sparse.values.data_type), tuple(int(d) for d in sparse.dims))
    for name, (dtype, rank) in _CONSTANT_LISTS.items():
        v = ctx.attr(name)
        if v is None:
            continue
        if dtype is not DType.STRING:
            ctx.set_value(0, np.array(v, dtype=dtype.numpy))
        return tensor(dtype, () if rank == 0 else (len(v),))
    return None


@shape_rule("ConstantOfShape")
def _constant_of_shape(ctx: InferenceContext):
    value = ctx.attr("value")
    dtype = value.dtype if isinstance(value, Tensor) else DType.FLOAT
    dims = ctx.input_dims(0)
    if dims is None:
        return tensor(dtype, None)
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise ShapeError(f"shape {list(dims)} has a negative dimension")
    fill = value.numpy().reshape(-1)[0] if isinstance(value, Tensor) else 0.0
    fold(ctx, lambda s: np.full(tuple(s), fill, dtype=dtype.numpy), dims, inputs=(0,))
    return tensor(dtype, dims)


@shape_rule("Range")
def _range(ctx: InferenceContext):
    dtype = first_dtype(ctx, (0, 1, 2))
    start, limit, delta = (ctx.input_scalar(i) for i in range(3))
    if start is None or limit is None or delta is None:
        return tensor(dtype, (None,))
    if delta == 0:
        raise ShapeError("delta must not be 0")
    n = max(math.ceil((limit - start) / delta), 0)
    out = (n,)
    fold(ctx, lambda s, _l, d: (s + np.arange(n) * d), out, dtype)
    return tensor(dtype, out)


@shape_rule("EyeLike")
def _eye_like(ctx: InferenceContext):
    dtype = ctx.attr("dtype")
    return tensor(DType(dtype) if dtype is not None else ctx.input_dtype(0), ctx.input_shape(0))


@shape_rule("HannWindow")
@shape_rule("HammingWindow")
@shape_rule("BlackmanWindow")
def _window(ctx: InferenceContext):
    size = ctx.input_scalar(0)
    return tensor(DType(ctx.attr("output_datatype", int(DType.FLOAT))),
                  (None if size is None else int(size),))


@shape_rule("MelWeightMatrix")
def _mel_weight_matrix(ctx: InferenceContext):
    bins, dft = ctx.input_scalar(0), ctx.input_scalar(1)
    return tensor(DType(ctx.attr("output_datatype", int(DType.FLOAT))),
                  (None if dft is None else int(dft) // 2 + 1,
                   None if bins is None else int(bins)))

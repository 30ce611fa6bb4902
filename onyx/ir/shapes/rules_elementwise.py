"""Shape rules for elementwise ops: unary, broadcasting binary/variadic, comparisons, casts.

Opsets before 7 broadcast with an explicit ``broadcast`` attribute (B onto A), so the output
takes A's shape there; from opset 7 on, numpy-style multidirectional broadcasting applies.
Small integer values are folded so shape arithmetic (``Div(dim, heads)``) stays concrete.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.shapes.dims import broadcast_shapes, merge_shapes
from onyx.ir.shapes.folding import dim_add, dim_div, dim_mul, dim_sub, fold, fold_dims
from onyx.ir.shapes.registry import InferenceContext, PartialInts, shape_rule, tensor


def same_as_input(ctx: InferenceContext, i: int = 0):
    """The output is typed like input ``i`` (any kind of type)."""
    return ctx.input_type(i)


def first_dtype(ctx: InferenceContext, inputs) -> DType | None:
    for i in inputs:
        d = ctx.input_dtype(i)
        if d is not None:
            return d
    return None


def broadcast_inputs(ctx: InferenceContext, inputs=None):
    """The multidirectional broadcast of the present inputs' shapes."""
    idx = range(ctx.num_inputs) if inputs is None else inputs
    return broadcast_shapes(*(ctx.input_shape(i) for i in idx if ctx.has_input(i)))


def _legacy_shape(ctx: InferenceContext):
    # Opsets < 7: B is broadcast onto A when broadcast=1, else both must match.
    if ctx.attr("broadcast", 0):
        return ctx.input_shape(0)
    return merge_shapes(ctx.input_shape(0), ctx.input_shape(1), "input shapes")


def _binary_shape(ctx: InferenceContext):
    return _legacy_shape(ctx) if ctx.opset < 7 else broadcast_inputs(ctx, (0, 1))


# -- unary ops that keep type and shape
_UNARY_FOLD = {
    "Abs": np.abs, "Neg": np.negative, "Ceil": np.ceil, "Floor": np.floor, "Sqrt": np.sqrt,
    "Exp": np.exp, "Log": np.log, "Reciprocal": np.reciprocal, "Sign": np.sign,
    "Not": np.logical_not, "Relu": lambda x: np.maximum(x, 0), "Round": np.round,
    "BitwiseNot": np.invert,
}
_UNARY = [
    "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cos", "Cosh", "Erf", "Sigmoid", "Sin",
    "Sinh", "Tan", "Tanh", "Softplus", "Softsign", "Elu", "Selu", "Celu", "LeakyRelu",
    "HardSigmoid", "HardSwish", "ThresholdedRelu", "Mish", "Gelu", "Swish", "Shrink", "Clip",
]


def _unary(ctx: InferenceContext):
    t = ctx.input_tensor(0)
    fn = _UNARY_FOLD.get(ctx.node.op_type)
    if t is not None and fn is not None:
        fold(ctx, fn, t.shape, t.dtype, (0,))
    return ctx.input_type(0)


for _op in [*_UNARY, *_UNARY_FOLD]:
    shape_rule(_op)(_unary)


@shape_rule("Identity")
def _identity(ctx: InferenceContext):
    data = ctx.input_data(0)
    if data is not None:
        ctx.set_value(0, data)
    return ctx.input_type(0)


# -- binary arithmetic
def _int_div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        q = np.abs(a) // np.abs(b)
        return np.where((a < 0) != (b < 0), -q, q)
    return a / b


_ARITH = {"Add": (np.add, dim_add), "Sub": (np.subtract, dim_sub),
          "Mul": (np.multiply, dim_mul), "Div": (_int_div, dim_div),
          "Pow": (np.power, None), "BitwiseAnd": (np.bitwise_and, None),
          "BitwiseOr": (np.bitwise_or, None), "BitwiseXor": (np.bitwise_xor, None),
          "BitShift": (None, None)}


def _arith(ctx: InferenceContext):
    shape = _binary_shape(ctx)
    dtype = ctx.input_dtype(0) if ctx.node.op_type == "Pow" else first_dtype(ctx, (0, 1))
    np_fn, dim_fn = _ARITH[ctx.node.op_type]
    if np_fn is not None:
        fold(ctx, lambda a, b: np_fn(a, b).astype(a.dtype), shape, dtype, (0, 1))
    if dim_fn is not None:
        fold_dims(ctx, dim_fn)
    return tensor(dtype, shape)


for _op in _ARITH:
    shape_rule(_op)(_arith)


@shape_rule("Mod", since=10)
def _mod(ctx: InferenceContext):
    shape = broadcast_inputs(ctx, (0, 1))
    dtype = first_dtype(ctx, (0, 1))
    fn = np.fmod if ctx.attr("fmod", 0) else np.mod
    fold(ctx, fn, shape, dtype, (0, 1))
    return tensor(dtype, shape)


@shape_rule("PRelu")
def _prelu(ctx: InferenceContext):
    # The slope broadcasts onto X (unidirectionally): Y has X's shape.
    return tensor(first_dtype(ctx, (0, 1)), ctx.input_shape(0))


# -- logic and comparisons: bool out
_LOGIC = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
          "Equal": np.equal, "Greater": np.greater, "Less": np.less,
          "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal}


def _logic(ctx: InferenceContext):
    shape = _binary_shape(ctx)
    fold(ctx, _LOGIC[ctx.node.op_type], shape, DType.BOOL, (0, 1))
    if ctx.node.op_type == "Equal":
        _equal_dims(ctx)
    return tensor(DType.BOOL, shape)


def _same_dim(a, b) -> bool | None:
    if a is None or b is None:
        return None
    if a == b:
        return True
    if isinstance(a, int) and isinstance(b, int):
        return False
    # A name stands for a size >= 0, so it never equals a negative int (Reshape's -1).
    if isinstance(a, int) and a < 0 or isinstance(b, int) and b < 0:
        return False
    return None


def _equal_dims(ctx: InferenceContext) -> None:
    # Equal(shape with names, ints): decidable where both sides are known or the same name.
    pa, pb = ctx.input_partial(0), ctx.input_partial(1)
    if pa is None or pb is None or ctx.input_value(0) is not None and \
            ctx.input_value(1) is not None:
        return
    da, db = pa.dims, pb.dims
    if len(da) == 1:
        da = da * len(db)
    if len(db) == 1:
        db = db * len(da)
    if len(da) != len(db):
        return
    out = [_same_dim(a, b) for a, b in zip(da, db, strict=True)]
    if None not in out:
        ctx.set_value(0, np.array(out[0] if pa.scalar and pb.scalar else out, dtype=bool))


for _op in _LOGIC:
    shape_rule(_op)(_logic)


@shape_rule("IsNaN")
@shape_rule("IsInf")
def _is_special(ctx: InferenceContext):
    return tensor(DType.BOOL, ctx.input_shape(0))


# -- variadic
_VARIADIC = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add, "Mean": None}


def _variadic(ctx: InferenceContext):
    idx = [i for i in range(ctx.num_inputs) if ctx.has_input(i)]
    if ctx.opset < 8:
        shape = None
        for i in idx:
            shape = merge_shapes(shape, ctx.input_shape(i), "input shapes")
    else:
        shape = broadcast_inputs(ctx)
    dtype = first_dtype(ctx, idx)
    fn = _VARIADIC[ctx.node.op_type]
    if fn is not None and idx:
        fold(ctx, lambda *xs: _reduce_all(fn, xs), shape, dtype)
    if ctx.node.op_type in ("Max", "Min") and len(idx) == 2:
        pick = max if ctx.node.op_type == "Max" else min
        fold_dims(ctx, lambda a, b: pick(a, b) if isinstance(a, int) and isinstance(b, int)
                  else None)
    return tensor(dtype, shape)


def _reduce_all(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


for _op in _VARIADIC:
    shape_rule(_op)(_variadic)


@shape_rule("Where")
def _where(ctx: InferenceContext):
    shape = broadcast_inputs(ctx, (0, 1, 2))
    dtype = first_dtype(ctx, (1, 2))
    fold(ctx, np.where, shape, dtype, (0, 1, 2))
    if any(ctx.input_value(i) is None for i in range(3)):
        _where_dims(ctx, shape)
    return tensor(dtype, shape)


def _where_dims(ctx: InferenceContext, shape) -> None:
    # Selecting between shape vectors: a known condition picks, an unknown one keeps only
    # the entries both sides agree on.
    pa, pb = ctx.input_partial(1), ctx.input_partial(2)
    if shape is None or len(shape) > 1 or pa is None or pb is None:
        return
    n = shape[0] if shape else 1
    if not isinstance(n, int):
        return
    cond = ctx.input_value(0)
    c = [None] * n if cond is None or cond.size not in (1, n) else \
        [bool(k) for k in np.broadcast_to(cond.reshape(-1), (n,))]
    a = pa.dims * n if len(pa.dims) == 1 else pa.dims
    b = pb.dims * n if len(pb.dims) == 1 else pb.dims
    if len(a) != n or len(b) != n:
        return
    picked = tuple(x if k else y if k is not None else x if x == y else None
                   for k, x, y in zip(c, a, b, strict=True))
    ctx.set_value(0, PartialInts(picked, not shape))


# -- casts
def cast_target(to) -> DType | None:
    """``Cast.to``: an int code, or (opsets 1-5) a type name such as ``"FLOAT"``."""
    if isinstance(to, bytes):
        to = to.decode()
    if isinstance(to, str):
        return DType.__members__.get(to.upper())
    if to is None or int(to) not in DType._value2member_map_:
        return None
    return DType(int(to))


@shape_rule("Cast")
def _cast(ctx: InferenceContext):
    to = cast_target(ctx.attr("to"))
    shape = ctx.input_shape(0)
    if to is not None:
        fold(ctx, lambda x: x.astype(to.numpy), shape, to, (0,))
        p = ctx.input_partial(0)
        if ctx.input_value(0) is None and p is not None and to.is_integer:
            ctx.set_value(0, p)
    return tensor(to, shape)


@shape_rule("CastLike")
def _cast_like(ctx: InferenceContext):
    to = ctx.input_dtype(1)
    shape = ctx.input_shape(0)
    if to is not None:
        fold(ctx, lambda x: x.astype(to.numpy), shape, to, (0,))
    return tensor(to, shape)


@shape_rule("BitCast")
def _bit_cast(ctx: InferenceContext):
    return tensor(cast_target(ctx.attr("to")), ctx.input_shape(0))


@shape_rule("Dropout")
def _dropout(ctx: InferenceContext):
    x = ctx.input_type(0)
    mask_dtype = DType.BOOL if ctx.opset >= 10 else ctx.input_dtype(0)
    return [x, tensor(mask_dtype, ctx.input_shape(0))]


# -- random ops shaped like an input or by attributes
@shape_rule("Bernoulli")
@shape_rule("RandomUniformLike")
@shape_rule("RandomNormalLike")
def _random_like(ctx: InferenceContext):
    dtype = ctx.attr("dtype")
    return tensor(DType(dtype) if dtype is not None else ctx.input_dtype(0),
                  ctx.input_shape(0))


@shape_rule("RandomUniform")
@shape_rule("RandomNormal")
def _random(ctx: InferenceContext):
    shape = ctx.attr("shape")
    return tensor(DType(ctx.attr("dtype", int(DType.FLOAT))),
                  None if shape is None else tuple(int(d) for d in shape))


@shape_rule("Multinomial")
def _multinomial(ctx: InferenceContext):
    x = ctx.input_shape(0)
    batch = x[0] if x is not None and len(x) == 2 else None
    return tensor(DType(ctx.attr("dtype", int(DType.INT32))),
                  (batch, int(ctx.attr("sample_size", 1))))


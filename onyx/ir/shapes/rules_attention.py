"""Shape rules for sequence models: RNN, GRU, LSTM, Attention, FlexAttention,
LinearAttention, CausalConvWithState, RotaryEmbedding, SwiGLU and TensorScatter.
"""

from __future__ import annotations

from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import add, check_dim, known, merge_shapes
from onyx.ir.shapes.folding import dim_div, dim_mul
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import same_as_input
from onyx.ir.types import Dim, format_shape


def _direction(ctx: InferenceContext) -> str:
    d = ctx.attr("direction", "forward")
    return d.decode() if isinstance(d, bytes) else d


def _recurrent(ctx: InferenceContext):
    x, w, r = ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)
    dtype = ctx.input_dtype(0)
    hidden = ctx.attr("hidden_size")
    if hidden is None and r is not None and len(r) == 3:
        hidden = r[2]
    dirs: Dim = 2 if _direction(ctx) == "bidirectional" else 1
    if w is not None and len(w) == 3:
        dirs = check_dim(dirs, w[0], f"num_directions vs W {format_shape(w)}")
    layout = int(ctx.attr("layout", 0))
    seq = batch = None
    if x is not None:
        if len(x) != 3:
            raise ShapeError(f"X {format_shape(x)} must be 3-D")
        seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    y = (batch, seq, dirs, hidden) if layout else (seq, dirs, batch, hidden)
    state = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
    return [tensor(dtype, y)] + [tensor(dtype, state)] * (ctx.num_outputs - 1)


for _op in ("RNN", "GRU", "LSTM"):
    shape_rule(_op)(_recurrent)


def _heads(ctx: InferenceContext, shape, attr: str):
    """(batch, heads, seq, head_size) of a 3-D packed or 4-D attention operand."""
    if shape is None:
        return None
    if len(shape) == 4:
        return tuple(shape)
    if len(shape) != 3:
        raise ShapeError(f"attention operand {format_shape(shape)} must be 3-D or 4-D")
    heads = ctx.attr(attr)
    size = dim_div(shape[2], heads) if heads else None
    if heads and known(shape[2]) and shape[2] % heads:
        raise ShapeError(f"hidden size of {format_shape(shape)} is not divisible by "
                         f"{attr}={heads}")
    return (shape[0], heads, shape[1], size)


@shape_rule("Attention")
def _attention(ctx: InferenceContext):
    qs, ks, vs = ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)
    q, k, v = (_heads(ctx, qs, "q_num_heads"), _heads(ctx, ks, "kv_num_heads"),
               _heads(ctx, vs, "kv_num_heads"))
    pk, pv = ctx.input_shape(4), ctx.input_shape(5)
    batch = q[0] if q else None
    v_head = v[3] if v else None
    if qs is None:
        y = None
    elif len(qs) == 4:
        y = (qs[0], qs[1], qs[2], v_head)
    else:
        y = (qs[0], qs[1], dim_mul(q[1], v_head) if q[1] else None)
    kv_seq = k[2] if k else None
    total = add(pk[2], kv_seq) if pk is not None and len(pk) == 4 else \
        kv_seq if not ctx.has_input(4) else None
    kv_heads = k[1] if k else None
    present_k = (batch, kv_heads, total, k[3] if k else None)
    present_v = (batch, kv_heads, total if pv is not None or not ctx.has_input(5) else None,
                 v_head)
    qk = (batch, q[1] if q else None, q[2] if q else None, total)
    t1, t2 = ctx.input_dtype(0), ctx.input_dtype(2)
    return [tensor(t1, y), tensor(t1, present_k), tensor(t2, present_v), tensor(t1, qk)]


@shape_rule("FlexAttention", domain="ai.onnx.preview")
def _flex_attention(ctx: InferenceContext):
    q, v = ctx.input_shape(0), ctx.input_shape(2)
    if q is None or len(q) != 4:
        return tensor(ctx.input_dtype(0), None if q is None else (None,) * len(q))
    return tensor(ctx.input_dtype(0), q[:3] + (v[3] if v is not None and len(v) == 4 else None,))


@shape_rule("LinearAttention")
def _linear_attention(ctx: InferenceContext):
    q, k, v = ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)
    hq, hkv = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    dk = dim_div(k[2], hkv) if k is not None and len(k) == 3 and hkv else None
    dv = dim_div(v[2], hkv) if v is not None and len(v) == 3 and hkv else None
    y = None
    if q is not None and len(q) == 3:
        y = (q[0], q[1], dim_mul(hq, dv) if hq else None)
    batch = q[0] if q is not None and q else None
    state_dtype = ctx.input_dtype(3) or ctx.input_dtype(0)
    state = merge_shapes((batch, hkv, dk, dv), ctx.input_shape(3), "past_state")
    return [tensor(ctx.input_dtype(0), y), tensor(state_dtype, state)]


@shape_rule("CausalConvWithState")
def _causal_conv_with_state(ctx: InferenceContext):
    x, w = ctx.input_shape(0), ctx.input_shape(1)
    k = w[2] if w is not None and len(w) == 3 else None
    state = None
    if x is not None and len(x) == 3:
        state = (x[0], x[1], k - 1 if known(k) else None)
    state = merge_shapes(state, ctx.input_shape(3), "past_state")
    return [ctx.input_type(0), tensor(ctx.input_dtype(0), state)]


for _op in ("RotaryEmbedding", "SwiGLU", "TensorScatter"):
    shape_rule(_op)(same_as_input)

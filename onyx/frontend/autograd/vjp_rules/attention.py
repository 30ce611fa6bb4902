"""VJP rules of the attention building blocks: Attention and RotaryEmbedding.

Attention follows the kernel: Q and K are each scaled by sqrt(scale) before their product,
query head h reads key/value head h // group (viewed as [batch, kv_heads, group, ...] so K and
V are never repeated), ``softcap`` squashes the scores with tanh, the mask and the causal /
window / padding rules add -inf, and a query whose every key is masked gets all-zero weights.
The rule recomputes that forward and runs its backward by hand.
"""

import math

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    ints,
    is_float,
    rank,
    require_static,
    scalar,
)


def _split_heads(b, x, heads: int):
    """[B, S, heads * d] -> [B, heads, S, d]."""
    return b.Transpose(b.Reshape(x, ints(b, [0, 0, heads, -1])), perm=[0, 2, 1, 3])


def _merge_heads(b, x):
    """[B, heads, S, d] -> [B, S, heads * d]."""
    return b.Reshape(b.Transpose(x, perm=[0, 2, 1, 3]), ints(b, [0, 0, -1]))


def _swap(b, x):
    perm = list(range(rank(b, x)))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return b.Transpose(x, perm=perm)


class _Geometry:
    """Heads, lengths and head size of an Attention node, from its inputs' static dims."""

    def __init__(self, b, node):
        q, k, v = node.inputs[:3]
        self.rank3 = rank(b, q) == 3
        if self.rank3:
            self.hq, self.hkv = node.attr("q_num_heads"), node.attr("kv_num_heads")
            s, hidden = require_static(b, q, "Attention", "Q", only=[1, 2])[1:]
            self.s, self.d = s, hidden // self.hq
            self.t = require_static(b, k, "Attention", "K", only=[1])[1]
        else:
            self.hq, self.s, self.d = require_static(b, q, "Attention", "Q", only=[1, 2, 3])[1:]
            self.hkv, self.t = require_static(b, k, "Attention", "K", only=[1, 2])[1:3]
        past = arg(node, 4)
        self.past = 0 if past is None else require_static(b, past, "Attention", "past_key",
                                                          only=[2])[2]
        self.total, self.group = self.past + self.t, self.hq // self.hkv


def _bias(b, node, geo: _Geometry, like):
    """The additive mask over the scores [B, Hq, S, total] (None when nothing is masked)."""
    mask, nonpad = arg(node, 3), arg(node, 6)
    neg_inf = scalar(b, -np.inf, like)
    bias = None
    if mask is not None:
        bias = b.Where(mask, scalar(b, 0.0, like), neg_inf) if b.dtype(mask) == np.bool_ \
            else mask
        short = geo.total - b.shape(mask)[-1]
        if short:
            pads = [0] * (2 * rank(b, mask))
            pads[-1] = short
            bias = b.Pad(bias, ints(b, pads), neg_inf)
    causal, left = node.attr("is_causal", 0), node.attr("left_window_size", -1)
    right = node.attr("right_window_size", -1)
    if not causal and left < 0 and right < 0 and nonpad is None:
        return bias
    # pos: absolute position of each query; j: of each key
    pos = b.const(np.arange(geo.s).reshape(1, 1, -1, 1), dtype=np.int64)
    if nonpad is not None:   # an external cache: the queries end where the padding starts
        limit = b.Reshape(b.Cast(nonpad, to=7), ints(b, [-1, 1, 1, 1]))
        pos = b.Add(pos, b.Sub(limit, b.const(geo.s, dtype=np.int64)))
    else:
        pos = b.Add(pos, b.const(geo.past, dtype=np.int64))
    j = b.const(np.arange(geo.total).reshape(1, 1, 1, -1), dtype=np.int64)
    rules = []
    if causal:
        rules.append(b.LessOrEqual(j, pos))
    if left >= 0:
        rules.append(b.LessOrEqual(b.Sub(pos, j), b.const(left, dtype=np.int64)))
    if right >= 0:
        rules.append(b.LessOrEqual(b.Sub(j, pos), b.const(right, dtype=np.int64)))
    if nonpad is not None:
        rules.append(b.Less(j, limit))
    allowed = rules[0]
    for r in rules[1:]:
        allowed = b.And(allowed, r)
    rule = b.Where(allowed, scalar(b, 0.0, like), neg_inf)
    return rule if bias is None else b.Add(bias, rule)


class _Forward:
    """The recomputed forward of an Attention node, in the [B, Hkv, group, ...] view."""

    def __init__(self, b, node, geo: _Geometry):
        q, k, v = node.inputs[:3]
        past_k, past_v = arg(node, 4), arg(node, 5)
        if geo.rank3:
            q, k, v = _split_heads(b, q, geo.hq), _split_heads(b, k, geo.hkv), \
                _split_heads(b, v, geo.hkv)
        if past_k is not None:
            k, v = b.Concat(past_k, k, axis=2), b.Concat(past_v, v, axis=2)
        scale = node.attr("scale")
        self.root = scalar(b, math.sqrt(scale if scale else 1 / math.sqrt(geo.d)), q)
        self.view = [0, geo.hkv, geo.group, geo.s, geo.total]
        self.flat = [0, geo.hq, geo.s, geo.total]
        self.qs = b.Mul(b.Reshape(q, ints(b, [0, geo.hkv, geo.group, geo.s, geo.d])), self.root)
        self.ks = b.Unsqueeze(b.Mul(k, self.root), ints(b, [2]))     # [B, Hkv, 1, total, d]
        self.v5 = b.Unsqueeze(v, ints(b, [2]))
        scores = b.Reshape(b.MatMul(self.qs, _swap(b, self.ks)), ints(b, self.flat))
        softcap = node.attr("softcap", 0.0)
        self.squash = None
        if softcap > 0:
            self.squash = b.Tanh(b.Div(scores, scalar(b, softcap, scores)))
            scores = b.Mul(self.squash, scalar(b, softcap, scores))
        bias = _bias(b, node, geo, q)
        if bias is None:
            self.probs = b.Softmax(scores, axis=-1)
        else:   # rows with every key masked come out zero, not NaN
            dead = b.Equal(b.ReduceMax(bias, ints(b, [-1]), keepdims=1), scalar(b, -np.inf, q))
            zero = scalar(b, 0.0, q)
            self.probs = b.Where(dead, zero,
                                 b.Softmax(b.Where(dead, zero, b.Add(scores, bias)), axis=-1))
        self.probs5 = b.Reshape(self.probs, ints(b, self.view))


@vjp("Attention", uses_inputs=(0, 1, 2, 3, 4, 5, 6))
def _(b, node, g_y, g_present_k=None, g_present_v=None, g_qk=None):
    geo = _Geometry(b, node)
    f = _Forward(b, node, geo)
    mode = node.attr("qk_matmul_output_mode", 0)

    def plus_qk(grad, stage):   # qk_matmul_output is the scores after stage `mode`
        return grad if g_qk is None or mode != stage else b.Add(grad, g_qk)

    gy = _split_heads(b, g_y, geo.hq) if geo.rank3 else g_y
    gy5 = b.Reshape(gy, ints(b, [0, geo.hkv, geo.group, geo.s, -1]))
    g_probs = plus_qk(b.Reshape(b.MatMul(gy5, _swap(b, f.v5)), ints(b, f.flat)), 3)
    g_v = b.ReduceSum(b.MatMul(_swap(b, f.probs5), gy5), ints(b, [2]), keepdims=0)
    inner = b.ReduceSum(b.Mul(g_probs, f.probs), ints(b, [-1]), keepdims=1)
    g_biased = plus_qk(b.Mul(f.probs, b.Sub(g_probs, inner)), 2)
    g_scores = plus_qk(g_biased, 1)
    if f.squash is not None:
        g_scores = b.Mul(g_scores, b.Sub(scalar(b, 1.0, f.squash), b.Mul(f.squash, f.squash)))
    g_scores = b.Reshape(plus_qk(g_scores, 0), ints(b, f.view))
    g_q = b.Mul(b.MatMul(g_scores, f.ks), f.root)
    g_q = b.Reshape(g_q, ints(b, [0, geo.hq, geo.s, geo.d]))
    g_k = b.ReduceSum(b.MatMul(_swap(b, g_scores), f.qs), ints(b, [2]), keepdims=0)
    g_k = b.Mul(g_k, f.root)
    if g_present_k is not None:
        g_k = b.Add(g_k, g_present_k)
    if g_present_v is not None:
        g_v = b.Add(g_v, g_present_v)
    return [*_unstack(b, geo, g_q, g_k, g_v), _mask_grad(b, node, g_biased),
            *_past_grads(b, geo, g_k, g_v), None]


def _mask_grad(b, node, g_biased):
    mask = arg(node, 3)
    if mask is None or not is_float(b, mask):
        return None
    keys = b.shape(mask)[-1]
    g = b.Slice(g_biased, ints(b, [0]), ints(b, [keys]), ints(b, [-1]))
    return b.unbroadcast(g, mask)


def _unstack(b, geo: _Geometry, g_q, g_k, g_v):
    """Cotangents of Q, K, V in their own layout (the current keys follow the past ones)."""
    if geo.past:
        end = ints(b, [geo.total])
        g_k = b.Slice(g_k, ints(b, [geo.past]), end, ints(b, [2]))
        g_v = b.Slice(g_v, ints(b, [geo.past]), end, ints(b, [2]))
    if geo.rank3:
        return _merge_heads(b, g_q), _merge_heads(b, g_k), _merge_heads(b, g_v)
    return g_q, g_k, g_v


def _past_grads(b, geo: _Geometry, g_k, g_v):
    if not geo.past:
        return None, None
    start, end, axis = ints(b, [0]), ints(b, [geo.past]), ints(b, [2])
    return b.Slice(g_k, start, end, axis), b.Slice(g_v, start, end, axis)


@vjp("RotaryEmbedding", uses_inputs=(1, 2, 3))
def _(b, node, g):
    # A rotation per position pair: its adjoint is the rotation by the opposite angle, the
    # same op with the sine negated. The caches are treated as constants (no cotangent).
    attrs = {k: node.attr(k) for k in ("interleaved", "num_heads", "rotary_embedding_dim")
             if node.attr(k) is not None}
    rest = [node.inputs[1], b.Neg(node.inputs[2])]
    if arg(node, 3) is not None:
        rest.append(node.inputs[3])
    return [b.RotaryEmbedding(g, *rest, **attrs), None, None, None]



"""Attention-family kernels: Attention (opset 23+), ai.onnx.preview::FlexAttention,
RotaryEmbedding and SwiGLU.

Grouped-query attention never copies K/V per query head: Q is viewed as
[batch, kv_heads, group, q_len, d] so each KV head broadcasts over its group of query heads
(query head ``h`` reads KV head ``h // group``).
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.backends.numpy.values import describe_value
from onyx.ir import limits
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

_SOFTMAX_TYPES = (DType.FLOAT, DType.FLOAT16, DType.DOUBLE, DType.BFLOAT16)


def _softmax_dtype(code: int | None, default: np.dtype, op: str) -> np.dtype:
    if code is None:
        return default
    if code not in [int(t) for t in _SOFTMAX_TYPES]:
        raise ShapeError(f"{op} softmax_precision {code} is not float, float16, double or "
                         f"bfloat16")
    return DType(code).numpy


def _check_scores_size(q: np.ndarray, k: np.ndarray, op: str) -> None:
    """Scores grow as q_len * kv_len: small inputs can ask for a huge matrix."""
    limits.check_elements((q.shape[0], q.shape[1], q.shape[2], k.shape[2]), 64,
                          f"{op} scores for Q {describe_value(q)}, K {describe_value(k)}")


def _grouped_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` [B, Hq, M, K] @ ``b`` [B, Hkv, K, N] with Hq a multiple of Hkv."""
    bsz, hq, m, _ = a.shape
    hkv = b.shape[1]
    out = a.reshape(bsz, hkv, hq // hkv, m, a.shape[-1]) @ b[:, :, None]
    return out.reshape(bsz, hq, m, b.shape[-1])


def _check_heads(q: np.ndarray, k: np.ndarray, v: np.ndarray, op: str) -> None:
    shapes = f"Q {describe_value(q)}, K {describe_value(k)}, V {describe_value(v)}"
    if q.shape[0] != k.shape[0] or k.shape[0] != v.shape[0]:
        raise ShapeError(f"{op}: batch sizes differ in {shapes}")
    if k.shape[1] != v.shape[1] or k.shape[2] != v.shape[2]:
        raise ShapeError(f"{op}: K and V disagree on heads or sequence length in {shapes}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: Q and K head sizes differ in {shapes}")
    if k.shape[1] == 0 or q.shape[1] % k.shape[1]:
        raise ShapeError(f"{op}: query heads {q.shape[1]} are not a multiple of key/value "
                         f"heads {k.shape[1]} in {shapes}")


def _masked_softmax(scores: np.ndarray, bias_dead: np.ndarray | None) -> np.ndarray:
    """Softmax over the last axis; rows whose every key is masked come out all zero."""
    peak = np.max(scores, axis=-1, keepdims=True)
    peak = np.where(np.isneginf(peak), 0, peak)  # all--inf row: avoid -inf - -inf = NaN
    e = np.exp(scores - peak)
    total = np.sum(e, axis=-1, keepdims=True)
    probs = e / np.where(total == 0, 1, total)
    if bias_dead is not None:
        probs = np.where(bias_dead, 0, probs)
    return probs


# ------------------------------------------------------------------------ Attention
def _to_heads(x: np.ndarray, heads: int | None, name: str) -> np.ndarray:
    """A 3-D [B, S, heads * d] input as 4-D [B, heads, S, d]."""
    if not heads or x.shape[-1] % heads:
        raise ShapeError(f"Attention with 3-D inputs needs q_num_heads/kv_num_heads dividing "
                         f"the hidden size; {name} is {describe_value(x)}, heads={heads}")
    b, s, hidden = x.shape
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


def _key_mask(attn_mask, total: int, dtype: np.dtype) -> np.ndarray | None:
    """attn_mask as an additive bias, its key axis padded to ``total`` with -inf."""
    if attn_mask is None:
        return None
    if attn_mask.ndim == 0 or attn_mask.ndim > 4 or attn_mask.shape[-1] > total:
        raise ShapeError(f"Attention attn_mask {describe_value(attn_mask)} does not fit "
                         f"{total} keys")
    if attn_mask.dtype == np.bool_:
        bias = np.where(attn_mask, 0, -np.inf).astype(dtype)
    else:
        bias = attn_mask.astype(dtype)
    pad = total - bias.shape[-1]
    if pad:
        bias = np.pad(bias, [(0, 0)] * (bias.ndim - 1) + [(0, pad)], constant_values=-np.inf)
    return bias


def _allowed_keys(q_len: int, total: int, offset, *, is_causal: int, left: int, right: int,
                  nonpad) -> np.ndarray | None:
    """Boolean [B or 1, 1, q_len, total]: keys the causal/window/padding rules let through.

    ``offset`` (scalar or per batch) is the absolute position of the first query.
    """
    if not is_causal and left < 0 and right < 0 and nonpad is None:
        return None
    pos = np.arange(q_len)[:, None] + np.reshape(offset, (-1, 1, 1, 1))  # [B|1, 1, q, 1]
    j = np.arange(total)
    allowed = np.ones(pos.shape[:-1] + (total,), bool)
    if is_causal:
        allowed &= j <= pos
    if left >= 0:
        allowed &= pos - j <= left
    if right >= 0:
        allowed &= j - pos <= right
    if nonpad is not None:
        allowed &= j < np.reshape(nonpad, (-1, 1, 1, 1))
    return allowed


def _attention_bias(attn_mask, q_len: int, total: int, past_len: int, nonpad, dtype, *,
                    is_causal: int, left: int, right: int) -> np.ndarray | None:
    if nonpad is not None:
        nonpad = np.asarray(nonpad).astype(np.int64).reshape(-1)
        offset = nonpad - q_len  # external cache: queries are the last ones before nonpad
    else:
        offset = past_len
    bias = _key_mask(attn_mask, total, dtype)
    allowed = _allowed_keys(q_len, total, offset, is_causal=is_causal, left=left,
                            right=right, nonpad=nonpad)
    if allowed is not None:
        rule = np.where(allowed, 0, -np.inf).astype(dtype)
        bias = rule if bias is None else bias + rule
    return bias


def _check_cache(past_key, past_value, nonpad, k: np.ndarray, v: np.ndarray) -> None:
    if (past_key is None) != (past_value is None):
        raise ShapeError("Attention needs past_key and past_value together")
    if past_key is not None:
        if nonpad is not None:
            raise ShapeError("Attention nonpad_kv_seqlen cannot be combined with past_key")
        if (past_key.ndim != 4 or past_key.shape[:2] != k.shape[:2]
                or past_key.shape[3] != k.shape[3] or past_value.shape[:2] != v.shape[:2]
                or past_value.shape[3] != v.shape[3] or past_value.ndim != 4
                or past_value.shape[2] != past_key.shape[2]):
            raise ShapeError(f"Attention past_key {describe_value(past_key)} / past_value "
                             f"{describe_value(past_value)} do not match K "
                             f"{describe_value(k)} / V {describe_value(v)}")
    if nonpad is not None and np.asarray(nonpad).shape != (k.shape[0],):
        raise ShapeError(f"Attention nonpad_kv_seqlen must be [{k.shape[0]}], got "
                         f"{describe_value(nonpad)}")


@kernel("Attention", since=23)
def attention(Q, K, V, attn_mask=None, past_key=None, past_value=None,
              nonpad_kv_seqlen=None, *, is_causal: int = 0, kv_num_heads: int | None = None,
              q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
              scale: float | None = None, softcap: float = 0.0,
              softmax_precision: int | None = None, left_window_size: int = -1,
              right_window_size: int = -1) -> tuple:
    if not Q.ndim == K.ndim == V.ndim or Q.ndim not in (3, 4):
        raise ShapeError(f"Attention needs Q, K, V all 3-D or all 4-D, got "
                         f"{describe_value(Q)}, {describe_value(K)}, {describe_value(V)}")
    if qk_matmul_output_mode not in (0, 1, 2, 3):
        raise ShapeError(f"Attention qk_matmul_output_mode {qk_matmul_output_mode} is not "
                         f"0, 1, 2 or 3")
    rank3 = Q.ndim == 3
    if rank3:
        Q, K, V = (_to_heads(Q, q_num_heads, "Q"), _to_heads(K, kv_num_heads, "K"),
                   _to_heads(V, kv_num_heads, "V"))
    _check_heads(Q, K, V, "Attention")
    _check_cache(past_key, past_value, nonpad_kv_seqlen, K, V)
    if past_key is not None:
        K, V = np.concatenate([past_key, K], axis=2), np.concatenate([past_value, V], axis=2)
    _check_scores_size(Q, K, "Attention")
    bias = _attention_bias(attn_mask, Q.shape[2], K.shape[2],
                           0 if past_key is None else past_key.shape[2], nonpad_kv_seqlen,
                           Q.dtype, is_causal=is_causal, left=left_window_size,
                           right=right_window_size)
    Y, qk_out = _scaled_dot_product(Q, K, V, bias, scale=scale, softcap=softcap,
                                    softmax_precision=softmax_precision,
                                    mode=qk_matmul_output_mode)
    if rank3:
        b, h, s, d = Y.shape
        Y = Y.transpose(0, 2, 1, 3).reshape(b, s, h * d)
    return Y, K, V, qk_out


def _scaled_dot_product(Q, K, V, bias, *, scale, softcap: float, softmax_precision,
                        mode: int) -> tuple[np.ndarray, np.ndarray]:
    """Y and the requested qk_matmul_output for 4-D Q, K, V and an additive ``bias``."""
    dt = Q.dtype
    # Q and K are each scaled by sqrt(scale), rounded to the input type, before the matmul,
    # as the spec draws it: scaling the product instead differs in the last bits.
    root = dt.type(np.sqrt(1 / np.sqrt(Q.shape[-1]) if scale is None else scale))
    scores = _grouped_matmul(Q * root, np.swapaxes(K * root, -1, -2))
    raw = scores
    if softcap > 0:
        scores = (softcap * np.tanh(scores / dt.type(softcap))).astype(dt)
    capped = scores
    dead = None
    if bias is not None:
        try:
            fits = np.broadcast_shapes(bias.shape, scores.shape) == scores.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"Attention mask/bias {list(bias.shape)} does not broadcast to "
                             f"the scores {list(scores.shape)}")
        scores = scores + bias
        dead = np.isneginf(np.max(bias, axis=-1, keepdims=True))
    probs = _masked_softmax(scores.astype(_softmax_dtype(softmax_precision, dt, "Attention")),
                            dead).astype(dt)
    Y = _grouped_matmul(probs, V).astype(dt)
    return Y, (raw, capped, scores, probs)[mode].astype(dt)


# -------------------------------------------------------------------- FlexAttention
def _apply_mod(mod, x: np.ndarray, name: str) -> np.ndarray:
    if mod is None:
        return x
    if mod.num_inputs != 1 or mod.num_outputs != 1:
        raise ShapeError(f"FlexAttention {name} must take and return one tensor, it takes "
                         f"{mod.num_inputs} and returns {mod.num_outputs}")
    out = np.asarray(mod(x)[0])
    if out.shape != x.shape:
        raise ShapeError(f"FlexAttention {name} changed the shape {list(x.shape)} to "
                         f"{list(out.shape)}")
    return out.astype(x.dtype, copy=False)


@kernel("FlexAttention", domain="ai.onnx.preview", since=1)
def flex_attention(Q, K, V, *, scale: float | None = None, score_mod=None, prob_mod=None,
                   softmax_precision: int | None = None) -> np.ndarray:
    if not Q.ndim == K.ndim == V.ndim == 4:
        raise ShapeError(f"FlexAttention needs 4-D Q, K, V, got {describe_value(Q)}, "
                         f"{describe_value(K)}, {describe_value(V)}")
    _check_heads(Q, K, V, "FlexAttention")
    _check_scores_size(Q, K, "FlexAttention")
    dt = Q.dtype
    wide = np.dtype(np.float64) if dt == np.float64 else np.dtype(np.float32)
    cdt = _softmax_dtype(softmax_precision, wide, "FlexAttention")
    root = dt.type(np.sqrt(np.float32(1 / np.sqrt(Q.shape[-1]) if scale is None else scale)))
    scores = _grouped_matmul(Q * root, np.swapaxes(K * root, -1, -2)).astype(cdt)
    scores = _apply_mod(score_mod, scores, "score_mod")
    probs = _apply_mod(prob_mod, _masked_softmax(scores, None), "prob_mod")
    return _grouped_matmul(probs, V.astype(cdt)).astype(V.dtype)


# ------------------------------------------------------------------ RotaryEmbedding
def _rotary_tables(cos_cache, sin_cache, position_ids, b: int, s: int, half: int):
    """cos/sin as [B, S, 1, half] float32, gathered by position when ids are given."""
    if position_ids is not None:
        ids = np.asarray(position_ids).astype(np.int64)
        if ids.shape != (b, s) or cos_cache.ndim != 2 or sin_cache.shape != cos_cache.shape:
            raise ShapeError(f"RotaryEmbedding position_ids must be [{b}, {s}] with 2-D "
                             f"caches, got {describe_value(position_ids)}, cos "
                             f"{describe_value(cos_cache)}, sin {describe_value(sin_cache)}")
        if ids.size and (ids.min() < 0 or ids.max() >= cos_cache.shape[0]):
            raise ShapeError(f"RotaryEmbedding position ids must lie in [0, "
                             f"{cos_cache.shape[0]}), got [{ids.min()}, {ids.max()}]")
        cos, sin = cos_cache[ids], sin_cache[ids]
    else:
        cos, sin = cos_cache, sin_cache
    if cos.shape != (b, s, half) or sin.shape != (b, s, half):
        raise ShapeError(f"RotaryEmbedding cos/sin caches {describe_value(cos_cache)}, "
                         f"{describe_value(sin_cache)} do not give [{b}, {s}, {half}]")
    return cos[:, :, None].astype(np.float32), sin[:, :, None].astype(np.float32)


@kernel("RotaryEmbedding", since=23)
def rotary_embedding(X, cos_cache, sin_cache, position_ids=None, *, interleaved: int = 0,
                     num_heads: int = 0, rotary_embedding_dim: int = 0) -> np.ndarray:
    if X.ndim == 4:
        x = X.transpose(0, 2, 1, 3)  # [B, S, H, D]
    elif X.ndim == 3 and num_heads > 0 and X.shape[-1] % num_heads == 0:
        x = X.reshape(X.shape[0], X.shape[1], num_heads, X.shape[-1] // num_heads)
    else:
        raise ShapeError(f"RotaryEmbedding needs a 4-D input or a 3-D input with num_heads "
                         f"dividing its last axis, got {describe_value(X)} with "
                         f"num_heads={num_heads}")
    b, s, _, head = x.shape
    dim = rotary_embedding_dim or head
    if dim % 2 or dim > head:
        raise ShapeError(f"RotaryEmbedding rotary dimension {dim} must be even and at most "
                         f"the head size {head}")
    cos, sin = _rotary_tables(cos_cache, sin_cache, position_ids, b, s, dim // 2)
    rot = x[..., :dim].astype(np.float32)
    x1, x2 = (rot[..., 0::2], rot[..., 1::2]) if interleaved else np.split(rot, 2, axis=-1)
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if interleaved:
        rotated = np.stack([real, imag], axis=-1).reshape(rot.shape)
    else:
        rotated = np.concatenate([real, imag], axis=-1)
    out = np.concatenate([rotated.astype(X.dtype), x[..., dim:]], axis=-1)
    return out.transpose(0, 2, 1, 3) if X.ndim == 4 else out.reshape(X.shape)


# --------------------------------------------------------------------------- SwiGLU
@kernel("SwiGLU", since=28)
def swiglu(A, B, *, alpha: float = 1.0) -> np.ndarray:
    if A.shape != B.shape:
        raise ShapeError(f"SwiGLU needs A and B of one shape (no broadcasting), got "
                         f"{describe_value(A)} and {describe_value(B)}")
    cdt = np.float64 if A.dtype == np.float64 else np.float32
    a = A.astype(cdt)
    return (a / (1 + np.exp(-alpha * a)) * B.astype(cdt)).astype(A.dtype)

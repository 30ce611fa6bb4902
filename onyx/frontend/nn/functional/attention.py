"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, written
with MatMul, Softmax and masks applied as ONNX Where/Add, so gradients and traced graphs see
every step.

Mask conventions follow torch: for ``scaled_dot_product_attention`` a boolean mask is True
where attention is *allowed*; for multi-head attention (``attn_mask``, ``key_padding_mask``)
True marks positions that are *not* allowed. Float masks are added to the scores.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import scalar
from onyx.frontend.nn.functional.dropout import dropout
from onyx.frontend.nn.functional.linear import linear
from onyx.frontend.nn.functional.vision import pad
from onyx.frontend.ops.join import cat
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _swap_last(t: Tensor) -> Tensor:
    return t.transpose(-2, -1)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(q @ k^T * scale + mask) @ v`` over the last two dims."""
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(groups, -3)
        value = value.repeat_interleave(groups, -3)
    scores = apply("MatMul", query, _swap_last(key)) * scalar(scale, query)
    if is_causal:
        if attn_mask is not None:
            raise OnyxError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                            "set when is_causal=True")
        allowed = Tensor._wrap(np.tril(np.ones((L, S), dtype=bool)))
        scores = apply("Where", allowed, scores, scalar(-np.inf, scores))
    if attn_mask is not None:
        if attn_mask.dtype.name == "bool":
            scores = apply("Where", attn_mask, scores, scalar(-np.inf, scores))
        else:
            scores = scores + attn_mask
    weights = apply("Softmax", scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return apply("MatMul", weights, value)


def _additive_mask(mask: Tensor | None, name: str, like: Tensor) -> Tensor | None:
    """torch's ``_canonical_mask``: a bool mask (True = masked) becomes 0 / -inf scores."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":
        return apply("Where", mask, scalar(-np.inf, like), scalar(0.0, like))
    if not mask.dtype.is_floating_point:
        raise OnyxError(f"only bool and floating types of {name} are supported")
    return mask


def _projections(query, key, value, in_proj_weight, in_proj_bias, separate, q_w, k_w, v_w):
    if not separate:
        if in_proj_weight is None:
            raise OnyxError("use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        if q_w is None or k_w is None or v_w is None:
            raise OnyxError("use_separate_proj_weight is True but q_proj_weight, "
                            "k_proj_weight or v_proj_weight is None")
        w_q, w_k, w_v = q_w, k_w, v_w
    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None,) * 3
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def _heads(t: Tensor, batch_heads: int, head_dim: int) -> Tensor:
    """(len, N, E) -> (N * H, len, head_dim)."""
    return t.reshape(t.shape[0], batch_heads, head_dim).transpose(0, 1)


def _prepare_masks(attn_mask, key_padding_mask, q, tgt_len, src_len, bsz, num_heads):
    attn_mask = _additive_mask(attn_mask, "attn_mask", q)
    key_padding_mask = _additive_mask(key_padding_mask, "key_padding_mask", q)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise OnyxError(f"The shape of the 2D attn_mask is {list(attn_mask.shape)}, "
                                f"but should be {[tgt_len, src_len]}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise OnyxError(f"The shape of the 3D attn_mask is {list(attn_mask.shape)}, but "
                            f"should be {[bsz * num_heads, tgt_len, src_len]}.")
    return attn_mask, key_padding_mask


def _extra_keys(k: Tensor, v: Tensor, masks: list, bias_k, bias_v, add_zero_attn: bool,
                bsz: int, num_heads: int, head_dim: int):
    """Append ``bias_k``/``bias_v`` (before the head split) or a zero key/value (after)."""
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        masks = [None if m is None else pad(m, (0, 1)) for m in masks]
    k, v = (_heads(t, bsz * num_heads, head_dim) for t in (k, v))
    if add_zero_attn:
        zeros = Tensor._wrap(np.zeros((bsz * num_heads, 1, head_dim), k._data.dtype))
        k, v = cat([k, zeros], dim=1), cat([v, zeros], dim=1)
        masks = [None if m is None else pad(m, (0, 1)) for m in masks]
    return k, v, masks


def _merge_padding(attn_mask, key_padding_mask, bsz: int, num_heads: int, src_len: int):
    """One additive (N * H, L or 1, S) mask from the attention and key-padding masks."""
    if key_padding_mask is None:
        return attn_mask
    if tuple(key_padding_mask.shape) != (bsz, src_len):
        raise OnyxError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                        f"{tuple(key_padding_mask.shape)}")
    per_head = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(
        bsz, num_heads, 1, src_len).reshape(bsz * num_heads, 1, src_len)
    return per_head if attn_mask is None else attn_mask + per_head


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float):
    """Per-head attention on (N * H, len, head_dim): outputs and the softmax weights."""
    scores = apply("MatMul", q * scalar(1.0 / math.sqrt(q.shape[-1]), q), _swap_last(k))
    if mask is not None:
        scores = scores + mask
    weights = apply("Softmax", scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return apply("MatMul", weights, v), weights


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
        out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False):
    """torch's multi-head attention on sequence-first (L, N, E) inputs (or unbatched (L, E)).

    Returns ``(output, weights)``; ``weights`` is None unless ``need_weights``. ``is_causal``
    is a hint only: as in torch, the causal mask itself must come in ``attn_mask``.
    """
    if static_k is not None or static_v is not None:
        raise OnyxError("multi_head_attention_forward: static_k / static_v are not supported")
    if is_causal and attn_mask is None:
        raise OnyxError("Need attn_mask if specifying the is_causal hint. You may use the "
                        "Transformer module method `generate_square_subsequent_mask` to "
                        "create this mask.")
    is_batched = query.ndim == 3
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check or embed_dim % num_heads:
        raise OnyxError(f"was expecting embedding dimension of {embed_dim_to_check} divisible "
                        f"by num_heads {num_heads}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    q, k, v = _projections(query, key, value, in_proj_weight, in_proj_bias,
                           use_separate_proj_weight, q_proj_weight, k_proj_weight,
                           v_proj_weight)
    masks = list(_prepare_masks(attn_mask, key_padding_mask, q, tgt_len, key.shape[0], bsz,
                                num_heads))
    k, v, (attn_mask, key_padding_mask) = _extra_keys(k, v, masks, bias_k, bias_v,
                                                      add_zero_attn, bsz, num_heads, head_dim)
    q = _heads(q, bsz * num_heads, head_dim)
    src_len = k.shape[1]
    attn_mask = _merge_padding(attn_mask, key_padding_mask, bsz, num_heads, src_len)
    out, weights = _attend(q, k, v, attn_mask, dropout_p if training else 0.0)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if need_weights:
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        weights = weights.mean(1) if average_attn_weights else weights
    else:
        weights = None
    if not is_batched:
        return out.squeeze(1), (None if weights is None else weights.squeeze(0))
    return out, weights

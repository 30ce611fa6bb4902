"""Recurrent kernels: RNN, GRU and LSTM (every opset), LinearAttention, CausalConvWithState.

RNN/GRU/LSTM share one driver: the input projection ``X @ W^T + Wb`` is computed for all
time steps at once, then a per-step cell (inherently sequential) updates the state, one
direction at a time. ``sequence_lens`` freezes a batch entry's state past its length and
zeroes its ``Y`` rows there; the reverse direction starts at each entry's own last step.
Half-precision inputs are computed in float32 and cast back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.backends.numpy.values import describe_value
from onyx.ir import limits
from onyx.ir.errors import ModelError, ShapeError

# name -> (function(x, alpha, beta), default alpha, default beta); None = takes no such value.
_ACTIVATIONS: dict[str, tuple[Callable, float | None, float | None]] = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: 1 / (1 + np.exp(-x)), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x > a, x, 0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(0, x), None, None),
}


def _activations(names, alphas, betas, defaults: list[str], num_dirs: int, op: str,
                 clip: float | None, unclipped: int | None = None) -> list[list[Callable]]:
    """Per direction, the cell's activation functions with alpha/beta and clip bound in.

    ``activation_alpha``/``activation_beta`` are consumed in order, one value per activation
    that takes one; an activation with no value left keeps its operator's default. The
    activation at position ``unclipped`` of each direction ignores ``clip``.
    """
    names = list(names) if names else defaults * num_dirs
    if len(names) != len(defaults) * num_dirs:
        raise ShapeError(f"{op} needs {len(defaults)} activations per direction "
                         f"({len(defaults) * num_dirs} in all), got {names}")
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for n, name in enumerate(names):
        entry = _ACTIVATIONS.get(str(name).lower())
        if entry is None:
            raise ModelError(f"{op}: unknown activation {name!r}; expected one of "
                             f"{sorted(_ACTIVATIONS)}")
        fn, alpha, beta = entry
        if alpha is not None and alphas:
            alpha = alphas.pop(0)
        if beta is not None and betas:
            beta = betas.pop(0)
        fns.append(_bind(fn, alpha, beta, None if n % len(defaults) == unclipped else clip))
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(num_dirs)]


def _bind(fn: Callable, alpha, beta, clip: float | None) -> Callable:
    if clip is None:
        return lambda x: fn(x, alpha, beta)
    # clip bounds the input of every activation, per the spec.
    return lambda x: fn(np.clip(x, -clip, clip), alpha, beta)


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


class _Recurrence:
    """The shape checks and time ordering shared by RNN, GRU and LSTM."""

    def __init__(self, op: str, X, W, R, B, sequence_lens, gates: int, hidden_size,
                 direction: str, layout: int):
        if X.ndim != 3 or W.ndim != 3 or R.ndim != 3:
            raise ShapeError(f"{op} needs 3-D X, W, R, got {describe_value(X)}, "
                             f"{describe_value(W)}, {describe_value(R)}")
        dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}
        if direction not in dirs:
            raise ModelError(f"{op}: direction {direction!r} is not forward, reverse or "
                             f"bidirectional")
        self.op, self.reverse, self.dtype = op, dirs[direction], X.dtype
        self.cdt = _compute_dtype(X.dtype)
        x = X.astype(self.cdt)
        self.x = np.swapaxes(x, 0, 1) if layout else x
        self.layout = layout
        self.T, self.B, n_in = self.x.shape
        self.D, self.H = len(self.reverse), R.shape[-1]
        H, D, G = self.H, self.D, gates
        if hidden_size is not None and hidden_size != H:
            raise ShapeError(f"{op} hidden_size={hidden_size} but R is {describe_value(R)}")
        if W.shape != (D, G * H, n_in) or R.shape != (D, G * H, H):
            raise ShapeError(f"{op} with {D} direction(s), hidden {H}, input {n_in} needs W "
                             f"[{D},{G * H},{n_in}] and R [{D},{G * H},{H}], got "
                             f"{describe_value(W)} and {describe_value(R)}")
        self.W, self.R = W.astype(self.cdt), R.astype(self.cdt)
        bias = np.zeros((D, 2 * G * H), self.cdt) if B is None else B.astype(self.cdt)
        if bias.shape != (D, 2 * G * H):
            raise ShapeError(f"{op} B must be [{D},{2 * G * H}], got {describe_value(B)}")
        self.Wb, self.Rb = bias[:, :G * H], bias[:, G * H:]
        self.lens = self._lengths(sequence_lens)

    def _lengths(self, sequence_lens) -> np.ndarray | None:
        if sequence_lens is None:
            return None
        lens = np.asarray(sequence_lens).astype(np.int64).reshape(-1)
        if lens.shape != (self.B,) or np.any(lens < 0) or np.any(lens > self.T):
            raise ShapeError(f"{self.op} sequence_lens {lens.tolist()} must hold {self.B} "
                             f"lengths in [0, {self.T}]")
        return None if np.all(lens == self.T) else lens

    def state(self, value, name: str) -> np.ndarray:
        """An initial state as [directions, batch, hidden] (zeros when absent)."""
        shape = (self.D, self.B, self.H)
        if value is None:
            return np.zeros(shape, self.cdt)
        v = np.swapaxes(value, 0, 1) if self.layout else value
        if v.shape != shape:
            raise ShapeError(f"{self.op} {name} must be {list(shape)} (layout {self.layout}),"
                             f" got {describe_value(value)}")
        return v.astype(self.cdt)

    def run(self, d: int, step: Callable, states: tuple) -> tuple[np.ndarray, tuple]:
        """Run direction ``d``: Y rows [T, batch, hidden] and the final states."""
        xw = self.x @ self.W[d].T + self.Wb[d]
        ys = np.zeros((self.T, self.B, self.H), self.cdt)
        rows = np.arange(self.T)
        if self.lens is None:
            order = rows[::-1] if self.reverse[d] else rows
            for t in order:
                states = step(xw[t], *states)
                ys[t] = states[0]
            return ys, states
        cols = np.arange(self.B)
        for s in rows:
            valid = s < self.lens
            t = np.where(valid, self.lens - 1 - s, 0) if self.reverse[d] else np.full(
                self.B, s)
            new = step(xw[t, cols], *states)
            states = tuple(np.where(valid[:, None], n, o) for n, o in zip(new, states))
            ys[t[valid], cols[valid]] = new[0][valid]
        return ys, states

    def outputs(self, ys: list, finals: list[list]) -> tuple:
        y = np.stack(ys, axis=1)  # [T, D, B, H]
        if self.layout:
            y = y.transpose(2, 0, 1, 3)
        outs = [y]
        for per_dir in finals:
            s = np.stack(per_dir)  # [D, B, H]
            if self.lens is not None:
                # An empty sequence has no last state: zeros, as onnxruntime gives.
                s = np.where((self.lens == 0)[:, None], 0, s)
            outs.append(np.swapaxes(s, 0, 1) if self.layout else s)
        return tuple(o.astype(self.dtype) for o in outs)


@kernel("RNN")
def rnn(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
        activation_beta=None, activations=None, clip=None, direction="forward",
        hidden_size=None, layout=0, output_sequence=0) -> tuple:
    rec = _Recurrence("RNN", X, W, R, B, sequence_lens, 1, hidden_size, direction, layout)
    acts = _activations(activations, activation_alpha, activation_beta, ["Tanh"], rec.D,
                        "RNN", clip)
    h0 = rec.state(initial_h, "initial_h")
    ys, hs = [], []
    for d in range(rec.D):
        f, = acts[d]
        Rt, Rb = rec.R[d].T, rec.Rb[d]

        def step(xw, h, f=f, Rt=Rt, Rb=Rb):
            return (f(xw + h @ Rt + Rb),)
        y, (h,) = rec.run(d, step, (h0[d],))
        ys.append(y)
        hs.append(h)
    return rec.outputs(ys, [hs])


@kernel("GRU")
def gru(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
        activation_beta=None, activations=None, clip=None, direction="forward",
        hidden_size=None, layout=0, linear_before_reset=0, output_sequence=0) -> tuple:
    rec = _Recurrence("GRU", X, W, R, B, sequence_lens, 3, hidden_size, direction, layout)
    acts = _activations(activations, activation_alpha, activation_beta, ["Sigmoid", "Tanh"],
                        rec.D, "GRU", clip)
    h0 = rec.state(initial_h, "initial_h")
    H = rec.H
    ys, hs = [], []
    for d in range(rec.D):
        f, g = acts[d]
        # Gate order in W, R and B is z, r, h.
        Rzr, Rh = rec.R[d][:2 * H].T, rec.R[d][2 * H:].T
        Rbzr, Rbh = rec.Rb[d][:2 * H], rec.Rb[d][2 * H:]

        def step(xw, h, f=f, g=g, Rzr=Rzr, Rh=Rh, Rbzr=Rbzr, Rbh=Rbh):
            zr = f(xw[:, :2 * H] + h @ Rzr + Rbzr)
            z, r = zr[:, :H], zr[:, H:]
            if linear_before_reset:
                cand = g(xw[:, 2 * H:] + r * (h @ Rh + Rbh))
            else:
                cand = g(xw[:, 2 * H:] + (r * h) @ Rh + Rbh)
            return ((1 - z) * cand + z * h,)
        y, (h,) = rec.run(d, step, (h0[d],))
        ys.append(y)
        hs.append(h)
    return rec.outputs(ys, [hs])


@kernel("LSTM")
def lstm(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None,
         direction="forward", hidden_size=None, input_forget=0, layout=0,
         output_sequence=0) -> tuple:
    rec = _Recurrence("LSTM", X, W, R, B, sequence_lens, 4, hidden_size, direction, layout)
    # clip bounds the gate pre-activations; the cell state fed to h stays unclipped, as in
    # onnxruntime, the reference runtime for this loosely worded part of the spec.
    acts = _activations(activations, activation_alpha, activation_beta,
                        ["Sigmoid", "Tanh", "Tanh"], rec.D, "LSTM", clip, unclipped=2)
    h0, c0 = rec.state(initial_h, "initial_h"), rec.state(initial_c, "initial_c")
    H = rec.H
    peep = np.zeros((rec.D, 3 * H), rec.cdt) if P is None else P.astype(rec.cdt)
    if peep.shape != (rec.D, 3 * H):
        raise ShapeError(f"LSTM P must be [{rec.D},{3 * H}], got {describe_value(P)}")
    ys, hs, cs = [], [], []
    for d in range(rec.D):
        f, g, hfn = acts[d]
        Rt, Rb = rec.R[d].T, rec.Rb[d]
        # Gate order in W, R and B is i, o, f, c; peepholes are i, o, f.
        pi, po, pf = peep[d][:H], peep[d][H:2 * H], peep[d][2 * H:]

        def step(xw, h, c, f=f, g=g, hfn=hfn, Rt=Rt, Rb=Rb, pi=pi, po=po, pf=pf):
            gates = xw + h @ Rt + Rb
            i = f(gates[:, :H] + pi * c)
            forget = 1 - i if input_forget else f(gates[:, 2 * H:3 * H] + pf * c)
            c_new = forget * c + i * g(gates[:, 3 * H:])
            o = f(gates[:, H:2 * H] + po * c_new)
            return o * hfn(c_new), c_new
        y, (h, c) = rec.run(d, step, (h0[d], c0[d]))
        ys.append(y)
        hs.append(h)
        cs.append(c)
    return rec.outputs(ys, [hs, cs])


# ------------------------------------------------------------------ LinearAttention
_UPDATE_RULES = {"linear": (False, False), "gated": (True, False), "delta": (False, True),
                 "gated_delta": (True, True)}


def _heads(x: np.ndarray, heads: int, name: str) -> np.ndarray:
    """[B, T, heads * d] -> [B, heads, T, d] in float32."""
    if x.ndim != 3 or heads <= 0 or x.shape[-1] % heads:
        raise ShapeError(f"LinearAttention {name} must be [batch, time, {heads} * d], got "
                         f"{describe_value(x)}")
    b, t, hd = x.shape
    return x.reshape(b, t, heads, hd // heads).transpose(0, 2, 1, 3).astype(np.float32)


def _gate_input(x, name: str, b: int, t: int, widths: dict[int, int], hkv: int) -> np.ndarray:
    """decay/beta as [B, H_kv or 1, T, width] float32; ``widths`` maps last dim -> width."""
    if x.ndim != 3 or x.shape[:2] != (b, t) or x.shape[-1] not in widths:
        raise ShapeError(f"LinearAttention {name} must be [{b}, {t}, one of "
                         f"{sorted(widths)}], got {describe_value(x)}")
    last = x.shape[-1]
    heads = hkv if last >= hkv else last
    return x.reshape(b, t, heads, widths[last]).transpose(0, 2, 1, 3).astype(np.float32)


@kernel("LinearAttention", since=27)
def linear_attention(query, key, value, past_state=None, decay=None, beta=None, *,
                     q_num_heads: int, kv_num_heads: int, chunk_size: int = 64,
                     scale: float = 0.0, update_rule: str = "gated_delta") -> tuple:
    if update_rule not in _UPDATE_RULES:
        raise ModelError(f"LinearAttention update_rule {update_rule!r} is not one of "
                         f"{sorted(_UPDATE_RULES)}")
    gated, delta = _UPDATE_RULES[update_rule]
    if kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ShapeError(f"LinearAttention q_num_heads={q_num_heads} must be a positive "
                         f"multiple of kv_num_heads={kv_num_heads}")
    if gated != (decay is not None) or delta != (beta is not None):
        raise ShapeError(f"LinearAttention update_rule {update_rule!r} "
                         f"{'needs' if gated else 'takes no'} decay and "
                         f"{'needs' if delta else 'takes no'} beta")
    q, k, v = (_heads(query, q_num_heads, "query"), _heads(key, kv_num_heads, "key"),
               _heads(value, kv_num_heads, "value"))
    b, _, t, dk = q.shape
    dv = v.shape[-1]
    if k.shape != (b, kv_num_heads, t, dk) or v.shape[:3] != (b, kv_num_heads, t):
        raise ShapeError(f"LinearAttention query {describe_value(query)}, key "
                         f"{describe_value(key)}, value {describe_value(value)} disagree")
    g = None if decay is None else _gate_input(decay, "decay", b, t, {
        kv_num_heads: 1, kv_num_heads * dk: dk}, kv_num_heads)
    bt = None if beta is None else _gate_input(beta, "beta", b, t, {kv_num_heads: 1, 1: 1},
                                               kv_num_heads)
    state_shape = (b, kv_num_heads, dk, dv)
    # The state grows as d_k * d_v: check it before allocating, inputs alone do not bound it.
    limits.check_elements(state_shape, 32, "LinearAttention state")
    if past_state is not None and past_state.shape != state_shape:
        raise ShapeError(f"LinearAttention past_state must be {list(state_shape)}, got "
                         f"{describe_value(past_state)}")
    state = (np.zeros(state_shape, np.float32) if past_state is None
             else past_state.astype(np.float32))
    out, state = _linear_recurrence(q, k, v, g, bt, state, scale or 1 / np.sqrt(dk))
    out = out.transpose(0, 2, 1, 3).reshape(b, t, q_num_heads * dv)
    state_dtype = query.dtype if past_state is None else past_state.dtype
    return out.astype(query.dtype), state.astype(state_dtype)


def _linear_recurrence(q, k, v, g, beta, state, scale: float):
    """The token-by-token state update; query heads read their KV head's state in groups."""
    b, hq, t, dk = q.shape
    hkv, dv = k.shape[1], v.shape[-1]
    qg = q.reshape(b, hkv, hq // hkv, t, dk)
    out = np.empty((b, hkv, hq // hkv, t, dv), np.float32)
    for i in range(t):
        if g is not None:
            state = state * np.exp(g[:, :, i])[..., None]
        vt = v[:, :, i]
        if beta is not None:
            retrieved = np.einsum("bhkv,bhk->bhv", state, k[:, :, i])
            vt = beta[:, :, i] * (vt - retrieved)
        state = state + k[:, :, i, :, None] * vt[:, :, None, :]
        out[:, :, :, i] = scale * np.einsum("bhgk,bhkv->bhgv", qg[:, :, :, i], state)
    return out.reshape(b, hq, t, dv), state


# -------------------------------------------------------------- CausalConvWithState
@kernel("CausalConvWithState", since=27)
def causal_conv_with_state(input, weight, bias=None, past_state=None, *,
                           activation: str = "none") -> tuple:
    if activation not in ("none", "silu", "swish"):
        raise ModelError(f"CausalConvWithState activation {activation!r} is not none, silu "
                         f"or swish")
    if input.ndim != 3 or weight.ndim != 3 or weight.shape[:2] != (input.shape[1], 1) \
            or weight.shape[2] < 1:
        raise ShapeError(f"CausalConvWithState needs input [batch, channels, length] and "
                         f"weight [channels, 1, k], got {describe_value(input)} and "
                         f"{describe_value(weight)}")
    batch, channels, length = input.shape
    k = weight.shape[2]
    if bias is not None and bias.shape != (channels,):
        raise ShapeError(f"CausalConvWithState bias must be [{channels}], got "
                         f"{describe_value(bias)}")
    if past_state is None:
        past_state = np.zeros((batch, channels, k - 1), input.dtype)
    elif past_state.shape != (batch, channels, k - 1):
        raise ShapeError(f"CausalConvWithState past_state must be [{batch}, {channels}, "
                         f"{k - 1}], got {describe_value(past_state)}")
    padded = np.concatenate([past_state.astype(input.dtype), input], axis=2)
    if length == 0:
        return input.copy(), padded
    cdt = _compute_dtype(input.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(padded.astype(cdt), k, axis=2)
    y = np.einsum("bclk,ck->bcl", windows, weight[:, 0, :].astype(cdt))
    if bias is not None:
        y = y + bias.astype(cdt)[:, None]
    if activation != "none":
        y = y / (1 + np.exp(-y))
    return y.astype(input.dtype), padded[:, :, length:]

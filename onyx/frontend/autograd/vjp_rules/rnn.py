"""VJP rules of RNN, GRU and LSTM, by decomposition into primitive ONNX ops.

Each rule rebuilds the recurrence step by step from MatMul, Add, activations and Where (the
``_tape`` module), with the kernel's semantics: gate orders z-r-h (GRU) and i-o-f-c (LSTM),
peepholes i-o-f, ``clip`` on the gate pre-activations (not on LSTM's output activation),
``sequence_lens`` freezing a sequence's state past its length, zero ``Y`` rows there and the
reverse direction starting at each sequence's own last step. Then it differentiates that.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import arg, ints, require_static, scalar
from onyx.frontend.autograd.vjp_rules._tape import Tape, backprop
from onyx.ir.errors import OnyxError

# name -> (emit(t, x, alpha, beta), default alpha, default beta); the names the spec allows
_ACTIVATIONS = {
    "relu": (lambda t, x, a, b: t.Relu(x), None, None),
    "tanh": (lambda t, x, a, b: t.Tanh(x), None, None),
    "sigmoid": (lambda t, x, a, b: t.Sigmoid(x), None, None),
    "affine": (lambda t, x, a, b: t.Add(t.Mul(x, scalar(t, a, x)), scalar(t, b, x)), 1.0, 0.0),
    "leakyrelu": (lambda t, x, a, b: t.LeakyRelu(x, alpha=a), 0.01, None),
    "thresholdedrelu": (lambda t, x, a, b: t.ThresholdedRelu(x, alpha=a), 1.0, None),
    "scaledtanh": (lambda t, x, a, b: t.Mul(scalar(t, a, x), t.Tanh(t.Mul(x, scalar(t, b, x)))),
                   1.0, 1.0),
    "hardsigmoid": (lambda t, x, a, b: t.HardSigmoid(x, alpha=a, beta=b), 0.2, 0.5),
    "elu": (lambda t, x, a, b: t.Elu(x, alpha=a), 1.0, None),
    "softsign": (lambda t, x, a, b: t.Softsign(x), None, None),
    "softplus": (lambda t, x, a, b: t.Softplus(x), None, None),
}


def _activations(node, defaults: list[str], dirs: int, unclipped: int | None = None) -> list:
    """Per direction, one ``fn(tape, x)`` per activation slot, alpha/beta and clip bound in."""
    names = list(node.attr("activations") or defaults * dirs)
    alphas = list(node.attr("activation_alpha") or [])
    betas = list(node.attr("activation_beta") or [])
    clip = node.attr("clip")
    fns = []
    for n, name in enumerate(names):
        entry = _ACTIVATIONS.get(str(name).lower())
        if entry is None:
            raise OnyxError(f"gradient of {node.op_type}: unknown activation {name!r}")
        emit, alpha, beta = entry
        if alpha is not None and alphas:
            alpha = alphas.pop(0)
        if beta is not None and betas:
            beta = betas.pop(0)
        bound = None if n % len(defaults) == unclipped else clip
        fns.append(_bind(emit, alpha, beta, bound))
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(dirs)]


def _bind(emit, alpha, beta, clip):
    def fn(t, x):
        if clip is not None:
            x = t.Clip(x, scalar(t, -clip, x), scalar(t, clip, x))
        return emit(t, x, alpha, beta)
    return fn


class _Unrolled:
    """The recurrence's shared plumbing over a tape: layout, weights per direction, time."""

    def __init__(self, t: Tape, node, gates: int):
        self.t, self.node, self.gates = t, node, gates
        x = node.inputs[0]
        self.layout = node.attr("layout", 0)
        steps, batch = require_static(t, x, node.op_type, only=[0, 1])[:2]
        self.steps = batch if self.layout else steps
        self.x = t.Transpose(x, perm=[1, 0, 2]) if self.layout else x
        direction = node.attr("direction", "forward")
        self.reverse = {"forward": [False], "reverse": [True],
                        "bidirectional": [False, True]}[direction]
        self.hidden = require_static(t, node.inputs[2], node.op_type, "R", only=[-1])[-1]
        self.lens = arg(node, 4)

    def pick(self, v, d: int):
        """Direction d of a [directions, ...] input."""
        return self.t.Gather(v, self.t.const(d, dtype=np.int64), axis=0)

    def state(self, index: int, d: int):
        """Initial state ``index`` for direction d as [batch, hidden] (zeros when absent)."""
        v = arg(self.node, index)
        if v is None:
            return None
        if self.layout:
            v = self.t.Transpose(v, perm=[1, 0, 2])
        return self.pick(v, d)

    def projections(self, d: int):
        """X @ W^T + Wb for every step, and R^T, Rb of direction d."""
        t, size = self.t, self.gates * self.hidden
        w, r = self.pick(self.node.inputs[1], d), self.pick(self.node.inputs[2], d)
        xw = t.MatMul(self.x, t.Transpose(w, perm=[1, 0]))
        b = arg(self.node, 3)
        rb = None
        if b is not None:
            bd = self.pick(b, d)
            xw = t.Add(xw, t.Slice(bd, ints(t, [0]), ints(t, [size])))
            rb = t.Slice(bd, ints(t, [size]), ints(t, [2 * size]))
        return xw, t.Transpose(r, perm=[1, 0]), rb

    def run(self, d: int, xw, step, states: list):
        """Y of direction d as [T, batch, hidden] and the final states; ``xw`` holds each
        step's input projection."""
        t = self.t
        if self.lens is None:
            order = range(self.steps - 1, -1, -1) if self.reverse[d] else range(self.steps)
            ys = {}
            for k in order:
                states = step(t.Gather(xw, t.const(k, dtype=np.int64), axis=0), states)
                ys[k] = t.Unsqueeze(states[0], ints(t, [0]))
            return t.Concat(*[ys[k] for k in range(self.steps)], axis=0), states
        return self._run_masked(d, xw, step, states)

    def _mirror(self, lens, position):
        """lens - 1 - position where position < lens, else 0 (int64, broadcasting)."""
        t = self.t
        zero, one = t.const(0, dtype=np.int64), t.const(1, dtype=np.int64)
        return t.Where(t.Less(position, lens), t.Sub(t.Sub(lens, position), one), zero)

    def _run_masked(self, d: int, xw, step, states: list):
        t = self.t
        lens = t.Cast(self.lens, to=7)
        one_step = t.Shape(t.Slice(xw, ints(t, [0]), ints(t, [1])))   # [1, batch, gates*H]
        hs = []
        for s in range(self.steps):
            where = t.const(s, dtype=np.int64)
            valid = t.Unsqueeze(t.Less(where, lens), ints(t, [1]))
            if self.reverse[d]:   # each sequence from its own last step backwards
                at = t.Reshape(self._mirror(lens, where), ints(t, [1, -1, 1]))
                x_s = t.GatherElements(xw, t.Expand(at, one_step), axis=0)
                x_s = t.Squeeze(x_s, ints(t, [0]))
            else:
                x_s = t.Gather(xw, where, axis=0)
            new = step(x_s, states)
            states = [t.Where(valid, n, o) for n, o in zip(new, states)]
            hs.append(t.Unsqueeze(t.Where(valid, new[0], t.zeros_like(new[0])), ints(t, [0])))
        stacked = t.Concat(*hs, axis=0)   # [step, batch, hidden]
        if self.reverse[d]:  # time tau of sequence b came from step lens_b - 1 - tau
            times = t.const(np.arange(self.steps).reshape(-1, 1), dtype=np.int64)
            index = t.Expand(t.Unsqueeze(self._mirror(lens, times), ints(t, [2])),
                             t.Shape(stacked))
            inside = t.Unsqueeze(t.Less(times, lens), ints(t, [2]))
            picked = t.GatherElements(stacked, index, axis=0)
            stacked = t.Where(inside, picked, t.zeros_like(picked))
        return stacked, states

    def outputs(self, ys: list, finals: list[list]) -> list:
        t = self.t
        y = t.Concat(*[t.Unsqueeze(v, ints(t, [1])) for v in ys], axis=1)  # [T, D, B, H]
        if self.layout:
            y = t.Transpose(y, perm=[2, 0, 1, 3])
        outs = [y]
        for per_dir in finals:
            s = t.Concat(*[t.Unsqueeze(v, ints(t, [0])) for v in per_dir], axis=0)
            if self.lens is not None:   # an empty sequence has no last state: zeros
                lens = t.Cast(self.lens, to=7)
                empty = t.Unsqueeze(t.Equal(lens, t.const(0, dtype=np.int64)), ints(t, [1]))
                s = t.Where(empty, t.zeros_like(s), s)
            outs.append(t.Transpose(s, perm=[1, 0, 2]) if self.layout else s)
        return outs


def _recurrent_rule(build):
    """A rule that differentiates ``build(tape, node) -> outputs`` over the node's inputs."""
    def rule(b, node, *grads):
        tape = Tape(b)
        outs = build(tape, node)
        seeds = [(o, g) for o, g in zip(outs, grads) if g is not None]
        wrt = [v if i not in (4,) else None for i, v in enumerate(node.inputs)]
        return backprop(b, tape, seeds, wrt)
    return rule


def _initial(u: _Unrolled, index: int, d: int, xw):
    """Initial state ``index`` of direction d, or zeros [batch, hidden]."""
    v = u.state(index, d)
    if v is not None:
        return v
    t = u.t
    one_step = t.Gather(xw, t.const(0, dtype=np.int64), axis=0)   # [batch, gates * hidden]
    return t.zeros_like(t.Slice(one_step, ints(t, [0]), ints(t, [u.hidden]), ints(t, [1])))


def _build_rnn(t: Tape, node) -> list:
    u = _Unrolled(t, node, 1)
    acts = _activations(node, ["Tanh"], len(u.reverse))
    ys, hs = [], []
    for d in range(len(u.reverse)):
        xw, rt, rb = u.projections(d)
        (f,) = acts[d]

        def step(x_s, states, f=f, rt=rt, rb=rb):
            pre = t.Add(x_s, t.MatMul(states[0], rt))
            return [f(t, pre if rb is None else t.Add(pre, rb))]
        y, (h,) = u.run(d, xw, step, [_initial(u, 5, d, xw)])
        ys.append(y)
        hs.append(h)
    return u.outputs(ys, [hs])


def _gate(t, v, k: int, hidden: int):
    """Gate k (of the packed gates) along the last axis."""
    return t.Slice(v, ints(t, [k * hidden]), ints(t, [(k + 1) * hidden]), ints(t, [-1]))


def _build_gru(t: Tape, node) -> list:
    u = _Unrolled(t, node, 3)
    acts = _activations(node, ["Sigmoid", "Tanh"], len(u.reverse))
    hid, before_reset = u.hidden, node.attr("linear_before_reset", 0)
    ys, hs = [], []
    for d in range(len(u.reverse)):
        xw, rt, rb = u.projections(d)
        f, g = acts[d]
        r_zr, r_h = (t.Slice(rt, ints(t, [a]), ints(t, [z]), ints(t, [1]))
                     for a, z in ((0, 2 * hid), (2 * hid, 3 * hid)))
        rb_zr = None if rb is None else t.Slice(rb, ints(t, [0]), ints(t, [2 * hid]))
        rb_h = None if rb is None else t.Slice(rb, ints(t, [2 * hid]), ints(t, [3 * hid]))

        def add(a, c):
            return a if c is None else t.Add(a, c)

        def step(x_s, states, f=f, g=g, r_zr=r_zr, r_h=r_h, rb_zr=rb_zr, rb_h=rb_h):
            h = states[0]
            zr = f(t, add(t.Add(t.Slice(x_s, ints(t, [0]), ints(t, [2 * hid]), ints(t, [1])),
                                t.MatMul(h, r_zr)), rb_zr))
            z, r = _gate(t, zr, 0, hid), _gate(t, zr, 1, hid)
            x_h = _gate(t, x_s, 2, hid)
            if before_reset:
                cand = g(t, t.Add(x_h, t.Mul(r, add(t.MatMul(h, r_h), rb_h))))
            else:
                cand = g(t, add(t.Add(x_h, t.MatMul(t.Mul(r, h), r_h)), rb_h))
            one = scalar(t, 1.0, z)
            return [t.Add(t.Mul(t.Sub(one, z), cand), t.Mul(z, h))]
        y, (h,) = u.run(d, xw, step, [_initial(u, 5, d, xw)])
        ys.append(y)
        hs.append(h)
    return u.outputs(ys, [hs])


def _build_lstm(t: Tape, node) -> list:
    u = _Unrolled(t, node, 4)
    acts = _activations(node, ["Sigmoid", "Tanh", "Tanh"], len(u.reverse), unclipped=2)
    hid, coupled = u.hidden, node.attr("input_forget", 0)
    peep = arg(node, 7)
    ys, hs, cs = [], [], []
    for d in range(len(u.reverse)):
        xw, rt, rb = u.projections(d)
        f, g, hfn = acts[d]
        pd = None if peep is None else u.pick(peep, d)
        p_i, p_o, p_f = (None,) * 3 if pd is None else (_gate(t, pd, k, hid) for k in range(3))

        def peephole(pre, p, c):
            return pre if p is None else t.Add(pre, t.Mul(p, c))

        def step(x_s, states, f=f, g=g, hfn=hfn, rt=rt, rb=rb, p_i=p_i, p_o=p_o, p_f=p_f):
            h, c = states
            pre = t.Add(x_s, t.MatMul(h, rt))
            if rb is not None:
                pre = t.Add(pre, rb)
            i = f(t, peephole(_gate(t, pre, 0, hid), p_i, c))
            if coupled:
                forget = t.Sub(scalar(t, 1.0, i), i)
            else:
                forget = f(t, peephole(_gate(t, pre, 2, hid), p_f, c))
            c_new = t.Add(t.Mul(forget, c), t.Mul(i, g(t, _gate(t, pre, 3, hid))))
            o = f(t, peephole(_gate(t, pre, 1, hid), p_o, c_new))
            return [t.Mul(o, hfn(t, c_new)), c_new]
        y, (h, c) = u.run(d, xw, step, [_initial(u, 5, d, xw), _initial(u, 6, d, xw)])
        ys.append(y)
        hs.append(h)
        cs.append(c)
    return u.outputs(ys, [hs, cs])


vjp("RNN")(_recurrent_rule(_build_rnn))
vjp("GRU")(_recurrent_rule(_build_gru))
vjp("LSTM")(_recurrent_rule(_build_lstm))

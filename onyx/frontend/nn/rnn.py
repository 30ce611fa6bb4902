"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells.

Each layer runs one time step at a time with plain ops (Gemm/MatMul, Sigmoid, Tanh, Mul,
Add), so autograd, tracing and export see an ordinary unrolled graph. The input projection of
all time steps is one MatMul up front; only the recurrent part loops. Parameter names, shapes,
gate order (LSTM: i, f, g, o; GRU: r, z, n) and initialization are torch's, so state dicts
load either way.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn import functional as F
from onyx.frontend.nn import init
from onyx.frontend.nn._factory import new_parameter
from onyx.frontend.nn.module import Module
from onyx.frontend.ops.join import cat, stack
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------ cells (one time step)
def _rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh, relu: bool) -> Tensor:
    pre = gi + F.linear(h, w_hh, b_hh)
    return apply("Relu", pre) if relu else apply("Tanh", pre)


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh, w_hr):
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = apply("Sigmoid", f) * c + apply("Sigmoid", i) * apply("Tanh", g)
    h = apply("Sigmoid", o) * apply("Tanh", c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh) -> Tensor:
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = apply("Sigmoid", i_r + h_r)
    z = apply("Sigmoid", i_z + h_z)
    n = apply("Tanh", i_n + r * h_n)
    return n + z * (h - n)  # (1 - z) * n + z * h


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, argument checks, the layer/direction loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be greater than 0")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError("proj_size should be a positive integer or zero, and is only "
                             "supported by LSTM")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        self._flat_weights_names: list[str] = []
        self._register_weights(device, dtype)
        self.reset_parameters()

    def _register_weights(self, device, dtype) -> None:
        directions = 2 if self.bidirectional else 1
        gate_size = _GATES[self.mode] * self.hidden_size
        real_hidden = self.proj_size or self.hidden_size
        kw = dict(device=device, dtype=dtype)
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, in_size)),
                          ("weight_hh", (gate_size, real_hidden))]
                if self.bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if self.proj_size:
                    shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix, new_parameter(*shape, **kw))
                    self._flat_weights_names.append(name + suffix)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self) -> list[list[Tensor]]:
        per = len(self._flat_weights_names) // (self.num_layers *
                                                 (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]]
                for i in range(0, len(names), per)]

    def _weights(self, layer: int, direction: int) -> dict:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return {name: getattr(self, name + suffix, None)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------ forward
    def _initial_state(self, given: Tensor | None, size: int, batch: int, like: Tensor,
                       name: str) -> Tensor:
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, size)
        if given is None:
            return Tensor._wrap(np.zeros(expected, like._data.dtype))
        if tuple(given.shape) != expected:
            raise OnyxError(f"Expected {name} size {expected}, got {tuple(given.shape)}")
        return given

    def _prepare(self, input: Tensor, hx):
        """(L, N, H_in) input and per-layer states, whatever the layout given."""
        if input.ndim not in (2, 3):
            raise ValueError(f"{self.mode.split('_')[0]}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
            hx = None if hx is None else tuple(h.unsqueeze(1) for h in _as_tuple(hx))
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise OnyxError(f"input.size(-1) must be equal to input_size. Expected "
                            f"{self.input_size}, got {input.shape[-1]}")
        states = None if hx is None else _as_tuple(hx)
        return input, states, batched

    def _run(self, input: Tensor, h0: Tensor, c0: Tensor | None):
        """All layers and directions; returns output (L, N, D * H) and final h (and c)."""
        directions = 2 if self.bidirectional else 1
        h0s, c0s = h0.unbind(0), (None if c0 is None else c0.unbind(0))
        layer_input, h_n, c_n = input, [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                out, h, c = self._run_direction(layer_input, h0s[k],
                                                None if c0s is None else c0s[k],
                                                self._weights(layer, direction), direction == 1)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outs[0] if directions == 1 else cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, stack(h_n), (None if c0 is None else stack(c_n))

    def _run_direction(self, x: Tensor, h: Tensor, c: Tensor | None, w: dict, reverse: bool):
        steps = F.linear(x, w["weight_ih"], w["bias_ih"]).unbind(0)
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        outputs: list[Tensor | None] = [None] * len(steps)
        for t in order:
            if self.mode == "LSTM":
                h, c = _lstm_step(steps[t], h, c, w["weight_hh"], w["bias_hh"], w["weight_hr"])
            elif self.mode == "GRU":
                h = _gru_step(steps[t], h, w["weight_hh"], w["bias_hh"])
            else:
                h = _rnn_step(steps[t], h, w["weight_hh"], w["bias_hh"],
                              self.mode == "RNN_RELU")
            outputs[t] = h
        if not outputs:
            raise OnyxError("expected a sequence of length at least 1")
        return stack(outputs), h, c

    def _finish(self, output: Tensor, states: list[Tensor], batched: bool):
        if not batched:
            return output.squeeze(1), [s.squeeze(1) for s in states]
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, states


def _as_tuple(hx) -> tuple:
    return tuple(hx) if isinstance(hx, tuple | list) else (hx,)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)`` (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        x, states, batched = self._prepare(input, hx)
        h0 = self._initial_state(None if states is None else states[0], self.hidden_size,
                                 x.shape[1], x, "hidden")
        out, h_n, _ = self._run(x, h0, None)
        out, (h_n,) = self._finish(out, [h_n], batched)
        return out, h_n


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n in torch's order)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        x, states, batched = self._prepare(input, hx)
        h0 = self._initial_state(None if states is None else states[0], self.hidden_size,
                                 x.shape[1], x, "hidden")
        out, h_n, _ = self._run(x, h0, None)
        out, (h_n,) = self._finish(out, [h_n], batched)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``.

        >>> lstm = LSTM(10, 20, num_layers=2, batch_first=True)     # doctest: +SKIP
        >>> out, (h, c) = lstm(onyx.randn(4, 7, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        x, states, batched = self._prepare(input, hx)
        if states is not None and len(states) != 2:
            raise OnyxError("LSTM expects hx as a tuple (h_0, c_0)")
        h0 = self._initial_state(None if states is None else states[0],
                                 self.proj_size or self.hidden_size, x.shape[1], x, "hidden")
        c0 = self._initial_state(None if states is None else states[1], self.hidden_size,
                                 x.shape[1], x, "cell")
        out, h_n, c_n = self._run(x, h0, c0)
        out, (h_n, c_n) = self._finish(out, [h_n, c_n], batched)
        return out, (h_n, c_n)

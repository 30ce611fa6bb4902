"""Single-step recurrent cells: ``RNNCell``, ``LSTMCell``, ``GRUCell`` (torch's parameters)."""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.nn import functional as F
from onyx.frontend.nn import init
from onyx.frontend.nn._factory import new_parameter
from onyx.frontend.nn.module import Module
from onyx.frontend.nn.rnn import _gru_step, _lstm_step, _rnn_step
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        kw = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(num_chunks * hidden_size, input_size, **kw)
        self.weight_hh = new_parameter(num_chunks * hidden_size, hidden_size, **kw)
        if bias:
            self.bias_ih = new_parameter(num_chunks * hidden_size, **kw)
            self.bias_hh = new_parameter(num_chunks * hidden_size, **kw)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _batched(self, input: Tensor) -> tuple[Tensor, bool]:
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise OnyxError(f"input has inconsistent input_size: got {input.shape[-1]} "
                            f"expected {self.input_size}")
        return (input, True) if input.ndim == 2 else (input.unsqueeze(0), False)

    def _state(self, given: Tensor | None, x: Tensor, batched: bool) -> Tensor:
        if given is None:
            return Tensor._wrap(np.zeros((x.shape[0], self.hidden_size), x._data.dtype))
        return given if batched else given.unsqueeze(0)

    def _input_gates(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._batched(input)
        h = _rnn_step(self._input_gates(x), self._state(hx, x, batched), self.weight_hh,
                      self.bias_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        x, batched = self._batched(input)
        h0 = self._state(None if hx is None else hx[0], x, batched)
        c0 = self._state(None if hx is None else hx[1], x, batched)
        h, c = _lstm_step(self._input_gates(x), h0, c0, self.weight_hh, self.bias_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._batched(input)
        h = _gru_step(self._input_gates(x), self._state(hx, x, batched), self.weight_hh,
                      self.bias_hh)
        return h if batched else h.squeeze(0)

"""The record an eager op leaves on its outputs: op type, attributes, inputs, outputs.

A record becomes an ``ir.Node`` only when a graph is needed (tracing, export, ``grad_graph``);
eager ``backward()`` hands it straight to the op's VJP rule. Outputs are held weakly (a record
must not keep its own outputs alive) with their arrays kept for rules that read them.
"""

from __future__ import annotations

import weakref

from onyx.ir.errors import OnyxError


class Record:
    __slots__ = ("op_type", "domain", "attrs", "inputs", "edges", "_outputs", "_out_data",
                 "versions",
                 "out_versions", "freed", "seq", "name", "backward_fn", "__weakref__")

    _counter = 0

    def __init__(self, op_type: str, attrs: dict, inputs: tuple, outputs: list, *,
                 domain: str = "", backward_fn=None):
        self.op_type, self.domain, self.attrs = op_type, domain, attrs
        self.inputs = inputs
        # where each input's gradient goes, fixed now: an in-place op may later give the same
        # tensor a new history, which must not reroute gradients of uses made before it
        edges, versions = [], []
        for t in inputs:
            if t is None:
                edges.append(None)
                versions.append(None)
            else:
                edges.append((t.grad_fn, t._out_index))
                versions.append(t._version.value)
        self.edges, self.versions = edges, versions
        self._outputs = [weakref.ref(t) for t in outputs]
        self._out_data = [t._data for t in outputs]
        self.out_versions = [t._version.value for t in outputs]
        self.freed = False
        self.backward_fn = backward_fn  # custom autograd.Function
        Record._counter += 1
        self.seq = Record._counter

    @property
    def outputs(self) -> list:
        from onyx.frontend.tensor import Tensor
        outs = []
        for ref, data in zip(self._outputs, self._out_data):
            t = ref()
            outs.append(t if t is not None else Tensor._wrap(data))
        return outs

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def check_versions(self, uses_inputs, uses_outputs) -> None:
        """Refuse to differentiate through a value that was changed in place after recording."""
        if self.freed:
            raise OnyxError(f"trying to backward through the graph a second time ({self.op_type}"
                            f"): its saved values were freed; pass retain_graph=True to the "
                            f"first backward()")
        for i in uses_inputs:
            t = self.inputs[i] if i < len(self.inputs) else None
            if t is not None and t._version.value != self.versions[i]:
                raise OnyxError(self._inplace_message(f"input {i}", t, self.versions[i]))
        for i in uses_outputs:
            if i >= len(self._outputs):
                continue  # the op was asked for fewer outputs than the rule may read
            t = self._outputs[i]()
            if t is not None and t._version.value != self.out_versions[i]:
                raise OnyxError(self._inplace_message(f"output {i}", t, self.out_versions[i]))

    def _inplace_message(self, which: str, t, expected: int) -> str:
        return (f"one of the values needed for gradient computation has been modified by an "
                f"in-place operation: {which} of {self.op_type}, a tensor of shape "
                f"{list(t.shape)}, is at version {t._version.value}; expected version {expected}")

    def free(self) -> None:
        self.freed = True
        self._out_data = [None] * len(self._out_data)

    def __repr__(self) -> str:
        return f"<{self.op_type}Backward>"

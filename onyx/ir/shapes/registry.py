"""The shape/type rule registry and the context a rule reads its node through.

    @shape_rule("Relu")
    def _(ctx):
        return ctx.input_type(0)

A rule takes an ``InferenceContext`` and returns the output types: a list with one entry per
output (``None`` where unknown) or a single type for a one-output op. Rules are registered
per opset range like kernels: ``since..until`` inclusive, ``until=None`` open-ended, and
overlapping ranges of one op raise at import. A rule may also publish the *value* of a small
integer output (``ctx.set_value``) so that Shape -> Gather -> Concat -> Reshape chains give
concrete shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from onyx.ir.core import Attribute, Graph, Node
from onyx.ir.dtypes import DType
from onyx.ir.errors import OnyxError, ShapeError
from onyx.ir.shapes.dims import all_known
from onyx.ir.tensor import Tensor
from onyx.ir.types import Dim, Shape, TensorType

DEFAULT_DOMAINS = ("", "ai.onnx")
# Constants larger than this are never decoded for inference; computed values larger than
# MAX_COMPUTED are not kept. Both keep inference cheap and bounded on any model.
MAX_CONSTANT_ELEMENTS = 1 << 16
MAX_COMPUTED_ELEMENTS = 1 << 12

Rule = Callable[["InferenceContext"], Any]


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


# Published by SequenceEmpty: the sequence's declared element type constrains nothing yet.
EMPTY_SEQUENCE = _Marker("EMPTY_SEQUENCE")


def normalize_domain(domain: str) -> str:
    return "" if domain in DEFAULT_DOMAINS else domain


@dataclass(frozen=True)
class RuleEntry:
    fn: Rule
    op_type: str
    domain: str
    since: int
    until: int | None


_RULES: dict[tuple[str, str], list[RuleEntry]] = {}


def shape_rule(op_type: str, *, domain: str = "", since: int = 1, until: int | None = None):
    """Register a shape rule for ``op_type`` in opsets ``since..until`` (inclusive)."""
    def register(fn: Rule) -> Rule:
        entry = RuleEntry(fn, op_type, normalize_domain(domain), since, until)
        entries = _RULES.setdefault((entry.domain, op_type), [])
        for e in entries:
            if not (until is not None and until < e.since
                    or e.until is not None and e.until < since):
                raise ValueError(f"shape rule {domain}::{op_type} opsets {since}..{until} "
                                 f"overlaps {e.fn.__qualname__} ({e.since}..{e.until})")
        entries.append(entry)
        entries.sort(key=lambda e: e.since)
        return fn
    return register


def lookup(op_type: str, domain: str, opset: int) -> RuleEntry | None:
    """The rule serving ``op_type`` at ``opset``, or ``None``."""
    for e in _RULES.get((normalize_domain(domain), op_type), ()):
        if e.since <= opset and (e.until is None or opset <= e.until):
            return e
    return None


def registered() -> dict[tuple[str, str], list[RuleEntry]]:
    return dict(_RULES)


@dataclass(frozen=True)
class PartialInts:
    """A small integer tensor (rank 0 or 1) whose entries may be names or unknown.

    What ``Shape`` of a tensor with symbolic dims produces, carried through Gather, Concat,
    Slice, ... until a Reshape or Expand reads it.
    """
    dims: tuple[Dim, ...]
    scalar: bool = False


def tensor(dtype: DType | int | None, shape: Shape | None = None) -> TensorType | None:
    """A ``TensorType``, or ``None`` when the dtype is unknown."""
    if dtype is None:
        return None
    return TensorType(DType(dtype), None if shape is None else tuple(shape))


class InferenceContext:
    """Everything a rule may read about its node: input types and values, attributes, opset."""

    def __init__(self, node: Node, opset: int, env, engine, opsets: dict[str, int],
                 bindings: dict[str, Attribute] | None = None):
        self.node, self.opset = node, opset
        self._env, self._engine = env, engine
        self._opsets, self._bindings = opsets, bindings

    # -- inputs
    @property
    def num_inputs(self) -> int:
        return len(self.node.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.node.outputs)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.inputs) and self.node.inputs[i] is not None

    def input_type(self, i: int):
        if not self.has_input(i):
            return None
        return self._env.type_of(self.node.inputs[i])

    def input_tensor(self, i: int) -> TensorType | None:
        t = self.input_type(i)
        return t if isinstance(t, TensorType) else None

    def input_shape(self, i: int) -> Shape | None:
        t = self.input_tensor(i)
        return None if t is None else t.shape

    def input_rank(self, i: int) -> int | None:
        s = self.input_shape(i)
        return None if s is None else len(s)

    def input_dtype(self, i: int) -> DType | None:
        t = self.input_type(i)
        return getattr(t, "dtype", None)

    def input_value(self, i: int) -> np.ndarray | None:
        """The input's values when known (an initializer, a Constant, or computed)."""
        data = self._raw_value(i)
        return data if isinstance(data, np.ndarray) else None

    def input_dims(self, i: int) -> tuple[Dim, ...] | None:
        """A rank-0/1 integer input as dims (ints, names or None), e.g. a Reshape's shape."""
        data = self._raw_value(i)
        if isinstance(data, PartialInts):
            return data.dims
        if isinstance(data, np.ndarray) and data.ndim <= 1 and data.dtype.kind in "iub":
            return tuple(int(x) for x in data.reshape(-1))
        shape = self.input_shape(i)
        if shape is not None and len(shape) == 1 and isinstance(shape[0], int) and \
                shape[0] <= MAX_COMPUTED_ELEMENTS:
            return (None,) * shape[0]  # the length is known, the entries are not
        return None

    def input_partial(self, i: int) -> PartialInts | None:
        """Like ``input_dims`` but keeps whether the input is a scalar; known values only."""
        data = self._raw_value(i)
        if isinstance(data, PartialInts):
            return data
        if isinstance(data, np.ndarray) and data.ndim <= 1 and data.dtype.kind in "iub":
            return PartialInts(tuple(int(x) for x in data.reshape(-1)), data.ndim == 0)
        return None

    def input_data(self, i: int):
        """Whatever an earlier rule published for the input (see ``set_value``), or None."""
        return self._raw_value(i)

    def input_ints(self, i: int) -> list[int] | None:
        """A known integer input as a flat list of ints."""
        v = self.input_value(i)
        if v is None or v.dtype.kind not in "iub":
            return None
        return [int(x) for x in v.reshape(-1)]

    def input_scalar(self, i: int) -> float | int | None:
        """A known one-element input as a Python number."""
        v = self.input_value(i)
        if v is None or v.size != 1 or v.dtype.kind in "OUSc":
            return None
        x = v.reshape(-1)[0]
        return int(x) if v.dtype.kind in "iub" else float(x)  # float() reads bfloat16 & co

    def data_of(self, value):
        """What is known of any value's contents (e.g. a body output after ``infer_graph``)."""
        data = self._env.value_of(value)
        return _decode_small(data) if isinstance(data, Tensor) else data

    def _raw_value(self, i: int):
        if not self.has_input(i):
            return None
        data = self._env.value_of(self.node.inputs[i])
        if isinstance(data, Tensor):
            data = _decode_small(data)
        return data

    def type_of_name(self, name: str):
        """The type of the value called ``name`` in the node's graph or an enclosing one."""
        graph = self.node.graph
        while graph is not None:
            candidates = [*graph.inputs, *graph.initializers.values(),
                          *(o for n in graph for o in n.outputs)]
            for v in candidates:
                if v.name == name:
                    return self._env.type_of(v)
            graph = graph.parent.graph if graph.parent is not None else None
        return None

    # -- attributes
    def attr(self, name: str, default: Any = None) -> Any:
        a = self.node.attributes.get(name)
        if a is not None and a.ref_attr_name:
            a = (self._bindings or {}).get(a.ref_attr_name)
        return default if a is None or a.value is None else a.value

    def has_attr(self, name: str) -> bool:
        return self.attr(name) is not None

    # -- outputs
    def set_value(self, i: int, data) -> None:
        """Publish output ``i``'s value: an ndarray, a ``PartialInts``, a ``Tensor`` or a
        marker such as ``EMPTY_SEQUENCE``."""
        if i >= len(self.node.outputs):
            return
        if isinstance(data, PartialInts):
            if len(data.dims) > MAX_COMPUTED_ELEMENTS:
                return
            if all_known(data.dims):
                data = np.array(data.dims[0] if data.scalar else data.dims, dtype=np.int64)
        elif isinstance(data, np.ndarray) and data.size > MAX_COMPUTED_ELEMENTS:
            return
        self._env.set_value(self.node.outputs[i], data)

    # -- subgraphs and errors
    def infer_graph(self, graph: Graph, input_types: list, *, keep: bool = True,
                    dead: bool = False) -> list:
        """Infer a body with its inputs bound to ``input_types``; its output types.

        ``keep=False`` only tries the body (nothing is recorded), e.g. a Loop's first pass;
        ``dead=True`` types a body that never runs (an If branch a constant rules out),
        where an inconsistency is no error even with ``strict``.
        """
        return self._engine.infer_body(graph, input_types, self._env, self._opsets,
                                       self._bindings, keep=keep, dead=dead)

    def graph_attr(self, name: str) -> Graph | None:
        g = self.attr(name)
        return g if isinstance(g, Graph) else None

    def fail(self, message: str) -> ShapeError:
        return ShapeError(message)


def _decode_small(t: Tensor) -> np.ndarray | None:
    count = 1
    for d in t.shape:
        count *= d
    if count > MAX_CONSTANT_ELEMENTS or t.dtype is DType.STRING or t.is_external:
        return None
    try:
        return np.asarray(t.numpy())
    except OnyxError:  # a malformed constant: inference just does not know its value
        return None

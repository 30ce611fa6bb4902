"""The IR: ``Model``, ``Graph``, ``Node``, ``Value``, ``Attribute`` and ``Function``.

Op names, attributes and semantics are ONNX's. Values know their producer and their uses;
only the mutator methods here change those links, so a pass cannot leave a dangling edge.

    >>> from onyx import ir
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, ("n",)))
    >>> y = g.append(ir.Node("Relu", [x])).outputs[0]
    >>> g.outputs.append(y)
    >>> [u.op_type for u, _ in x.uses()]
    ['Relu']
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from onyx.ir.errors import GraphError
from onyx.ir.tensor import Tensor


class AttrType(enum.IntEnum):
    """``AttributeProto.AttributeType`` codes."""
    UNDEFINED = 0
    FLOAT = 1
    INT = 2
    STRING = 3
    TENSOR = 4
    GRAPH = 5
    SPARSE_TENSOR = 11
    TYPE_PROTO = 13
    FLOATS = 6
    INTS = 7
    STRINGS = 8
    TENSORS = 9
    GRAPHS = 10
    SPARSE_TENSORS = 12
    TYPE_PROTOS = 14


class Attribute:
    """A named attribute. ``ref_attr_name`` marks a reference to a function's attribute."""

    __slots__ = ("name", "type", "value", "ref_attr_name", "doc_string", "_present")

    def __init__(self, name: str, type: AttrType, value: Any, ref_attr_name: str = "",
                 doc_string: str = ""):
        self.name, self.type, self.value = name, AttrType(type), value
        self.ref_attr_name, self.doc_string = ref_attr_name, doc_string
        self._present: tuple[str, ...] = ()  # fields a file set to their default (serde)

    @classmethod
    def infer(cls, name: str, value: Any) -> Attribute:
        """Build an attribute from a Python value, picking the ONNX type like ``make_attribute``."""
        return cls(name, _infer_attr_type(value), value)

    def __repr__(self) -> str:
        if self.ref_attr_name:
            return f"{self.name}=@{self.ref_attr_name}"
        return f"{self.name}={self.value!r}"


def _infer_attr_type(value: Any) -> AttrType:
    import numpy as np
    if isinstance(value, bool | int | np.integer):
        return AttrType.INT
    if isinstance(value, float | np.floating):
        return AttrType.FLOAT
    if isinstance(value, str | bytes):
        return AttrType.STRING
    if isinstance(value, Tensor):
        return AttrType.TENSOR
    if isinstance(value, Graph):
        return AttrType.GRAPH
    if isinstance(value, list | tuple):
        if all(isinstance(v, bool | int | np.integer) for v in value):
            return AttrType.INTS
        if all(isinstance(v, int | float | np.number) for v in value):
            return AttrType.FLOATS
        if all(isinstance(v, str | bytes) for v in value):
            return AttrType.STRINGS
        if all(isinstance(v, Tensor) for v in value):
            return AttrType.TENSORS
        if all(isinstance(v, Graph) for v in value):
            return AttrType.GRAPHS
    raise TypeError(f"cannot infer an ONNX attribute type for {type(value).__name__}")


class Value:
    """An SSA value: a graph input, an initializer, a node output or a function input.

    ``type`` is a ``TensorType`` (or sequence/optional/map/sparse type) or ``None`` when
    unknown; ``const`` holds the tensor of an initializer.
    """

    __slots__ = ("name", "type", "producer", "index", "graph", "const", "doc_string",
                 "metadata_props", "_uses", "_present", "__weakref__")

    def __init__(self, name: str = "", type=None, *, const: Tensor | None = None):
        self.name, self.type, self.const = name, type, const
        self.producer: Node | None = None
        self.index = 0
        self.graph: Graph | None = None
        self.doc_string = ""
        self.metadata_props: dict[str, str] = {}
        self._uses: dict[tuple[Node, int], None] = {}
        self._present: tuple[str, ...] = ()

    def uses(self) -> list[tuple[Node, int]]:
        """``(node, input_index)`` pairs that read this value, in the order they were added."""
        return list(self._uses)

    @property
    def is_initializer(self) -> bool:
        return self.const is not None

    def owning_graph(self) -> Graph | None:
        return self.producer.graph if self.producer is not None else self.graph

    def is_graph_output(self) -> bool:
        g = self.owning_graph()
        return g is not None and any(o is self for o in g.outputs)

    def replace_all_uses_with(self, other: Value, *, graph_outputs: bool = True) -> None:
        """Point every reader of ``self`` (and the graph outputs, unless told not) at ``other``."""
        if other is self:
            return
        for node, i in list(self._uses):
            node.set_input(i, other)
        if graph_outputs:
            g = self.owning_graph()
            if g is not None:
                g.outputs[:] = [other if o is self else o for o in g.outputs]

    @property
    def shape(self):
        return getattr(self.type, "shape", None)

    @property
    def dtype(self):
        return getattr(self.type, "dtype", None)

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {self.type})"


class Node:
    """One ONNX op application. Outputs are created with the node and owned by it."""

    def __init__(self, op_type: str, inputs: Sequence[Value | None] = (),
                 attributes: dict[str, Any] | Iterable[Attribute] | None = None, *,
                 domain: str = "", name: str = "", num_outputs: int = 1,
                 outputs: Sequence[str] | None = None, overload: str = "",
                 doc_string: str = ""):
        self.op_type, self.domain, self.name, self.overload = op_type, domain, name, overload
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}
        self.graph: Graph | None = None
        self.attributes: dict[str, Attribute] = {}
        if isinstance(attributes, dict):
            for k, v in attributes.items():
                self.attributes[k] = v if isinstance(v, Attribute) else Attribute.infer(k, v)
        elif attributes is not None:
            for a in attributes:
                self.attributes[a.name] = a
        self._inputs: list[Value | None] = []
        for v in inputs:
            self._inputs.append(v)
            if v is not None:
                v._uses[(self, len(self._inputs) - 1)] = None
        names = list(outputs) if outputs is not None else [""] * num_outputs
        self.outputs: list[Value] = []
        for i, n in enumerate(names):
            out = Value(n)
            out.producer, out.index = self, i
            self.outputs.append(out)

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        return tuple(self._inputs)

    def set_input(self, index: int, value: Value | None) -> None:
        old = self._inputs[index]
        if old is not None:
            old._uses.pop((self, index), None)
        self._inputs[index] = value
        if value is not None:
            value._uses[(self, index)] = None

    def append_input(self, value: Value | None) -> None:
        self._inputs.append(None)
        self.set_input(len(self._inputs) - 1, value)

    def resize_inputs(self, count: int) -> None:
        """Drop trailing inputs (releasing their uses) or pad with missing ones."""
        while len(self._inputs) > count:
            self.set_input(len(self._inputs) - 1, None)
            self._inputs.pop()
        while len(self._inputs) < count:
            self._inputs.append(None)

    def detach(self) -> None:
        """Release every input use (the node is being deleted)."""
        for i in range(len(self._inputs)):
            self.set_input(i, None)

    def attr(self, name: str, default: Any = None) -> Any:
        a = self.attributes.get(name)
        return default if a is None else a.value

    def subgraphs(self) -> Iterator[Graph]:
        for a in self.attributes.values():
            if a.type is AttrType.GRAPH and a.value is not None:
                yield a.value
            elif a.type is AttrType.GRAPHS:
                yield from a.value

    def __repr__(self) -> str:
        return f"Node({self.op_type}, name={self.name!r})"


class Graph:
    """An ordered list of nodes with inputs, outputs and initializers.

    A graph used as an If/Loop/Scan body has ``parent`` set to the node that owns it; its nodes
    may read values of enclosing graphs directly (outer-scope references).
    """

    def __init__(self, name: str = "", *, doc_string: str = ""):
        self.name, self.doc_string = name, doc_string
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.initializers: dict[str, Value] = {}
        self.sparse_initializers: dict[str, Value] = {}
        self.value_info: list[Value] = []
        self.metadata_props: dict[str, str] = {}
        self.quantization_annotation: list = []   # kept as protos: carried, not interpreted
        self.parent: Node | None = None
        self._nodes: list[Node] = []

    # -- reading
    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    def all_nodes(self) -> Iterator[Node]:
        """Every node, subgraph nodes included (depth first)."""
        for node in list(self._nodes):
            yield node
            for sub in node.subgraphs():
                yield from sub.all_nodes()

    # -- building
    def add_input(self, name: str, type=None) -> Value:
        v = Value(name, type)
        v.graph = self
        self.inputs.append(v)
        return v

    def add_initializer(self, name: str, tensor: Tensor, *, as_input: bool = False) -> Value:
        if name in self.initializers:
            raise GraphError(f"graph {self.name!r}: initializer {name!r} defined twice")
        from onyx.ir.types import TensorType
        v = Value(name, TensorType(tensor.dtype, tensor.shape), const=tensor)
        v.graph = self
        self.initializers[name] = v
        if as_input:
            self.inputs.append(v)
        return v

    def append(self, node: Node) -> Node:
        self._adopt(node)
        self._nodes.append(node)
        return node

    def extend(self, nodes: Iterable[Node]) -> None:
        for n in nodes:
            self.append(n)

    def insert_before(self, anchor: Node, nodes: Node | Sequence[Node]) -> None:
        self._insert(self._position(anchor), nodes)

    def insert_after(self, anchor: Node, nodes: Node | Sequence[Node]) -> None:
        self._insert(self._position(anchor) + 1, nodes)

    def remove(self, node: Node, *, safe: bool = True) -> None:
        """Remove ``node``; with ``safe`` its outputs must be unused and not graph outputs."""
        if safe:
            for out in node.outputs:
                if out._uses or out.is_graph_output():
                    users = ", ".join(repr(u.name or u.op_type) for u, _ in out.uses())
                    raise GraphError(f"cannot remove {node.op_type} {node.name!r}: output "
                                     f"{out.name!r} is still used by {users or 'graph outputs'}")
        self._nodes.pop(self._position(node))
        node.detach()
        node.graph = None

    def sort(self) -> None:
        """Reorder nodes topologically (stable: keeps the current order where it is legal)."""
        from onyx.ir.order import topological_order
        self._nodes = topological_order(self)

    # -- internals
    def _position(self, node: Node) -> int:
        if node.graph is self:
            try:
                return self._nodes.index(node)  # identity comparison, done in C
            except ValueError:
                pass
        raise GraphError(f"{node.op_type} {node.name!r} is not in graph {self.name!r}")

    def _insert(self, pos: int, nodes: Node | Sequence[Node]) -> None:
        nodes = [nodes] if isinstance(nodes, Node) else list(nodes)
        for n in nodes:
            self._adopt(n)
        self._nodes[pos:pos] = nodes

    def _adopt(self, node: Node) -> None:
        if node.graph is not None:
            raise GraphError(f"{node.op_type} {node.name!r} already belongs to graph "
                             f"{node.graph.name!r}")
        node.graph = self
        for sub in node.subgraphs():
            sub.parent = node

    def verify(self) -> None:
        """Check SSA, topological order, use-def links and types; raise GraphError."""
        from onyx.ir.verify import verify_graph
        verify_graph(self)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self._nodes)} nodes)"


class Function:
    """A model-local function (``FunctionProto``): a body graph plus attribute parameters."""

    def __init__(self, domain: str, name: str, graph: Graph, *, overload: str = "",
                 attributes: Sequence[str] = (), attribute_defaults: dict | None = None,
                 opset_imports: dict[str, int] | None = None, doc_string: str = ""):
        self.domain, self.name, self.overload, self.graph = domain, name, overload, graph
        self.attributes = list(attributes)
        self.attribute_defaults: dict[str, Attribute] = dict(attribute_defaults or {})
        self.opset_imports = dict(opset_imports or {})
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.domain, self.name, self.overload)

    def __repr__(self) -> str:
        return f"Function({self.domain}::{self.name})"


class Model:
    """A graph with its opset imports, metadata and local functions."""

    def __init__(self, graph: Graph, *, opset_imports: dict[str, int] | None = None,
                 ir_version: int = 10, producer_name: str = "onyx", producer_version: str = "",
                 domain: str = "", model_version: int = 0, doc_string: str = ""):
        self.graph = graph
        self.opset_imports: dict[str, int] = dict(opset_imports or {"": 21})
        self.ir_version, self.producer_name = ir_version, producer_name
        self.producer_version, self.domain = producer_version, domain
        self.model_version, self.doc_string = model_version, doc_string
        self.metadata_props: dict[str, str] = {}
        self.functions: dict[tuple[str, str, str], Function] = {}
        self.training_info: list = []   # TrainingInfoProto, carried as is
        self.configuration: list = []   # DeviceConfigurationProto, carried as is
        self.base_dir: str | None = None

    @property
    def opset(self) -> int:
        """The default-domain opset version."""
        return self.opset_imports.get("", self.opset_imports.get("ai.onnx", 1))

    def add_function(self, function: Function) -> None:
        self.functions[function.key] = function

    def to_onnx(self):
        from onyx.ir.serde import to_onnx
        return to_onnx(self)

    def __repr__(self) -> str:
        return f"Model(opset={self.opset_imports}, graph={self.graph!r})"

"""ONNX protobuf <-> IR, lossless: everything a ``ModelProto`` holds comes back out.

``from_onnx(proto)`` builds use-def links (outer-scope references of subgraphs included) and
rejects graphs that use a value before it is defined; ``to_onnx(model)`` writes it back.
"""

from __future__ import annotations

import onnx

from onyx.ir import limits
from onyx.ir.core import Attribute, AttrType, Function, Graph, Model, Node, Value
from onyx.ir.errors import GraphError, LimitError, ModelError
from onyx.ir.tensor import SparseTensor, Tensor, confined_path
from onyx.ir.typeproto import type_from_proto, type_to_proto
from onyx.ir.types import TensorType

# ----------------------------------------------------------------------------- import

# proto2 keeps field presence: a field set to its default ("" or 0) is written in the file. These
# are remembered per object and set again on export, so a round trip is byte-exact.
_PRESENCE = {
    "node": ("name", "domain", "doc_string", "overload"),
    "graph": ("name", "doc_string"),
    "model": ("producer_name", "producer_version", "domain", "model_version", "doc_string"),
    "value": ("doc_string",),
    "attr": ("doc_string", "ref_attr_name"),
    "function": ("doc_string", "overload"),
}


def _present_defaults(msg, kind: str) -> tuple[str, ...]:
    return tuple(f for f in _PRESENCE[kind] if msg.HasField(f) and not getattr(msg, f))


def _restore_presence(msg, obj) -> None:
    for f in getattr(obj, "_present", ()):
        if not getattr(msg, f):
            setattr(msg, f, getattr(msg, f))


class _Scope:
    """Name lookup through nested graphs: inner definitions first, then enclosing graphs."""

    def __init__(self, parent: _Scope | None = None):
        self.names: dict[str, Value] = {}
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1

    def lookup(self, name: str) -> Value | None:
        scope = self
        while scope is not None:
            v = scope.names.get(name)
            if v is not None:
                return v
            scope = scope.parent
        return None


def from_onnx(proto: onnx.ModelProto, base_dir: str | None = None) -> Model:
    """Build a ``Model`` from a ``ModelProto``; ``base_dir`` is where external data lives."""
    if not isinstance(proto, onnx.ModelProto):
        raise ModelError(f"expected an onnx.ModelProto, got {type(proto).__name__}")
    if not proto.HasField("graph"):
        raise ModelError("model has no graph")
    opsets = {o.domain: o.version for o in proto.opset_import}
    graph = _graph_from_proto(proto.graph, _Scope(), base_dir)
    model = Model(graph, opset_imports=opsets, ir_version=proto.ir_version,
                  producer_name=proto.producer_name, producer_version=proto.producer_version,
                  domain=proto.domain, model_version=proto.model_version,
                  doc_string=proto.doc_string)
    model.opset_imports = opsets  # keep an empty opset list empty
    model._present = _present_defaults(proto, "model")
    # proto2 keeps presence: writing `domain: ""` back only where the file had it is lossless
    model._explicit_empty_domain = any(o.HasField("domain") and not o.domain
                                       for o in proto.opset_import)
    model.metadata_props = {p.key: p.value for p in proto.metadata_props}
    model.base_dir = base_dir
    for fp in proto.functions:
        fn = _function_from_proto(fp, base_dir)
        if fn.key in model.functions:
            raise ModelError(f"function {fn.domain}::{fn.name} is defined twice")
        model.add_function(fn)
    model.training_info = list(proto.training_info)
    model.configuration = list(proto.configuration)
    return model


def _graph_from_proto(gp: onnx.GraphProto, scope: _Scope, base_dir, *,
                      input_names: list[str] | None = None) -> Graph:
    if scope.depth > limits.max_nesting_depth:
        raise LimitError(f"subgraphs nested deeper than {limits.max_nesting_depth} levels "
                         f"(graph {gp.name!r})")
    g = Graph(gp.name, doc_string=gp.doc_string)
    g._present = _present_defaults(gp, "graph")
    g.metadata_props = {p.key: p.value for p in gp.metadata_props}
    g.quantization_annotation = list(gp.quantization_annotation)
    local = scope

    def define(v: Value, name: str) -> None:
        if name in local.names:
            raise GraphError(f"graph {gp.name!r}: value {name!r} is defined twice")
        local.names[name] = v

    for tp in gp.initializer:
        if tp.name in g.initializers:
            raise GraphError(f"graph {gp.name!r}: initializer {tp.name!r} defined twice")
        if tp.data_location == onnx.TensorProto.EXTERNAL and base_dir is not None:
            location = next((e.value for e in tp.external_data if e.key == "location"), "")
            confined_path(base_dir, location, tp.name)  # refuse escapes before anything is read
        v = Value(tp.name, TensorType(_dtype_of(tp), tuple(int(d) for d in tp.dims)),
                  const=Tensor(proto=tp, base_dir=base_dir))
        v.graph = g
        g.initializers[tp.name] = v
    for sp in gp.sparse_initializer:
        name = sp.values.name
        v = Value(name, TensorType(_dtype_of(sp.values), tuple(int(d) for d in sp.dims)),
                  const=SparseTensor(sp, base_dir))
        v.graph = g
        g.sparse_initializers[name] = v
    for vi in gp.input:
        v = g.initializers.get(vi.name)
        if v is None:
            v = Value(vi.name)
            v.graph = g
        _fill_value_info(v, vi)
        g.inputs.append(v)
        define(v, vi.name)
    for name, v in list(g.initializers.items()) + list(g.sparse_initializers.items()):
        if name not in local.names:
            define(v, name)
    produced_later = {o for n in gp.node for o in n.output if o}
    for np_ in gp.node:
        node = _node_from_proto(np_, local, base_dir, produced_later, gp.name)
        g.append(node)
        for out in node.outputs:
            if out.name:
                define(out, out.name)
    for vi in gp.value_info:
        v = local.names.get(vi.name) or scope.lookup(vi.name)
        if v is None:
            v = Value(vi.name)  # describes a name nothing defines: carried as is
        _fill_value_info(v, vi)
        g.value_info.append(v)
    for vi in gp.output:
        v = local.lookup(vi.name)
        if v is None:
            raise GraphError(f"graph {gp.name!r}: output {vi.name!r} is never defined")
        _fill_value_info(v, vi)
        g.outputs.append(v)
    return g


def _dtype_of(tp: onnx.TensorProto):
    from onyx.ir.dtypes import DType
    if tp.data_type not in DType._value2member_map_:
        raise ModelError(f"tensor {tp.name!r} has unknown data type {tp.data_type}")
    return DType(tp.data_type)


def _fill_value_info(v: Value, vi: onnx.ValueInfoProto) -> None:
    v._present = _present_defaults(vi, "value")
    if vi.HasField("type"):
        t = type_from_proto(vi.type)
        if t is not None:
            v.type = t
    if vi.doc_string:
        v.doc_string = vi.doc_string
    if vi.metadata_props:
        v.metadata_props = {p.key: p.value for p in vi.metadata_props}


def _node_from_proto(np_: onnx.NodeProto, scope: _Scope, base_dir, later: set[str],
                     graph_name: str) -> Node:
    inputs = []
    for name in np_.input:
        if not name:
            inputs.append(None)
            continue
        v = scope.lookup(name)
        if v is None:
            what = "before it is defined (a cycle or a missing sort)" if name in later \
                else "but nothing defines it"
            raise GraphError(f"graph {graph_name!r}: {np_.op_type} node {np_.name!r} reads "
                             f"{name!r} {what}")
        inputs.append(v)
    attrs = [_attr_from_proto(a, scope, base_dir) for a in np_.attribute]
    node = Node(np_.op_type, inputs, attrs, domain=np_.domain, name=np_.name,
                outputs=list(np_.output), overload=np_.overload, doc_string=np_.doc_string)
    node.metadata_props = {p.key: p.value for p in np_.metadata_props}
    node._present = _present_defaults(np_, "node")
    return node


def _attr_from_proto(ap: onnx.AttributeProto, scope: _Scope, base_dir) -> Attribute:
    t = AttrType(ap.type) if ap.type in AttrType._value2member_map_ else AttrType.UNDEFINED
    if t is AttrType.UNDEFINED and not ap.ref_attr_name:
        t = _guess_attr_type(ap)
    value = None
    if t is AttrType.FLOAT:
        value = ap.f
    elif t is AttrType.INT:
        value = ap.i
    elif t is AttrType.STRING:
        value = _str(ap.s)
    elif t is AttrType.TENSOR:
        value = Tensor(proto=ap.t, base_dir=base_dir)
    elif t is AttrType.GRAPH:
        value = _graph_from_proto(ap.g, _Scope(scope), base_dir)
    elif t is AttrType.SPARSE_TENSOR:
        value = ap.sparse_tensor
    elif t is AttrType.TYPE_PROTO:
        value = ap.tp
    elif t is AttrType.FLOATS:
        value = list(ap.floats)
    elif t is AttrType.INTS:
        value = list(ap.ints)
    elif t is AttrType.STRINGS:
        value = [_str(s) for s in ap.strings]
    elif t is AttrType.TENSORS:
        value = [Tensor(proto=x, base_dir=base_dir) for x in ap.tensors]
    elif t is AttrType.GRAPHS:
        value = [_graph_from_proto(x, _Scope(scope), base_dir) for x in ap.graphs]
    elif t is AttrType.SPARSE_TENSORS:
        value = list(ap.sparse_tensors)
    elif t is AttrType.TYPE_PROTOS:
        value = list(ap.type_protos)
    attr = Attribute(ap.name, t, value, ap.ref_attr_name, ap.doc_string)
    attr._present = _present_defaults(ap, "attr")
    return attr


def _guess_attr_type(ap: onnx.AttributeProto) -> AttrType:
    # Very old models leave ``type`` unset; the filled field tells what it is.
    for field, t in (("floats", AttrType.FLOATS), ("ints", AttrType.INTS),
                     ("strings", AttrType.STRINGS), ("tensors", AttrType.TENSORS),
                     ("graphs", AttrType.GRAPHS)):
        if len(getattr(ap, field)):
            return t
    for field, t in (("t", AttrType.TENSOR), ("g", AttrType.GRAPH)):
        if ap.HasField(field):
            return t
    if ap.HasField("s"):
        return AttrType.STRING
    if ap.HasField("i"):
        return AttrType.INT
    if ap.HasField("f"):
        return AttrType.FLOAT
    return AttrType.UNDEFINED


def _str(b: bytes) -> str | bytes:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _function_from_proto(fp: onnx.FunctionProto, base_dir) -> Function:
    scope = _Scope()
    g = Graph(fp.name)
    for name in fp.input:
        v = Value(name)
        v.graph = g
        g.inputs.append(v)
        scope.names[name] = v
    later = {o for n in fp.node for o in n.output if o}
    for np_ in fp.node:
        node = _node_from_proto(np_, scope, base_dir, later, f"function {fp.name}")
        g.append(node)
        for out in node.outputs:
            if out.name:
                scope.names[out.name] = out
    for vi in fp.value_info:
        v = scope.names.get(vi.name) or Value(vi.name)
        _fill_value_info(v, vi)
        g.value_info.append(v)
    for name in fp.output:
        v = scope.names.get(name)
        if v is None:
            raise GraphError(f"function {fp.domain}::{fp.name}: output {name!r} is never "
                             f"defined")
        g.outputs.append(v)
    defaults = {a.name: _attr_from_proto(a, scope, base_dir) for a in fp.attribute_proto}
    fn = Function(fp.domain, fp.name, g, overload=fp.overload, attributes=list(fp.attribute),
                  attribute_defaults=defaults,
                  opset_imports={o.domain: o.version for o in fp.opset_import},
                  doc_string=fp.doc_string)
    fn.metadata_props = {p.key: p.value for p in fp.metadata_props}
    fn._present = _present_defaults(fp, "function")
    fn._explicit_empty_domain = any(o.HasField("domain") and not o.domain
                                    for o in fp.opset_import)
    return fn


# ----------------------------------------------------------------------------- export


class _Names:
    """Assigns each ``Value`` one unique name at export; keeps existing names when unique."""

    def __init__(self):
        self.of: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0
        self.external: dict[int, onnx.TensorProto] = {}  # id(Tensor) -> external-data stub

    def name(self, v: Value | None) -> str:
        if v is None:
            return ""
        n = self.of.get(id(v))
        if n is not None:
            return n
        n = v.name
        if not n or n in self.taken:
            base = n or "v"
            while True:
                self.counter += 1
                n = f"{base}__{self.counter}"
                if n not in self.taken:
                    break
            v.name = n
        self.taken.add(n)
        self.of[id(v)] = n
        return n

    def output(self, v: Value) -> str:
        if not v.name and not v._uses and not v.is_graph_output():
            return ""  # an optional output nobody reads stays unnamed
        return self.name(v)


def to_onnx(model: Model, *, external: dict[int, onnx.TensorProto] | None = None
            ) -> onnx.ModelProto:
    """Write ``model`` as a ``ModelProto``.

    ``external`` maps ``id(tensor)`` to a stub ``TensorProto`` that points at external data;
    ``onyx.ir.save`` uses it so a model over 2 GB never exists as one protobuf message.
    """
    names = _Names()
    names.external = external or {}
    mp = onnx.ModelProto()
    mp.ir_version = model.ir_version
    explicit = getattr(model, "_explicit_empty_domain", False)
    for dom, ver in model.opset_imports.items():
        _opset(mp.opset_import.add(), dom, ver, explicit)
    if model.producer_name:
        mp.producer_name = model.producer_name
    if model.producer_version:
        mp.producer_version = model.producer_version
    if model.domain:
        mp.domain = model.domain
    if model.model_version:
        mp.model_version = model.model_version
    if model.doc_string:
        mp.doc_string = model.doc_string
    _props(mp.metadata_props, model.metadata_props)
    _restore_presence(mp, model)
    mp.graph.CopyFrom(graph_to_proto(model.graph, names))
    for fn in model.functions.values():
        mp.functions.append(_function_to_proto(fn))
    mp.training_info.extend(model.training_info)
    mp.configuration.extend(model.configuration)
    return mp


def _opset(entry, domain: str, version: int, explicit: bool = False) -> None:
    if domain or explicit:
        entry.domain = domain
    entry.version = version


def _props(field, props: dict[str, str]) -> None:
    for k, v in props.items():
        field.add(key=k, value=v)


def _value_info(v: Value, name: str) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto(name=name)
    if v.type is not None:
        type_to_proto(v.type, vi.type)
    if v.doc_string:
        vi.doc_string = v.doc_string
    _props(vi.metadata_props, v.metadata_props)
    _restore_presence(vi, v)
    return vi


def graph_to_proto(g: Graph, names: _Names) -> onnx.GraphProto:
    gp = onnx.GraphProto()
    if g.name:
        gp.name = g.name
    if g.doc_string:
        gp.doc_string = g.doc_string
    for v in g.initializers.values():
        stub = names.external.get(id(v.const))
        if stub is not None:
            stub.name = names.name(v)
            gp.initializer.append(stub)
        else:
            gp.initializer.append(v.const.to_proto(names.name(v)))
    for v in g.sparse_initializers.values():
        names.name(v)
        gp.sparse_initializer.append(v.const.proto)
    for v in g.inputs:
        gp.input.append(_value_info(v, names.name(v)))
    for node in g._nodes:
        gp.node.append(_node_to_proto(node, names))
    for v in g.outputs:
        gp.output.append(_value_info(v, names.name(v)))
    for v in g.value_info:
        gp.value_info.append(_value_info(v, names.name(v)))
    gp.quantization_annotation.extend(g.quantization_annotation)
    _props(gp.metadata_props, g.metadata_props)
    _restore_presence(gp, g)
    return gp


def _node_to_proto(node: Node, names: _Names) -> onnx.NodeProto:
    np_ = onnx.NodeProto(op_type=node.op_type)
    np_.input.extend(names.name(v) for v in node.inputs)
    np_.output.extend(names.output(v) for v in node.outputs)
    if node.name:
        np_.name = node.name
    if node.domain:
        np_.domain = node.domain
    if node.overload:
        np_.overload = node.overload
    if node.doc_string:
        np_.doc_string = node.doc_string
    for a in node.attributes.values():
        np_.attribute.append(attr_to_proto(a, names))
    _props(np_.metadata_props, node.metadata_props)
    _restore_presence(np_, node)
    return np_


def _bytes(s) -> bytes:
    return s if isinstance(s, bytes) else str(s).encode("utf-8")


def attr_to_proto(a: Attribute, names: _Names | None = None) -> onnx.AttributeProto:
    ap = onnx.AttributeProto(name=a.name)
    if a.type is not AttrType.UNDEFINED:
        ap.type = int(a.type)
    if a.doc_string:
        ap.doc_string = a.doc_string
    _restore_presence(ap, a)
    if a.ref_attr_name:
        ap.ref_attr_name = a.ref_attr_name
        return ap
    t, v = a.type, a.value
    names = names or _Names()
    if t is AttrType.FLOAT:
        ap.f = v
    elif t is AttrType.INT:
        ap.i = int(v)
    elif t is AttrType.STRING:
        ap.s = _bytes(v)
    elif t is AttrType.TENSOR:
        ap.t.CopyFrom(v.to_proto())
    elif t is AttrType.GRAPH:
        ap.g.CopyFrom(graph_to_proto(v, names))
    elif t is AttrType.SPARSE_TENSOR:
        ap.sparse_tensor.CopyFrom(v)
    elif t is AttrType.TYPE_PROTO:
        ap.tp.CopyFrom(v)
    elif t is AttrType.FLOATS:
        ap.floats.extend(v)
    elif t is AttrType.INTS:
        ap.ints.extend(int(x) for x in v)
    elif t is AttrType.STRINGS:
        ap.strings.extend(_bytes(s) for s in v)
    elif t is AttrType.TENSORS:
        ap.tensors.extend(x.to_proto() for x in v)
    elif t is AttrType.GRAPHS:
        ap.graphs.extend(graph_to_proto(x, names) for x in v)
    elif t is AttrType.SPARSE_TENSORS:
        ap.sparse_tensors.extend(v)
    elif t is AttrType.TYPE_PROTOS:
        ap.type_protos.extend(v)
    return ap


def _function_to_proto(fn: Function) -> onnx.FunctionProto:
    fp = onnx.FunctionProto(domain=fn.domain, name=fn.name)
    if fn.overload:
        fp.overload = fn.overload
    if fn.doc_string:
        fp.doc_string = fn.doc_string
    names = _Names()
    fp.input.extend(names.name(v) for v in fn.graph.inputs)
    for node in fn.graph._nodes:
        fp.node.append(_node_to_proto(node, names))
    fp.output.extend(names.name(v) for v in fn.graph.outputs)
    fp.attribute.extend(fn.attributes)
    for a in fn.attribute_defaults.values():
        fp.attribute_proto.append(attr_to_proto(a, names))
    explicit = getattr(fn, "_explicit_empty_domain", False)
    for dom, ver in fn.opset_imports.items():
        _opset(fp.opset_import.add(), dom, ver, explicit)
    for v in fn.graph.value_info:
        fp.value_info.append(_value_info(v, names.name(v)))
    _props(fp.metadata_props, fn.metadata_props)
    _restore_presence(fp, fn)
    return fp

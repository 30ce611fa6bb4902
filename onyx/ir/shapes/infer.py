"""``infer_shapes``: walk a model's nodes in order and type every output the rules can.

Types are first gathered in an environment (so a Loop body can be tried once before its final
pass, and a function body can be typed once per call without touching the shared function),
then merged into ``Value.type``: a declared type is only ever made more precise, never
replaced by a vaguer one. Newly typed intermediates are listed in their graph's ``value_info``.

    >>> from onyx import ir
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, ("batch", 4)))
    >>> y = g.append(ir.Node("Relu", [x], outputs=["y"])).outputs[0]
    >>> g.outputs.append(y)
    >>> infer_shapes(ir.Model(g))
    1
    >>> str(y.type)
    'f32[batch,4]'
"""

from __future__ import annotations

from onyx.ir import limits
from onyx.ir.core import Function, Graph, Model, Node, Value
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import merge_shapes
from onyx.ir.shapes.registry import InferenceContext, lookup, normalize_domain
from onyx.ir.tensor import Tensor
from onyx.ir.types import MapType, OptionalType, SequenceType, SparseTensorType, TensorType

# A broken rule or a malformed attribute must not take inference down: these mean "unknown"
# (or, with strict=True, a ShapeError that names the node).
_RULE_ERRORS = (ShapeError, ValueError, TypeError, IndexError, KeyError, ArithmeticError)


def infer_shapes(model: Model, *, strict: bool = False) -> int:
    """Type every value the shape rules can; return how many values got a (better) type.

    ``strict=True`` raises ``ShapeError`` (naming node, op and shapes) on an inconsistency;
    otherwise what cannot be inferred stays as it was (unknown stays ``None``).
    """
    engine = _Engine(model, strict)
    env = _Env()
    engine.run_graph(model.graph, env, dict(model.opset_imports), None)
    return _commit(env)


def infer_node(node: Node, opsets: dict[str, int], model: Model | None = None) -> None:
    """Type the outputs of one node from its inputs' types (used while a graph is being built,
    e.g. by ``grad_graph``); values already typed are only made more precise."""
    engine = _Engine(model if model is not None else _NO_MODEL, strict=False)
    env = _Env()
    engine.infer_node(node, env, dict(opsets), None)
    for out in node.outputs:
        t = env.types.get(out)
        if t is not None:
            out.type = t


class _NoModel:
    functions: dict = {}


_NO_MODEL = _NoModel()


class _Env:
    """Types and known values gathered so far; a child sees its parent's entries."""

    def __init__(self, parent: _Env | None = None):
        self.parent = parent
        self.types: dict[Value, object] = {}
        self.values: dict[Value, object] = {}

    def type_of(self, v: Value):
        env = self
        while env is not None:
            if v in env.types:
                return env.types[v]
            env = env.parent
        return v.type

    def value_of(self, v: Value):
        env = self
        while env is not None:
            if v in env.values:
                return env.values[v]
            env = env.parent
        return v.const if isinstance(v.const, Tensor) else None

    def set_value(self, v: Value, data) -> None:
        self.values[v] = data

    def absorb(self, child: _Env) -> None:
        self.types.update(child.types)
        self.values.update(child.values)


class _Engine:
    def __init__(self, model: Model, strict: bool):
        self.model, self.strict = model, strict
        self.depth = 0

    def run_graph(self, graph: Graph, env: _Env, opsets: dict[str, int], bindings) -> None:
        for node in graph:
            self.infer_node(node, env, opsets, bindings)

    def infer_node(self, node: Node, env: _Env, opsets: dict[str, int], bindings) -> None:
        function = self.model.functions.get((node.domain, node.op_type, node.overload))
        domain = normalize_domain(node.domain)
        opset = opsets.get(domain, opsets.get("ai.onnx") if domain == "" else None)
        try:
            if function is not None:
                result = self.call_function(function, node, env, opsets, bindings)
            else:
                entry = None if opset is None else lookup(node.op_type, domain, opset)
                if entry is None:
                    return
                result = entry.fn(InferenceContext(node, opset, env, self, opsets, bindings))
        except _RULE_ERRORS as exc:
            if self.strict:
                raise ShapeError(f"{_describe(node, opset)}: {exc}") from exc
            return
        for out, t in zip(node.outputs, _as_list(result, len(node.outputs)), strict=True):
            if t is None:
                continue
            try:
                env.types[out] = merge_types(env.type_of(out), t, out.name)
            except ShapeError as exc:  # the declared type stays
                if self.strict:
                    raise ShapeError(f"{_describe(node, opset)}: {exc}") from exc

    def infer_body(self, graph: Graph, input_types: list, env: _Env, opsets: dict[str, int],
                   bindings, *, keep: bool = True, dead: bool = False) -> list:
        """Type a subgraph with its inputs bound to ``input_types``; its output types.

        ``keep=False`` tries the body without recording anything (a Loop's first pass);
        ``dead=True`` marks a branch that never runs: its inconsistencies are not errors.
        """
        child = _Env(env)
        self._enter(graph.name)
        strict = self.strict
        self.strict = strict and not dead
        try:
            for v, t in zip(graph.inputs, input_types, strict=False):
                if t is not None:
                    child.types[v] = self._bind(v.type, t, v.name)
            self.run_graph(graph, child, opsets, bindings)
        finally:
            self.depth -= 1
            self.strict = strict
        if keep:
            env.absorb(child)
        return [child.type_of(o) for o in graph.outputs]

    def call_function(self, fn: Function, node: Node, env: _Env, opsets: dict[str, int],
                      bindings) -> list:
        """Type one call of a model-local function; the shared body is left untouched."""
        child = _Env()
        for v, arg in zip(fn.graph.inputs, node.inputs, strict=False):
            if arg is not None:
                child.types[v] = env.type_of(arg)
                data = env.value_of(arg)
                if data is not None:
                    child.values[v] = data
        attrs = dict(fn.attribute_defaults)
        for name, a in node.attributes.items():
            if a.ref_attr_name:
                a = (bindings or {}).get(a.ref_attr_name)
            if a is not None:
                attrs[name] = a
        inner = dict(opsets)
        inner.update(fn.opset_imports)
        self._enter(f"function {fn.name}")
        try:
            self.run_graph(fn.graph, child, inner, attrs)
        finally:
            self.depth -= 1
        for out, res in zip(node.outputs, fn.graph.outputs, strict=False):
            data = child.value_of(res)
            if data is not None and not isinstance(res.const, Tensor):
                env.set_value(out, data)
        return [child.type_of(o) for o in fn.graph.outputs]

    def _bind(self, declared, given, name: str):
        try:
            return merge_types(declared, given, name)
        except ShapeError:
            if self.strict:
                raise
            return declared

    def _enter(self, what: str) -> None:
        self.depth += 1
        if self.depth > limits.max_nesting_depth:
            self.depth -= 1
            raise ShapeError(f"{what}: subgraphs and function calls nested deeper than "
                             f"{limits.max_nesting_depth} levels")


def merge_types(old, new, name: str = ""):
    """Combine a known type with an inferred one; ``ShapeError`` if they contradict."""
    if old is None:
        return new
    if new is None:
        return old
    if isinstance(old, TensorType | SparseTensorType) and type(new) is type(old):
        if old.dtype != new.dtype:
            raise ShapeError(f"value {name!r} is declared {old} but computes {new}")
        shape = merge_shapes(old.shape, new.shape, f"value {name!r}: declared and inferred shapes")
        if shape == old.shape:
            return old
        dens = old.dim_denotations if old.shape is not None else None
        return type(old)(old.dtype, shape, old.denotation, dens)
    if isinstance(old, SequenceType | OptionalType) and type(new) is type(old):
        elem = merge_types(old.elem, new.elem, name)
        return old if elem == old.elem else type(old)(elem, old.denotation)
    if isinstance(old, MapType) and isinstance(new, MapType) and old.key == new.key:
        return old
    raise ShapeError(f"value {name!r} is declared {old} but computes {new}")


def _as_list(result, count: int) -> list:
    if result is None:
        return [None] * count
    if not isinstance(result, list | tuple):
        result = [result]
    out = list(result)[:count]
    return out + [None] * (count - len(out))


def _describe(node: Node, opset: int | None) -> str:
    name = f" {node.name!r}" if node.name else ""
    out = next((o.name for o in node.outputs if o.name), "")
    where = f", output {out!r}" if out else ""
    dom = f"{node.domain}::" if node.domain else ""
    return f"{dom}{node.op_type} node{name} (opset {opset}{where})"


def _commit(env: _Env) -> int:
    """Write the gathered types into the IR; list new intermediates in ``value_info``."""
    changed = 0
    listed: dict[int, set[int]] = {}
    for v, t in env.types.items():
        if t is None or t == v.type or not v.name and not v.uses():
            continue  # unchanged, or an optional output nobody reads (it has no ONNX name)
        v.type = t
        changed += 1
        g = v.producer.graph if v.producer is not None else None
        if g is None or v.is_graph_output():
            continue
        ids = listed.get(id(g))
        if ids is None:
            ids = listed[id(g)] = {id(x) for x in g.value_info}
        if id(v) not in ids:
            g.value_info.append(v)
            ids.add(id(v))
    return changed

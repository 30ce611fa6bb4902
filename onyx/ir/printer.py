"""A readable text form of the IR: one line per node with outputs, op, inputs, attributes,
and each value's dtype and shape.

    graph main (x: f32[N,784]) -> (y: f32[N,10])
      init W: f32[784,10]
      %h: f32[N,10] = MatMul(%x, %W)
      %y: f32[N,10] = Relu(%h)
"""

from __future__ import annotations

import numpy as np

from onyx.ir.core import Attribute, AttrType, Graph, Model, Node, Value


def format_model(model: Model) -> str:
    opsets = ", ".join(f"{d or 'ai.onnx'}={v}" for d, v in model.opset_imports.items())
    head = [f"model ir_version={model.ir_version} opsets[{opsets}]"]
    if model.producer_name:
        head.append(f"  producer: {model.producer_name} {model.producer_version}".rstrip())
    body = format_graph(model.graph, indent="")
    funcs = [_format_function(f) for f in model.functions.values()]
    return "\n".join(head + [body] + funcs) + "\n"


def _sig(v: Value) -> str:
    return f"{v.name}: {v.type}" if v.type is not None else v.name


def format_graph(graph: Graph, indent: str = "") -> str:
    ins = ", ".join(_sig(v) for v in graph.inputs if v.const is None)
    outs = ", ".join(_sig(v) for v in graph.outputs)
    lines = [f"{indent}graph {graph.name or '<anonymous>'} ({ins}) -> ({outs})"]
    for name, v in graph.initializers.items():
        lines.append(f"{indent}  init {name}: {v.type}{_preview(v)}")
    for name, v in graph.sparse_initializers.items():
        lines.append(f"{indent}  init {name}: sparse {v.type}")
    for node in graph._nodes:
        lines.append(indent + "  " + format_node(node))
        for a in node.attributes.values():
            subs = [a.value] if a.type is AttrType.GRAPH else (
                a.value if a.type is AttrType.GRAPHS else [])
            for sub in subs:
                lines.append(f"{indent}    {a.name}:")
                lines.append(format_graph(sub, indent + "      "))
    return "\n".join(lines)


def _preview(v: Value) -> str:
    t = v.const
    if t is None or getattr(t, "is_external", False):
        return ""
    try:
        n = int(np.prod(t.shape)) if t.shape else 1
    except TypeError:
        return ""
    if n > 8:
        return ""
    try:
        return " = " + np.array2string(np.asarray(t.numpy()).reshape(-1), separator=",")
    except Exception:  # a malformed payload is reported when the tensor is used
        return ""


def format_node(node: Node) -> str:
    outs = ", ".join(f"%{o.name or '_'}: {o.type}" if o.type is not None else f"%{o.name or '_'}"
                     for o in node.outputs)
    ins = ", ".join("_" if v is None else f"%{v.name}" for v in node.inputs)
    op = f"{node.domain}::{node.op_type}" if node.domain else node.op_type
    attrs = [_format_attr(a) for a in node.attributes.values()
             if a.type not in (AttrType.GRAPH, AttrType.GRAPHS)]
    attr_text = f"  {{{', '.join(attrs)}}}" if attrs else ""
    name = f"  # {node.name}" if node.name else ""
    return f"{outs} = {op}({ins}){attr_text}{name}"


def _format_attr(a: Attribute) -> str:
    if a.ref_attr_name:
        return f"{a.name}=@{a.ref_attr_name}"
    v = a.value
    if a.type is AttrType.TENSOR:
        shape = list(v.shape)
        if int(np.prod(shape or [1])) <= 8 and not v.is_external:
            try:
                vals = np.asarray(v.numpy()).reshape(-1).tolist()
                return f"{a.name}={v.dtype.short}{shape}{vals}"
            except Exception:
                pass
        return f"{a.name}={v.dtype.short}{shape}"
    if a.type is AttrType.FLOAT:
        return f"{a.name}={v:g}"
    if a.type is AttrType.STRING:
        return f"{a.name}={v!r}"
    if a.type in (AttrType.INTS, AttrType.FLOATS, AttrType.STRINGS):
        vals = list(v)
        return f"{a.name}={vals if len(vals) <= 16 else vals[:16] + ['...']}"
    return f"{a.name}={v!r}"


def _format_function(fn) -> str:
    params = f" <{', '.join(fn.attributes)}>" if fn.attributes else ""
    head = f"function {fn.domain}::{fn.name}{params}"
    return head + "\n" + format_graph(fn.graph, "  ")

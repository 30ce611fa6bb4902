"""Deep copies of graphs, with optional substitution of ``@attr`` references (functions)."""

from __future__ import annotations

from onyx.ir.core import Attribute, AttrType, Graph, Node, Value


def clone_graph(graph: Graph, *, attr_values: dict[str, Attribute] | None = None,
                value_map: dict[Value, Value] | None = None) -> Graph:
    """Copy ``graph``. ``value_map`` maps outer values to use in place of the originals;
    ``attr_values`` resolves attributes that reference a function parameter."""
    vm: dict[Value, Value] = dict(value_map or {})
    g = Graph(graph.name, doc_string=graph.doc_string)
    g.metadata_props = dict(graph.metadata_props)
    for name, v in graph.initializers.items():
        nv = g.add_initializer(name, v.const)
        vm[v] = nv
    for v in graph.inputs:
        nv = vm.get(v)
        if nv is None or v.const is None:
            nv = g.add_input(v.name, v.type)
            vm[v] = nv
        else:
            g.inputs.append(nv)
    for node in graph._nodes:
        attrs = []
        for a in node.attributes.values():
            if a.ref_attr_name and attr_values is not None:
                if a.ref_attr_name not in attr_values:
                    continue  # the call omits it: the op's own default applies
                src = attr_values[a.ref_attr_name]
                attrs.append(Attribute(a.name, src.type, src.value))
                continue
            value = a.value
            if a.type is AttrType.GRAPH:
                value = clone_graph(value, attr_values=attr_values, value_map=vm)
            elif a.type is AttrType.GRAPHS:
                value = [clone_graph(x, attr_values=attr_values, value_map=vm) for x in value]
            attrs.append(Attribute(a.name, a.type, value, a.ref_attr_name, a.doc_string))
        inputs = [None if v is None else vm.get(v, v) for v in node.inputs]
        new = Node(node.op_type, inputs, attrs, domain=node.domain, name=node.name,
                   outputs=[o.name for o in node.outputs], overload=node.overload,
                   doc_string=node.doc_string)
        new.metadata_props = dict(node.metadata_props)
        for o, no in zip(node.outputs, new.outputs):
            no.type = o.type
            vm[o] = no
        g.append(new)
    g.outputs = [vm.get(v, v) for v in graph.outputs]
    g.value_info = [vm.get(v, v) for v in graph.value_info]
    return g

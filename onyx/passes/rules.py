"""Local rewrite rules: ``pattern`` / ``check`` / ``rewrite``, applied by ``RewritePass``.

    class MatMulAddToGemm(Rule):
        def pattern(self, op, a, b, c):
            return op.Add(op.MatMul(a, b), c)
        def check(self, ctx, a, b, c):
            if a.shape is None or len(a.shape) != 2:
                return fail("MatMul input is not 2-D")
            return ok()
        def rewrite(self, op, a, b, c):
            return op.Gemm(a, b, c)

The pattern's parameters are variables bound to the matched values (a missing trailing optional
input binds ``None``). Inner pattern nodes only match values read once, so a rewrite never
duplicates work. ``ctx.nodes`` lists the matched nodes (root first, then the pattern's nodes in
pre-order). A failed check's reason is kept in the pass notes.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from onyx.ir.core import Graph, Model, Node, Value
from onyx.ir.errors import GraphError
from onyx.ir.shapes import infer_node
from onyx.ir.tensor import Tensor
from onyx.passes.infra import NameScope, Pass, subgraphs_first

MAX_NOTES = 200


class Check:
    """The outcome of ``Rule.check``: truthy when the rewrite may go ahead."""
    __slots__ = ("reason",)

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __bool__(self) -> bool:
        return not self.reason


def ok() -> Check:
    return Check()


def fail(reason: str) -> Check:
    return Check(reason or "check failed")


class _Var:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _PatternNode:
    __slots__ = ("op_type", "domain", "inputs")

    def __init__(self, op_type: str, domain: str, inputs: Sequence):
        self.op_type, self.domain, self.inputs = op_type, domain, list(inputs)


class _PatternBuilder:
    """``op.Add(x, y)`` in a pattern: records the op and its inputs."""

    def __getattr__(self, op_type: str):
        def make(*inputs, _domain: str = "") -> _PatternNode:
            return _PatternNode(op_type, _normalize(_domain), inputs)
        return make


def _normalize(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


class Match:
    """What ``check`` sees: the model, the graph, the matched nodes and the opset."""

    def __init__(self, model: Model, graph: Graph):
        self.model, self.graph = model, graph
        self.nodes: list[Node] = []
        self.bindings: dict[str, Value | None] = {}

    @property
    def root(self) -> Node:
        return self.nodes[0]

    @property
    def opset(self) -> int:
        return self.model.opset


class RewriteBuilder:
    """``op.Gemm(a, b, c, transA=1)`` in a rewrite: builds nodes for the pass to insert."""

    def __init__(self, match: Match, names: NameScope, base: str):
        self.match, self.names, self.base = match, names, base
        self.nodes: list[Node] = []
        self.initializers: list[Value] = []

    def __getattr__(self, op_type: str):
        if op_type.startswith("_"):
            raise AttributeError(op_type)

        def make(*inputs, _domain: str = "", _outputs: int = 1, **attrs):
            outs = [self.names.fresh(self.base) for _ in range(_outputs)]
            inputs = list(inputs)
            while inputs and inputs[-1] is None:  # a missing trailing input is left out
                inputs.pop()
            node = Node(op_type, inputs, attrs, domain=_domain, outputs=outs)
            infer_node(node, self.match.model.opset_imports, self.match.model)
            self.nodes.append(node)
            return node.outputs[0] if _outputs == 1 else tuple(node.outputs)
        return make

    def constant(self, array, base: str = "") -> Value:
        """A new initializer holding ``array`` in the matched graph."""
        name = self.names.fresh(base or self.base)
        v = self.match.graph.add_initializer(name, Tensor(array, name))
        self.initializers.append(v)
        return v

    def abandon(self) -> None:
        for n in self.nodes:
            n.detach()
        for v in self.initializers:
            del self.match.graph.initializers[v.name]


class Rule:
    """One local rewrite. Subclasses define ``pattern`` and ``rewrite``, often ``check``."""

    outputs = 1  # root outputs the rewrite replaces; the others must be unused

    @property
    def name(self) -> str:
        return type(self).__name__

    def pattern(self, op, *args):
        raise NotImplementedError

    def check(self, ctx: Match, **values) -> Check:
        return ok()

    def rewrite(self, op: RewriteBuilder, **values):
        raise NotImplementedError

    def compiled(self) -> tuple[_PatternNode, list[str]]:
        names = list(inspect.signature(self.pattern).parameters)[1:]
        return self.pattern(_PatternBuilder(), *[_Var(n) for n in names]), names


def _match(p: _PatternNode, node: Node, m: Match) -> bool:
    if node.op_type != p.op_type or _normalize(node.domain) != p.domain:
        return False
    if len(node.inputs) > len(p.inputs):
        return False
    m.nodes.append(node)
    for i, pi in enumerate(p.inputs):
        v = node.inputs[i] if i < len(node.inputs) else None
        if isinstance(pi, _Var):
            if pi.name in m.bindings and m.bindings[pi.name] is not v:
                return False
            m.bindings[pi.name] = v
        elif pi is None:
            if v is not None:
                return False
        elif not _match_inner(pi, v, node, m):
            return False
    return True


def _match_inner(p: _PatternNode, v: Value | None, user: Node, m: Match) -> bool:
    if v is None or v.producer is None or v.producer.graph is not user.graph:
        return False
    prod = v.producer
    if len(v.uses()) != 1 or v.is_graph_output():
        return False
    if any(o is not v and (o.uses() or o.is_graph_output()) for o in prod.outputs):
        return False
    return _match(p, prod, m)


def _root_extra_outputs_free(node: Node, count: int) -> bool:
    return all(not o.uses() and not o.is_graph_output() for o in node.outputs[count:])


class RewritePass(Pass):
    """Apply ``rules`` everywhere (subgraphs included) until none matches any more."""

    def __init__(self, rules: Sequence[Rule], name: str = "rewrite"):
        super().__init__()
        self.rules, self.name = list(rules), name
        self._compiled = [(r, *r.compiled()) for r in self.rules]

    def run(self, model: Model) -> bool:
        names = NameScope(model)
        changed = False
        for _ in range(20):
            step = False
            for g in list(subgraphs_first(model.graph)):
                for node in list(g):
                    if node.graph is g and self._apply_first(model, g, node, names):
                        step = True
            changed |= step
            if not step:
                break
        return changed

    def _apply_first(self, model: Model, graph: Graph, node: Node, names: NameScope) -> bool:
        for rule, pat, var_names in self._compiled:
            if pat.op_type != node.op_type:
                continue
            m = Match(model, graph)
            if not _match(pat, node, m) or not _root_extra_outputs_free(node, rule.outputs):
                continue
            values = {n: m.bindings.get(n) for n in var_names}
            verdict = rule.check(m, **values)
            if not verdict:
                self._note(f"{rule.name} at {node.op_type} {_label(node)}: {verdict.reason}")
                continue
            if _apply(rule, m, values, names):
                return True
            self._note(f"{rule.name} at {node.op_type} {_label(node)}: a graph output "
                       f"would change its name")
        return False

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES and text not in self.notes:
            self.notes.append(text)


def _label(node: Node) -> str:
    return repr(node.name or next((o.name for o in node.outputs if o.name), ""))


def _apply(rule: Rule, m: Match, values: dict, names: NameScope) -> bool:
    root = m.root
    op = RewriteBuilder(m, names, root.outputs[0].name or root.op_type.lower())
    result = rule.rewrite(op, **values)
    results = list(result) if isinstance(result, list | tuple) else [result]
    fresh = {id(o) for n in op.nodes for o in n.outputs}
    pairs = list(zip(root.outputs, results))
    if not all(_can_replace(old, new, fresh) for old, new in pairs):
        op.abandon()
        return False
    m.graph.insert_before(root, op.nodes)
    for old, new in pairs:
        _replace(old, new)
    for node in m.nodes:  # root first: each node's readers are gone before it goes
        m.graph.remove(node)
    return True


def _can_replace(old: Value, new: Value, fresh: set[int]) -> bool:
    """A graph output keeps its name: the replacement must be free to take it."""
    if not old.is_graph_output() or id(new) in fresh:
        return True
    g = old.owning_graph()
    return (new.producer is not None and new.producer.graph is g and not new.is_graph_output())


def _replace(old: Value, new: Value) -> None:
    if new.type is None:
        new.type = old.type
    if old.is_graph_output():
        name, old.name = old.name, ""
        g = old.owning_graph()
        g.value_info[:] = [v for v in g.value_info if v is not new]
        new.name = name
    old.replace_all_uses_with(new)
    if old.uses():
        raise GraphError(f"rewrite left uses of {old.name!r}")

"""Pass infrastructure: ``Pass``, ``run_pipeline`` and the per-pass ``PipelineReport``.

A global pass is a class with ``run(model) -> changed``. ``run_pipeline`` runs passes in order
(again and again while a pass with ``fixed_point = True`` still changes the model), verifies the
graph after each one and records its time and what it did to the nodes.

    >>> from onyx import ir
    >>> from onyx.passes.dce import DeadCodeEliminationPass
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, (2,)))
    >>> _ = g.append(ir.Node("Relu", [x], outputs=["unused"]))
    >>> g.outputs.append(x)
    >>> report = run_pipeline(ir.Model(g), [DeadCodeEliminationPass()])
    >>> report.records[0].removed
    1

Local rewrites are ``Rule`` subclasses applied by a ``RewritePass`` (see ``onyx.passes.rules``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from onyx.ir.core import Graph, Model, Node
from onyx.ir.tensor import Tensor

MAX_FIXED_POINT_ROUNDS = 20


class Pass:
    """A whole-model transformation. ``run`` returns whether it changed anything.

    ``notes`` collects short explanations (why a rewrite was skipped); the pipeline copies them
    into the report.
    """

    name: str = "pass"
    fixed_point: bool = False  # rerun while it still changes the model

    def __init__(self) -> None:
        self.notes: list[str] = []

    def run(self, model: Model) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass
class PassRecord:
    """What one pass did: time, rounds, nodes removed/added/changed, notes."""
    name: str
    changed: bool = False
    seconds: float = 0.0
    rounds: int = 0
    nodes_before: int = 0
    nodes_after: int = 0
    removed: int = 0
    added: int = 0
    modified: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        flag = "changed" if self.changed else "no change"
        return (f"{self.name:<20} {self.seconds * 1000:8.1f} ms  {flag:<9}  nodes "
                f"{self.nodes_before} -> {self.nodes_after} (-{self.removed} +{self.added} "
                f"~{self.modified})")


@dataclass
class PipelineReport:
    records: list[PassRecord] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    def format(self, *, notes: bool = False) -> str:
        lines = [r.summary() for r in self.records]
        if notes:
            for r in self.records:
                lines += [f"  {r.name}: {n}" for n in r.notes]
        lines.append(f"{'total':<20} {self.seconds * 1000:8.1f} ms")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _node_signature(node: Node) -> tuple:
    return (node.op_type, node.domain, tuple(id(v) for v in node.inputs),
            tuple((k, repr(a.value)) for k, a in node.attributes.items()
                  if not isinstance(a.value, Graph | list)))


def _snapshot(graph: Graph) -> dict[int, tuple[Node, tuple]]:
    # Holding the node keeps its id from being reused by a node created during the pass.
    return {id(n): (n, _node_signature(n)) for n in graph.all_nodes()}


def _diff(record: PassRecord, before: dict, after: dict) -> None:
    record.nodes_before, record.nodes_after = len(before), len(after)
    record.removed = sum(1 for k in before if k not in after)
    record.added = sum(1 for k in after if k not in before)
    record.modified = sum(1 for k, (_, sig) in after.items()
                          if k in before and before[k][1] != sig)


def run_pass(model: Model, p: Pass, *, verify: bool = True) -> PassRecord:
    """Run one pass (to a fixed point if it asks for it) and describe what it did."""
    record = PassRecord(p.name)
    before = _snapshot(model.graph)
    start = time.perf_counter()
    p.notes = []
    while record.rounds < (MAX_FIXED_POINT_ROUNDS if p.fixed_point else 1):
        record.rounds += 1
        changed = bool(p.run(model))
        record.changed |= changed
        if verify:
            model.graph.verify()
        if not changed:
            break
    record.seconds = time.perf_counter() - start
    record.notes = list(p.notes)
    _diff(record, before, _snapshot(model.graph))
    return record


def run_pipeline(model: Model, passes: Sequence[Pass], *, verify: bool = True,
                 after_each: Callable[[Pass, Model, PassRecord], None] | None = None
                 ) -> PipelineReport:
    """Run ``passes`` in order on ``model`` (in place); ``after_each(pass, model, record)`` is
    called after every pass (e.g. to dump the graph)."""
    report = PipelineReport()
    for p in passes:
        record = run_pass(model, p, verify=verify)
        report.records.append(record)
        if after_each is not None:
            after_each(p, model, record)
    return report


class PassManager:
    """A reusable ordered list of passes: ``PassManager([A(), B()]).run(model) -> report``."""

    def __init__(self, passes: Sequence[Pass], *, verify: bool = True):
        self.passes, self.verify = list(passes), verify

    def run(self, model: Model, *, after_each=None) -> PipelineReport:
        return run_pipeline(model, self.passes, verify=self.verify, after_each=after_each)


def subgraphs_first(graph: Graph):
    """Every graph nested in ``graph`` (innermost first), then ``graph`` itself."""
    for node in graph:
        for sub in node.subgraphs():
            yield from subgraphs_first(sub)
    yield graph


class NameScope:
    """Fresh value names that collide with nothing in the model (subgraphs included)."""

    def __init__(self, model: Model):
        self.taken: set[str] = set()
        self._count = 0
        for g in subgraphs_first(model.graph):
            self.taken.update(v.name for v in g.inputs)
            self.taken.update(g.initializers)
            for n in g:
                self.taken.update(o.name for o in n.outputs)

    def fresh(self, base: str) -> str:
        base = base or "v"
        while True:
            self._count += 1
            name = f"{base}__{self._count}"
            if name not in self.taken:
                self.taken.add(name)
                return name


# ---------------------------------------------------------------------------- constants

def constant_value(v) -> np.ndarray | None:
    """The array behind ``v`` when it is a fixed constant: an initializer that is not also a
    graph input (those can be overridden at run time) or a ``Constant`` node's tensor."""
    if v is None:
        return None
    if v.const is not None:
        if v.graph is not None and any(i is v for i in v.graph.inputs):
            return None
        return v.const.numpy()
    node = v.producer
    if node is not None and node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
        a = node.attributes.get("value")
        if a is not None and isinstance(a.value, Tensor) and not a.ref_attr_name:
            return a.value.numpy()
    return None


def is_graph_input(v) -> bool:
    g = v.graph
    return g is not None and any(i is v for i in g.inputs)

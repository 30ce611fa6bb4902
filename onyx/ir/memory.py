"""Memory planning, an analysis of the IR: buffer lifetimes, buffer reuse and the peak-memory
figure of a graph.

In the order the executor runs the nodes, each intermediate (a node output) lives from the
step that defines it to the step of its last reader (graph outputs to the end). Buffers are
then assigned greedily: a value takes a dead buffer of the same size (or, with ``best_fit``,
the smallest larger one), else a new buffer. An elementwise op or fused group may write its
result over an input it reads for the last time (the NumPy executor does), so at such a step
the dying inputs' buffers are free before the output is placed. Sizes come from the inferred
types, or from sizes measured on a run (symbolic dims).

    >>> from onyx import ir
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, (256,)))
    >>> a = g.append(ir.Node("Softmax", [x], outputs=["a"])).outputs[0]
    >>> b = g.append(ir.Node("Softmax", [a], outputs=["b"])).outputs[0]
    >>> c = g.append(ir.Node("Softmax", [b], outputs=["c"])).outputs[0]
    >>> for v in (a, b, c):
    ...     v.type = x.type
    >>> g.outputs.append(c)
    >>> plan = plan_memory(g)
    >>> plan.num_buffers, plan.planned_bytes, plan.unplanned_bytes, plan.live_peak_bytes
    (2, 2048, 3072, 2048)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from onyx.ir.core import Graph, Node, Value
from onyx.ir.dtypes import DType
from onyx.ir.families import ELEMENTWISE_OPS, FUSED_DOMAIN
from onyx.ir.types import TensorType


@dataclass
class Lifetime:
    """``value`` is defined at step ``start`` and last read at step ``end`` (inclusive)."""
    value: Value
    start: int
    end: int
    nbytes: int | None


@dataclass
class MemoryPlan:
    """Lifetimes, the buffer of each sized intermediate, and the figures that sum it up.

    ``planned_bytes``: all buffers of the plan (what a run with reuse holds at most);
    ``unplanned_bytes``: every intermediate in its own buffer; ``live_peak_bytes``: the most
    bytes alive at one step when each value is freed after its last reader and no op writes
    over its input (the peak of a plain free-after-last-use run).
    """
    lifetimes: list[Lifetime] = field(default_factory=list)
    buffer_of: dict[Value, int] = field(default_factory=dict)
    buffers: list[int] = field(default_factory=list)
    unknown: list[Value] = field(default_factory=list)
    live_peak_bytes: int = 0

    @property
    def num_buffers(self) -> int:
        return len(self.buffers)

    @property
    def planned_bytes(self) -> int:
        return sum(self.buffers)

    @property
    def unplanned_bytes(self) -> int:
        return sum(lt.nbytes for lt in self.lifetimes if lt.nbytes is not None)

    def report(self) -> dict[str, int]:
        return {"planned_bytes": self.planned_bytes, "unplanned_bytes": self.unplanned_bytes,
                "live_peak_bytes": self.live_peak_bytes, "buffers": self.num_buffers,
                "values": len(self.lifetimes) - len(self.unknown),
                "unknown_size": len(self.unknown)}

    def format(self) -> str:
        r = self.report()
        return (f"{r['values']} intermediates in {r['buffers']} buffers: planned "
                f"{_mib(r['planned_bytes'])}, without reuse {_mib(r['unplanned_bytes'])}, "
                f"live peak {_mib(r['live_peak_bytes'])}"
                + (f"; {r['unknown_size']} of unknown size" if r["unknown_size"] else ""))


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def static_nbytes(value: Value) -> int | None:
    """Bytes of ``value`` from its type when the shape is fully known."""
    t = value.type
    if not isinstance(t, TensorType) or t.shape is None or t.dtype in (DType.STRING,
                                                                        DType.UNDEFINED):
        return None
    count = 1
    for d in t.shape:
        if not isinstance(d, int):
            return None
        count *= d
    return (count * t.dtype.itemsize_bits + 7) // 8


def _top(node: Node, graph: Graph) -> Node | None:
    while node is not None and node.graph is not graph:
        node = node.graph.parent if node.graph is not None else None
    return node


def lifetimes(graph: Graph, sizes: dict[Value, int] | None = None) -> list[Lifetime]:
    """Lifetime of every node output of ``graph`` in node order (reads in bodies count at the
    step of the node that owns the body)."""
    position = {id(n): i for i, n in enumerate(graph._nodes)}
    end_of_graph = len(graph._nodes)
    result = []
    for i, node in enumerate(graph._nodes):
        for v in node.outputs:
            if not v.name and not v.uses():
                continue  # an omitted optional output
            end = i
            for user, _ in v.uses():
                top = _top(user, graph)
                if top is not None:
                    end = max(end, position[id(top)])
            if v.is_graph_output():
                end = end_of_graph
            nbytes = sizes.get(v) if sizes is not None and v in sizes else static_nbytes(v)
            result.append(Lifetime(v, i, end, nbytes))
    return result


def assign_buffers(spans: list[Lifetime], *, best_fit: bool = False,
                   inplace_steps: frozenset[int] = frozenset()) -> MemoryPlan:
    """Greedy assignment in definition order; a buffer is free after its value's last step,
    or already at it for the steps in ``inplace_steps`` (elementwise ops, which may write
    their result over an input read for the last time)."""
    plan = MemoryPlan(lifetimes=spans)
    free: list[int] = []                 # buffer indices
    releases: dict[int, list[int]] = {}  # step -> buffers freed after it
    by_start: dict[int, list[Lifetime]] = {}
    for lt in spans:
        by_start.setdefault(lt.start, []).append(lt)
    last = max((lt.end for lt in spans), default=-1)
    for step in range(last + 1):
        if step in inplace_steps:
            free.extend(releases.pop(step, ()))
        for lt in by_start.get(step, ()):
            if lt.nbytes is None:
                plan.unknown.append(lt.value)
                continue
            b = _pick(plan.buffers, free, lt.nbytes, best_fit)
            if b is None:
                plan.buffers.append(lt.nbytes)
                b = len(plan.buffers) - 1
            else:
                free.remove(b)
            plan.buffer_of[lt.value] = b
            releases.setdefault(lt.end, []).append(b)
        free.extend(releases.pop(step, ()))
    plan.live_peak_bytes = _live_peak(spans)
    return plan


def _pick(buffers: list[int], free: list[int], nbytes: int, best_fit: bool) -> int | None:
    exact = [b for b in free if buffers[b] == nbytes]
    if exact:
        return exact[-1]
    if best_fit:
        larger = [b for b in free if buffers[b] > nbytes]
        if larger:
            return min(larger, key=lambda b: buffers[b])
    return None


def _live_peak(spans: list[Lifetime]) -> int:
    delta: dict[int, int] = {}
    for lt in spans:
        if lt.nbytes:
            delta[lt.start] = delta.get(lt.start, 0) + lt.nbytes
            delta[lt.end + 1] = delta.get(lt.end + 1, 0) - lt.nbytes
    peak = live = 0
    for step in sorted(delta):
        live += delta[step]
        peak = max(peak, live)
    return peak


def plan_memory(graph: Graph, sizes: dict[Value, int] | None = None, *,
                best_fit: bool = False) -> MemoryPlan:
    """The memory plan of ``graph``; ``sizes`` (value -> bytes) overrides the types' sizes."""
    inplace = frozenset(i for i, n in enumerate(graph._nodes)
                        if n.domain in ("", "ai.onnx") and n.op_type in ELEMENTWISE_OPS
                        or n.domain == FUSED_DOMAIN)
    return assign_buffers(lifetimes(graph, sizes), best_fit=best_fit, inplace_steps=inplace)

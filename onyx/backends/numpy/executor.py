"""Runs an IR graph with the NumPy kernels.

The graph is turned into a plan once: one step per node with its kernel, converted attributes
and the values to free after it (intermediates die right after their last use). Subgraph bodies
(If/Loop/Scan/SequenceMap) and model-local functions become nested plans.

Memory: each run has a ``BufferPool``. Fused groups (``onyx.fused`` functions) and the plain
elementwise ops with an ``out=`` form write into pool buffers; a pool buffer whose value dies
is handed to the next op that needs one of the same shape and dtype (``fused.py``).
``Executor.memory_report()`` gives the planned figures and what the last run allocated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onyx.backends.numpy.fused import BufferPool, FastElementwise, FusedGroup, fast_op
from onyx.backends.numpy.registry import KernelContext, lookup, normalize_domain
from onyx.backends.numpy.values import check_feed, convert_attribute, describe_value
from onyx.ir import limits
from onyx.ir.core import AttrType, Function, Graph, Model, Node, Value
from onyx.ir.errors import (
    InputError,
    LimitError,
    ModelError,
    NodeError,
    OnyxError,
    UnsupportedOpError,
    describe_node,
)
from onyx.ir.families import FUSED_DOMAIN
from onyx.ir.memory import plan_memory
from onyx.ir.types import OptionalType

LEGACY_BROADCAST_UNTIL = 6  # binary ops broadcast by other rules before opset 7
KERNELS_PACKAGE = "onyx.backends.numpy.kernels."


class Step:
    __slots__ = ("node", "fn", "ctx", "inputs", "outputs", "attrs", "free", "subgraphs",
                 "pooled", "inplace")

    def __init__(self, node, fn, ctx, inputs, outputs, attrs, subgraphs):
        self.node, self.fn, self.ctx = node, fn, ctx
        self.inputs, self.outputs, self.attrs = inputs, outputs, attrs
        self.subgraphs = subgraphs
        self.free: list[Value] = []
        # ``fn(pool, *args)``: writes into pool buffers; ``inplace``: may reuse a dying input
        self.pooled = isinstance(fn, FastElementwise | FusedGroup)
        self.inplace = self.pooled and fn.inplace


class Subgraph:
    """A body graph handed to a kernel as a callable: ``outputs = body(*inputs)``."""

    def __init__(self, graph: Graph, scope: _Scope, depth: int):
        self.graph = graph
        self.plan = Plan(graph, scope, depth + 1)
        self.outer: dict | None = None
        self.free_vars = self.plan.free_vars

    def __call__(self, *inputs) -> list:
        env = {v: self.outer[v] for v in self.free_vars if v in self.outer}
        return self.plan.run(list(inputs), env, check=False)

    @property
    def num_inputs(self) -> int:
        return len(self.graph.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.graph.outputs)


class _Scope:
    """What plans need to resolve ops: opsets and model-local functions."""

    def __init__(self, opsets: dict[str, int], functions: dict, call_stack: tuple = ()):
        self.opsets = {normalize_domain(k): v for k, v in opsets.items()}
        self.functions = functions
        self.call_stack = call_stack

    def opset(self, domain: str) -> int:
        d = normalize_domain(domain)
        if d in self.opsets:
            return self.opsets[d]
        if d == "":
            return 1
        raise ModelError(f"domain {domain!r} is used but not imported")


class Plan:
    def __init__(self, graph: Graph, scope: _Scope, depth: int = 0):
        if depth > limits.max_nesting_depth:
            raise LimitError(f"subgraphs/functions nested deeper than {limits.max_nesting_depth}"
                             f" levels (graph {graph.name!r})")
        self.graph, self.scope = graph, scope
        self.steps = [self._step(n, depth) for n in graph._nodes]
        self.free_vars = self._free_vars()
        self._plan_frees()

    def _step(self, node: Node, depth: int) -> Step:
        domain = normalize_domain(node.domain)
        fn_key = (node.domain, node.op_type, node.overload)
        if fn_key in self.scope.functions and lookup(node.op_type, domain, 10**6) is None:
            return self._function_step(node, self.scope.functions[fn_key], depth)
        opset = self.scope.opset(domain)
        entry = lookup(node.op_type, domain, opset)
        if entry is None:
            if fn_key in self.scope.functions:
                return self._function_step(node, self.scope.functions[fn_key], depth)
            raise UnsupportedOpError(node.op_type, domain, opset, node.name)
        subgraphs = []
        attrs = {}
        for a in node.attributes.values():
            if a.ref_attr_name:
                raise ModelError(f"{describe_node(node)}: attribute {a.name!r} refers to "
                                 f"@{a.ref_attr_name} outside a function")
            if a.type is AttrType.GRAPH:
                sub = Subgraph(a.value, self.scope, depth)
                subgraphs.append(sub)
                attrs[a.name] = sub
            elif a.type is AttrType.GRAPHS:
                subs = [Subgraph(g, self.scope, depth) for g in a.value]
                subgraphs.extend(subs)
                attrs[a.name] = subs
            else:
                attrs[a.name] = convert_attribute(a)
        ctx = KernelContext(opset=opset, num_outputs=len(node.outputs), node=node,
                            outputs_wanted=tuple(bool(o.name) or bool(o._uses)
                                                 for o in node.outputs)) \
            if entry.wants_ctx else None
        fn = entry.fn
        spec = fast_op(node) if opset > LEGACY_BROADCAST_UNTIL and ctx is None else None
        # The out= form stands in for onyx's own kernel only (not one put in its place).
        if spec is not None and entry.fn.__module__.startswith(KERNELS_PACKAGE):
            fn = FastElementwise(spec, entry.fn, attrs)
        return Step(node, fn, ctx, list(node.inputs), list(node.outputs), attrs, subgraphs)

    def _function_step(self, node: Node, fn: Function, depth: int) -> Step:
        key = fn.key
        if key in self.scope.call_stack:
            chain = " -> ".join(f"{d}::{n}" for d, n, _ in self.scope.call_stack + (key,))
            raise ModelError(f"{describe_node(node)}: recursive local function call {chain}")
        body = bind_function(fn, node)
        scope = _Scope(fn.opset_imports or self.scope.opsets, self.scope.functions,
                       self.scope.call_stack + (key,))
        plan = Plan(body, scope, depth + 1)
        if fn.domain == FUSED_DOMAIN:
            return Step(node, FusedGroup(plan), None, list(node.inputs), list(node.outputs),
                        {}, [])

        def call(*inputs):
            return tuple(plan.run(list(inputs), {}, check=False))
        return Step(node, call, None, list(node.inputs), list(node.outputs), {}, [])

    def _free_vars(self) -> list[Value]:
        local = set(self.graph.inputs) | set(self.graph.initializers.values()) | \
            set(self.graph.sparse_initializers.values())
        for s in self.steps:
            local.update(s.outputs)
        free: dict[Value, None] = {}
        for s in self.steps:
            for v in s.inputs:
                if v is not None and v not in local:
                    free[v] = None
            for sub in s.subgraphs:
                for v in sub.free_vars:
                    if v not in local:
                        free[v] = None
        for v in self.graph.outputs:
            if v not in local:
                free[v] = None
        return list(free)

    def _plan_frees(self) -> None:
        keep = set(self.graph.outputs)
        last: dict[Value, int] = {}
        for i, s in enumerate(self.steps):
            for v in s.inputs:
                if v is not None:
                    last[v] = i
            for sub in s.subgraphs:
                for v in sub.free_vars:
                    last[v] = i
            for v in s.outputs:  # an output nobody reads dies at once
                last.setdefault(v, i)
        for v, i in last.items():
            if v not in keep and v.const is None:
                self.steps[i].free.append(v)

    # ------------------------------------------------------------------ running
    def run(self, inputs: list, env: dict, *, check: bool = True, pool: BufferPool | None = None,
            sizes: dict | None = None) -> list:
        """Run the steps; ``pool`` lends the buffers (a fresh one if not given), ``sizes``
        (if given) receives the bytes of every array a step produced."""
        g = self.graph
        pool = BufferPool() if pool is None else pool
        real_inputs = [v for v in g.inputs]
        if len(inputs) > len(real_inputs):
            raise InputError(f"graph {g.name!r} takes {len(real_inputs)} inputs, got "
                             f"{len(inputs)}")
        for v in g.initializers.values():
            env[v] = v.const.numpy()
        for v in g.sparse_initializers.values():
            env[v] = v.const.numpy()
        for i, v in enumerate(real_inputs):
            if i < len(inputs) and inputs[i] is not None:
                if check:
                    check_feed(v, inputs[i])
                env[v] = inputs[i]
            elif v not in env:
                # an optional input may be fed as "empty" (None)
                if check and not isinstance(v.type, OptionalType):
                    raise InputError(f"input {v.name!r} ({v.type}) of graph {g.name!r} was not "
                                     f"given")
                env[v] = None
        with np.errstate(all="ignore"):
            for i, step in enumerate(self.steps):
                pool.clock = i
                self._run_step(step, env, pool)
                if sizes is not None:
                    for o in step.outputs:
                        if isinstance(env.get(o), np.ndarray):
                            sizes[o] = env[o].nbytes
        return [env.get(v) for v in g.outputs]

    def _run_step(self, step: Step, env: dict, pool: BufferPool | None = None) -> None:
        args = [None if v is None else env[v] for v in step.inputs]
        for sub in step.subgraphs:
            sub.outer = env
        try:
            if step.inplace:
                # A temporary read last by this one op may become its output buffer.
                dead = [env[v] for v in step.free if v in env and v not in step.outputs]
                result = step.fn.call_inplace(pool, dead, *args)
            elif step.pooled:
                result = step.fn(pool, *args)
            elif step.ctx is not None:
                result = step.fn(step.ctx, *args, **step.attrs)
            else:
                result = step.fn(*args, **step.attrs)
        except OnyxError as exc:
            if isinstance(exc, NodeError) or getattr(exc, "_node_named", False):
                raise
            raise type(exc)(f"{describe_node(step.node)}: {exc}") from exc
        except Exception as exc:
            shapes = ", ".join(describe_value(a) for a in args)
            raise NodeError(f"{describe_node(step.node)} failed on inputs ({shapes}): "
                            f"{type(exc).__name__}: {exc}") from exc
        outs = step.outputs
        if isinstance(result, tuple):
            if len(result) < len(outs):
                wanted = [o for o in outs[len(result):] if o.name or o._uses]
                if wanted:
                    raise NodeError(f"{describe_node(step.node)} produced {len(result)} outputs,"
                                    f" {len(outs)} were asked for")
            for o, r in zip(outs, result):
                env[o] = r
        else:
            env[outs[0]] = result
        if pool is not None:
            self._recycle(step, args, env, pool)
        for v in step.free:
            env.pop(v, None)

    @staticmethod
    def _recycle(step: Step, args: list, env: dict, pool: BufferPool) -> None:
        """Return the buffers of the values dying here to ``pool``, unless a result (or a
        body that read them from this scope) may still alias them."""
        if not pool.owned:
            return
        if not step.pooled:
            pool.check_escapes(args, [env.get(o) for o in step.outputs])
        for sub in step.subgraphs:
            for v in sub.free_vars:
                if v in env:
                    pool.escape(env[v])
        made = {id(env.get(o)) for o in step.outputs}  # an in-place result took a dead buffer
        for v in step.free:
            if v in env and id(env[v]) not in made:
                pool.give(env[v])


def bind_function(fn: Function, call: Node) -> Graph:
    """A copy of ``fn``'s body with ``@attr`` references replaced by the call's attributes."""
    from onyx.ir.clone import clone_graph
    values = {}
    for name in fn.attributes:
        if name in call.attributes:
            values[name] = call.attributes[name]
    for name, a in fn.attribute_defaults.items():
        values.setdefault(name, call.attributes.get(name, a))
    return clone_graph(fn.graph, attr_values=values)


class Executor:
    """Runs a model: ``Executor(model).run({"x": array}) -> [outputs]``."""

    def __init__(self, model: Model):
        self.model = model
        self.plan = Plan(model.graph, _Scope(model.opset_imports, model.functions))
        self.input_names = [v.name for v in model.graph.inputs if v.const is None]
        self.output_names = [v.name for v in model.graph.outputs]
        self.last_run: dict[str, int] = {}
        self._demand: dict | None = None  # buffer shapes the last run asked for, and when

    def run(self, feeds: dict[str, Any] | list) -> list:
        return self._run(feeds, None)

    def memory_report(self, feeds: dict[str, Any] | list | None = None) -> dict[str, int]:
        """The memory plan of the main graph and what the last run allocated.

        Keys: ``planned_bytes`` (all buffers when dead ones are reused), ``unplanned_bytes``
        (every intermediate in its own buffer), ``live_peak_bytes``, ``buffers``, ``values``,
        ``unknown_size``; after a run also ``run_allocated`` / ``run_allocated_bytes`` (pool
        buffers created) and ``run_reused`` (pool buffers handed out again). Sizes come from
        the inferred types; with ``feeds`` the model is run once and the sizes measured (for
        symbolic dimensions).
        """
        sizes = None
        if feeds is not None:
            sizes = {}
            self._run(feeds, sizes)
        report = plan_memory(self.model.graph, sizes).report()
        report.update(self.last_run)
        return report

    def _run(self, feeds: dict[str, Any] | list, sizes: dict | None) -> list:
        g = self.model.graph
        if isinstance(feeds, dict):
            known = {v.name for v in g.inputs}
            unknown = sorted(set(feeds) - known)
            if unknown:
                raise InputError(f"unknown input(s) {unknown}; the model takes "
                                 f"{[v.name for v in g.inputs]}")
            inputs = [feeds.get(v.name) for v in g.inputs]
            missing = [v.name for v, x in zip(g.inputs, inputs)
                       if x is None and v.const is None and not isinstance(v.type, OptionalType)]
            if missing:
                raise InputError(f"missing input(s) {missing}; the model takes "
                                 f"{[(v.name, str(v.type)) for v in g.inputs if v.const is None]}")
        else:
            inputs = list(feeds)
            free = [v for v in g.inputs if v.const is None]
            if len(inputs) > len(g.inputs):
                raise InputError(f"got {len(inputs)} inputs, the model takes {len(free)}")
            if len(inputs) < len(free):
                raise InputError(f"got {len(inputs)} inputs, the model takes {len(free)}: "
                                 f"{[v.name for v in free]}")
        pool = BufferPool(self._demand)
        outputs = self.plan.run(inputs, {}, pool=pool, sizes=sizes)
        self._demand = pool.last_take
        self.last_run = {"run_allocated": pool.allocated,
                         "run_allocated_bytes": pool.allocated_bytes, "run_reused": pool.reused}
        return outputs

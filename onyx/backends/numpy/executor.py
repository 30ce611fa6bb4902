"""Runs an IR graph with the NumPy kernels.

The graph is turned into a plan once: one step per node with its kernel, converted attributes
and the values to free after it (intermediates die right after their last use). Subgraph bodies
(If/Loop/Scan/SequenceMap) and model-local functions become nested plans.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from onyx.ir.types import OptionalType


class Step:
    __slots__ = ("node", "fn", "ctx", "inputs", "outputs", "attrs", "free", "subgraphs")

    def __init__(self, node, fn, ctx, inputs, outputs, attrs, subgraphs):
        self.node, self.fn, self.ctx = node, fn, ctx
        self.inputs, self.outputs, self.attrs = inputs, outputs, attrs
        self.subgraphs = subgraphs
        self.free: list[Value] = []


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
        return Step(node, entry.fn, ctx, list(node.inputs), list(node.outputs), attrs, subgraphs)

    def _function_step(self, node: Node, fn: Function, depth: int) -> Step:
        key = fn.key
        if key in self.scope.call_stack:
            chain = " -> ".join(f"{d}::{n}" for d, n, _ in self.scope.call_stack + (key,))
            raise ModelError(f"{describe_node(node)}: recursive local function call {chain}")
        body = bind_function(fn, node)
        scope = _Scope(fn.opset_imports or self.scope.opsets, self.scope.functions,
                       self.scope.call_stack + (key,))
        plan = Plan(body, scope, depth + 1)

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
    def run(self, inputs: list, env: dict, *, check: bool = True) -> list:
        g = self.graph
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
            for step in self.steps:
                self._run_step(step, env)
        return [env.get(v) for v in g.outputs]

    def _run_step(self, step: Step, env: dict) -> None:
        args = [None if v is None else env[v] for v in step.inputs]
        for sub in step.subgraphs:
            sub.outer = env
        try:
            if step.ctx is not None:
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
        for v in step.free:
            env.pop(v, None)


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

    def run(self, feeds: dict[str, Any] | list) -> list:
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
        return self.plan.run(inputs, {})

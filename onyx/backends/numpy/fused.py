"""Fused execution on NumPy: an ``onyx.fused`` group run with ``out=`` buffers and reuse.

A fused group's body is a chain of elementwise ops. Run node by node, each op allocates a fresh
temporary; here the ops that are plain NumPy ufuncs on matching dtypes (float32/float64, and
the integer forms of Add/Sub/Mul) write into buffers taken from a ``BufferPool``, and a
temporary whose last reader has run goes back to the pool at once, so the next op of the same
shape writes over it: a chain of N ops touches about one buffer instead of N.

The fast form of each op is the very ufunc call its kernel makes, so results are bit-identical
to the body's kernels; every other case (float16, Where, Cast, Erf, a failed broadcast) runs
the body's own kernel for that node.

A buffer is handed out again only while the pool owns it: an array given to a kernel that may
return a view of it (Identity, Reshape, a subgraph) *escapes* and is never recycled.

    >>> import numpy as np
    >>> pool = BufferPool()
    >>> a = pool.take((4,), np.dtype(np.float32)); pool.give(a)
    >>> pool.take((4,), np.dtype(np.float32)) is a
    True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
NUMBERS = FLOATS + (np.dtype(np.int32), np.dtype(np.int64))


class BufferPool:
    """Arrays this run allocated, free ones keyed by (shape, dtype), with counters.

    ``demand`` (key -> last step that took such a buffer, from an earlier run) lets the pool
    drop a dead buffer no later step will ask for, instead of holding it to the end of the
    run; ``clock`` is the step now running, ``last_take`` this run's demand.
    """

    def __init__(self, demand: dict[tuple, int] | None = None) -> None:
        self.free: dict[tuple, list[np.ndarray]] = {}
        self.owned: dict[int, np.ndarray] = {}
        self.demand = demand
        self.clock = 0
        self.last_take: dict[tuple, int] = {}
        self.allocated = 0          # buffers created
        self.allocated_bytes = 0
        self.reused = 0             # takes served from a dead buffer

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        key = (shape, dtype)
        self.last_take[key] = self.clock
        stack = self.free.get(key)
        if stack:
            self.reused += 1
            buf = stack.pop()
        else:
            buf = np.empty(shape, dtype)
            self.allocated += 1
            self.allocated_bytes += buf.nbytes
        self.owned[id(buf)] = buf
        return buf

    def give(self, arr) -> None:
        """``arr``'s value is dead: recycle it if the pool owns it."""
        if self.owned.pop(id(arr), None) is not None:
            key = (arr.shape, arr.dtype)
            if self.demand is None or self.demand.get(key, -1) >= self.clock:
                self.free.setdefault(key, []).append(arr)

    def owns(self, arr) -> bool:
        return id(arr) in self.owned

    def escape(self, arr) -> None:
        """``arr`` may be aliased by a view: it is never recycled."""
        self.owned.pop(id(arr), None)

    def check_escapes(self, args, results) -> None:
        """Release ownership of every owned argument that a result may alias."""
        for a in args:
            if a is None or id(a) not in self.owned:
                continue
            for r in results:
                if not isinstance(r, np.ndarray) or np.may_share_memory(a, r):
                    self.escape(a)
                    break


# ------------------------------------------------------------------------- fast ops

def _relu(x, out):
    return np.maximum(x, x.dtype.type(0), out=out)


def _ufunc(fn: Callable) -> Callable:
    def apply(*args, out):
        return fn(*args, out=out)
    return apply


# op -> (function(*args, out=buffer), dtypes it is exact for)
FAST_OPS: dict[str, tuple[Callable, tuple]] = {
    "Add": (_ufunc(np.add), NUMBERS), "Sub": (_ufunc(np.subtract), NUMBERS),
    "Mul": (_ufunc(np.multiply), NUMBERS), "Div": (_ufunc(np.true_divide), FLOATS),
    "Relu": (_relu, FLOATS),
    **{op: (_ufunc(fn), FLOATS) for op, fn in (
        ("Abs", np.abs), ("Neg", np.negative), ("Sqrt", np.sqrt), ("Exp", np.exp),
        ("Log", np.log), ("Tanh", np.tanh), ("Sin", np.sin), ("Cos", np.cos),
        ("Ceil", np.ceil), ("Floor", np.floor))},
}


def fast_op(node) -> tuple[Callable, tuple] | None:
    """The ``out=`` form of ``node`` if it has one (default domain, no attributes)."""
    if node.domain not in ("", "ai.onnx") or node.attributes:
        return None
    return FAST_OPS.get(node.op_type)


def fast_shape(spec: tuple[Callable, tuple], args: list) -> tuple[int, ...] | None:
    """The result shape when the op's fast form applies to ``args``, else ``None``."""
    dtypes = spec[1]
    first = args[0] if args else None
    if type(first) is not np.ndarray or first.dtype not in dtypes:
        return None
    shape = first.shape
    for a in args[1:]:
        if type(a) is not np.ndarray or a.dtype != first.dtype:
            return None
        if a.shape != shape:
            try:
                shape = np.broadcast_shapes(shape, a.shape)
            except ValueError:
                return None  # the kernel raises the error that names the shapes
    return shape


def run_fast(spec: tuple[Callable, tuple], args: list, pool: BufferPool):
    """The op's result in a pool buffer, or ``None`` when the fast form does not apply."""
    shape = fast_shape(spec, args)
    if shape is None:
        return None
    out = pool.take(shape, args[0].dtype)
    spec[0](*args, out=out)
    return out


class FastElementwise:
    """A single elementwise node that writes into a pool buffer when it can."""

    inplace = True  # one op: an input dying here may be its output buffer

    def __init__(self, spec: tuple[Callable, tuple], kernel: Callable, attrs: dict):
        self.spec, self.kernel, self.attrs = spec, kernel, attrs

    def __call__(self, pool: BufferPool | None, *args):
        return self.call_inplace(pool, (), *args)

    def call_inplace(self, pool: BufferPool | None, dead, *args):
        """Like calling it; the pool may first take back ``dead`` (inputs read last here)."""
        shape = fast_shape(self.spec, args) if pool is not None else None
        if shape is None:
            return self.kernel(*args, **self.attrs)
        for a in dead:
            pool.give(a)
        out = pool.take(shape, args[0].dtype)
        self.spec[0](*args, out=out)
        return out


class FusedGroup:
    """Runs the body plan of an ``onyx.fused`` call with pool buffers and in-place reuse.

    ``plan`` is the executor's plan of the body (its steps carry the kernels used for the
    nodes without a fast form, and the error messages).
    """

    inplace = True  # a group input dying here is recycled after its last body reader

    def __init__(self, plan):
        self.plan = plan
        graph = plan.graph
        self.inputs = list(graph.inputs)
        self.outputs = list(graph.outputs)
        keep = set(self.outputs)
        last: dict = {}
        for i, step in enumerate(plan.steps):
            for v in step.inputs:
                if v is not None:
                    last[v] = i
        self.dying = [[] for _ in plan.steps]
        for v, i in last.items():
            if v not in keep:
                self.dying[i].append(v)
        # the out= form of the nodes whose step the executor gave one (FastElementwise)
        self.specs = [s.fn.spec if isinstance(s.fn, FastElementwise) else None
                      for s in plan.steps]

    def __call__(self, pool: BufferPool | None, *inputs):
        return self.call_inplace(pool, (), *inputs)

    def call_inplace(self, pool: BufferPool | None, dead, *inputs):
        """Run the body; the arrays in ``dead`` (inputs read last by this call) may be
        recycled once no body op reads them any more; other inputs are never written."""
        if pool is None:
            pool = BufferPool()
        env = dict(zip(self.inputs, inputs))
        recyclable = {id(a) for a in dead}
        external = {id(x) for x in inputs if id(x) not in recyclable}
        with np.errstate(all="ignore"):
            for step, spec, dying in zip(self.plan.steps, self.specs, self.dying):
                self._step(step, spec, dying, env, pool, external)
        return tuple(env[v] for v in self.outputs)

    def _step(self, step, spec, dying, env, pool: BufferPool, external: set) -> None:
        args = [None if v is None else env[v] for v in step.inputs]
        dead = [env.pop(v) for v in dying]
        shape = fast_shape(spec, args) if spec is not None else None
        if shape is not None:
            # Temporaries dying here go back first, so the op may write over one of them
            # (same index in and out: safe for a ufunc).
            for a in dead:
                if id(a) not in external:
                    pool.give(a)
            out = pool.take(shape, args[0].dtype)
            spec[0](*args, out=out)
            env[step.outputs[0]] = out
            return
        for v, a in zip(dying, dead):
            env[v] = a  # the body plan's step frees them itself
        self.plan._run_step(step, env)
        pool.check_escapes(args, [env.get(o) for o in step.outputs])
        for a in dead:
            if id(a) not in external:
                pool.give(a)

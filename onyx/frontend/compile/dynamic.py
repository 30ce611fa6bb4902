"""Symbolic dimensions: one graph for every batch size, without symbolic integers.

The function is traced twice: at the real batch size ``B`` and, first, on a probe batch of
``B + 1`` rows (the real inputs with their first row repeated), with the state the call
touches saved and restored around the probe so it leaves no trace. The two graphs must be
the same op sequence; every constant that differs between them must be ``a * B`` (a shape
given to ``Reshape``, ``Expand``, ``ConstantOfShape``: ``x.view(x.size(0), -1)``) or ``a / B``
(a mean written as a division), or a uniform fill whose shape does. Such constants are
replaced by the same computation from the input's run-time ``Shape``. Anything else cannot
be reconciled and the caller gets per-shape graphs with a warning.
"""

from __future__ import annotations

import warnings

import numpy as np

from onyx import ir
from onyx.frontend.tensor import Tensor
from onyx.ir.clone import clone_graph


class _NotDynamic(Exception):
    """The two traces differ in a way that is not a function of the batch size."""


def dims_of(dynamic, num_inputs: int) -> dict[int, set[int]]:
    """``dynamic`` (``True``: dim 0 of every input, or ``{input: {dims}}``) as a dict."""
    if dynamic is True:
        return {i: {0} for i in range(num_inputs)}
    return {int(k): set(v) for k, v in dict(dynamic).items()}


def dim_name(dim: int) -> str:
    return "batch" if dim == 0 else f"dim{dim}"


def mark_dynamic(model: ir.Model, dynamic, num_inputs: int) -> None:
    """Give the marked input dims symbolic names in the graph's input types."""
    for i, dims in dims_of(dynamic, num_inputs).items():
        v = model.graph.inputs[i]
        shape = list(v.shape)
        for d in dims:
            if d < len(shape):
                shape[d] = dim_name(d)
        v.type = ir.tensor(v.dtype, shape)


def trace_for_compile(cf, args: tuple, kwargs: dict):
    """The trace ``CompiledFunction`` caches: dynamic in the batch dims when asked."""
    from onyx.frontend.compile.trace import trace
    options = dict(names=cf.state, state_as_inputs=True, modules=cf.modules)
    if cf._dims:
        try:
            traced, failure = trace_dynamic(cf.fn, args, kwargs, cf._dims, cf.state,
                                            cf.optimizers, **options)
        except _NotDynamic as exc:  # before the real call ran: trace it plainly below
            traced, failure = None, str(exc)
        if failure:
            warnings.warn(f"onyx.compile({cf.__name__}): the batch size cannot be made "
                          f"dynamic ({failure}); compiling one graph per shape", stacklevel=4)
            cf._dims, cf._dynamic_on, cf._dynamic_arg = {}, False, False
        if traced is not None:
            return traced
    return trace(cf.fn, args, kwargs, on_break=cf.on_break, **options)


def trace_dynamic(fn, args: tuple, kwargs: dict, dims: dict[int, set[int]], state: dict,
                  optimizers: list, **options):
    """Trace at the real batch size with a probe at another (see the module docstring)."""
    from onyx.frontend.compile.trace import _flat_args, trace
    flat = _flat_args(args, kwargs)
    sizes = {flat[i]._data.shape[d] for i, ds in dims.items() if i < len(flat)
             for d in ds if d < flat[i].ndim}
    if len(sizes) != 1:
        raise _NotDynamic(f"the dynamic dims do not share one size ({sorted(sizes)}); one "
                          f"symbolic size per trace is supported")
    b1 = sizes.pop()
    b2 = b1 + 1
    probe_args, probe_kwargs = _probe(args, kwargs, flat, dims)
    saved = _save(state, optimizers)
    try:
        probe = trace(fn, probe_args, probe_kwargs, **options)
    except Exception as exc:
        _restore(saved)
        raise _NotDynamic(f"the probe trace failed: {exc}") from exc
    _restore(saved)
    if len(probe.optimizers) > len(optimizers):
        raise _NotDynamic("an optimizer the function uses was not found before the call")
    real = trace(fn, args, kwargs, **options)
    # the real call has run (its side effects are done): from here a failure keeps the
    # static graph instead of tracing again
    model = ir.Model(clone_graph(real.model.graph), opset_imports=dict(real.model.opset_imports),
                     producer_name=real.model.producer_name)
    try:
        reconcile(model, probe.model, b1, b2, dims)
    except _NotDynamic as exc:
        return real, str(exc)
    real.model = model
    return real, ""


def _probe(args: tuple, kwargs: dict, flat: list, dims: dict):
    """The arguments with one more row in every dynamic input (its first row repeated)."""
    marked = {id(flat[i]): ds for i, ds in dims.items() if i < len(flat)}

    def grow(a):
        if isinstance(a, Tensor) and id(a) in marked:
            data = a._data
            for d in sorted(marked[id(a)]):
                if d < data.ndim:
                    first = np.take(data, [0], axis=d)
                    data = np.concatenate([data, first], axis=d)
            return Tensor._wrap(data, a.requires_grad)
        if isinstance(a, tuple | list):
            return type(a)(grow(x) for x in a)
        if isinstance(a, dict):
            return {k: grow(v) for k, v in a.items()}
        return a
    return tuple(grow(a) for a in args), {k: grow(v) for k, v in kwargs.items()}


def _save(state: dict, optimizers: list):
    from onyx.frontend.random import default_generator
    tensors = [(t, t._data.copy(), t.grad) for t in state.values()]
    # the whole state mapping: a probe step may create entries that did not exist
    opt_states = [(opt, [(p, s, dict(s)) for p, s in opt.state.items()]) for opt in optimizers]
    return tensors, opt_states, default_generator.get_state()


def _restore(saved) -> None:
    from onyx.frontend.random import default_generator
    tensors, opt_states, rng_state = saved
    for t, data, grad in tensors:
        if t._data.shape == data.shape:
            np.copyto(t._data, data)
        else:
            t._data = data
        t.grad = grad
    for opt, entries in opt_states:
        opt.state.clear()
        for p, s, copy in entries:  # the same dict objects: cached graphs read from them
            s.clear()
            s.update(copy)
            opt.state[p] = s
    default_generator.set_state(rng_state)


# ---------------------------------------------------------------------------- reconcile
def reconcile(g1_model: ir.Model, g2_model: ir.Model, b1: int, b2: int, dims: dict) -> None:
    """Rewrite ``g1`` (traced at batch ``b1``) so it serves any batch size; ``g2`` is the
    same function traced at ``b2``."""
    g1, g2 = g1_model.graph, g2_model.graph
    nodes1, nodes2 = list(g1), list(g2)
    if len(nodes1) != len(nodes2):
        raise _NotDynamic(f"the graphs at batch {b1} and {b2} have {len(nodes1)} and "
                          f"{len(nodes2)} nodes")
    batch = _BatchSize(g1, dims)
    pairs = {v2: v1 for v1, v2 in zip(g1.inputs, g2.inputs)}
    for n1, n2 in zip(nodes1, nodes2):
        _check_same(n1, n2)
        for i, (a1, a2) in enumerate(zip(n1.inputs, n2.inputs)):
            if a1 is None or a2 is None:
                continue
            if a1.const is not None and a2.const is not None:
                c1, c2 = a1.const.numpy(), a2.const.numpy()
                if c1.shape != c2.shape or not np.array_equal(c1, c2):
                    n1.set_input(i, batch.constant(n1, c1, c2, b1, b2))
            elif pairs.get(a2, a1) is not a1:
                raise _NotDynamic(f"{n1.op_type} {n1.name!r} reads different values")
        for o1, o2 in zip(n1.outputs, n2.outputs):
            pairs[o2] = o1
            o1.type = _merged_type(o1, o2, b1, b2, batch.name)
    for v1, v2 in zip(g1.outputs, g2.outputs):
        v1.type = _merged_type(v1, v2, b1, b2, batch.name)
    for i, ds in dims.items():  # one symbol: every marked dim has the same size
        v = g1.inputs[i]
        shape = [batch.name if d in ds else n for d, n in enumerate(v.shape)]
        v.type = ir.tensor(v.dtype, shape)
    batch.insert()


def _check_same(n1: ir.Node, n2: ir.Node) -> None:
    if (n1.op_type, n1.domain, len(n1.inputs)) != (n2.op_type, n2.domain, len(n2.inputs)):
        raise _NotDynamic(f"op sequences differ: {n1.op_type} vs {n2.op_type}")
    a1, a2 = n1.attributes, n2.attributes
    if set(a1) != set(a2):
        raise _NotDynamic(f"{n1.op_type} {n1.name!r}: attributes differ")
    for k in a1:
        x, y = a1[k].value, a2[k].value
        if isinstance(x, ir.Tensor):
            x, y = x.numpy(), y.numpy()
            same = x.shape == y.shape and np.array_equal(x, y)
        else:
            same = x == y
        if not same:
            raise _NotDynamic(f"{n1.op_type} {n1.name!r}: attribute {k} depends on the batch "
                              f"size ({a1[k].value!r} vs {a2[k].value!r})")


def _merged_type(v1: ir.Value, v2: ir.Value, b1: int, b2: int, name: str):
    s1, s2 = v1.shape, v2.shape
    if s1 is None or s2 is None or len(s1) != len(s2):
        return v1.type
    dims = []
    for d1, d2 in zip(s1, s2):
        if d1 == d2:
            dims.append(d1)
        elif d1 == b1 and d2 == b2:
            dims.append(name)
        else:
            dims.append(None)
    return ir.tensor(v1.dtype, dims)


def _ratio(c1: np.ndarray, c2: np.ndarray, b1: int, b2: int):
    """``(kind, a, b)`` with ``c = a * B + b`` (kind "mul") or ``c = a / B`` (kind "div"),
    per element (``a`` is 0 where ``c`` does not change). Two sizes determine any line, so
    an offset ``b`` is accepted only with whole ``a`` and ``b`` (``B - 1`` in an unbiased
    variance); ``a * B`` and ``a / B`` are checked by the two sizes."""
    x1, x2 = c1.astype(np.float64), c2.astype(np.float64)
    fixed = x1 == x2
    zero = np.zeros_like(x1)
    if np.allclose(np.where(fixed, 0, x1 * b2 - x2 * b1), 0, rtol=0, atol=1e-9 * b1 * b2):
        return "mul", np.where(fixed, 0, x1 / b1), np.where(fixed, x1, 0)
    if np.allclose(np.where(fixed, 0, x1 * b1 - x2 * b2), 0, rtol=1e-9, atol=1e-12):
        return "div", np.where(fixed, 0, x1 * b1), np.where(fixed, x1, 0)
    a = np.where(fixed, 0, (x1 - x2) / (b1 - b2))
    b = np.where(fixed, x1, x1 - a * b1)
    if np.array_equal(a, np.round(a)) and np.array_equal(b, np.round(b)) \
            and np.array_equal(a * b1 + b, x1) and np.array_equal(a * b2 + b, x2 + zero):
        return "mul", a, b
    raise _NotDynamic(f"a constant changes with the batch size in a way that is not a * B "
                      f"or a / B ({c1.ravel()[:4]} at {b1}, {c2.ravel()[:4]} at {b2})")


class _BatchSize:
    """Builds the nodes that compute batch-dependent constants from the input's shape."""

    def __init__(self, graph: ir.Graph, dims: dict):
        self.graph, self.nodes, self.count = graph, [], 0
        first = min(dims)
        self.source = graph.inputs[first]
        self.dim = min(dims[first])
        self.name = "batch" if all(ds == {0} for ds in dims.values()) else dim_name(self.dim)
        self._b: ir.Value | None = None
        self._casts: dict = {}

    def _node(self, op_type: str, inputs: list, **attrs) -> ir.Value:
        self.count += 1
        node = ir.Node(op_type, inputs, [ir.Attribute.infer(k, v) for k, v in attrs.items()],
                       name=f"dynamic/{op_type}_{self.count}")
        node.outputs[0].name = f"dynamic/{op_type}_{self.count}_out"
        self.nodes.append(node)
        return node.outputs[0]

    def _const(self, value: np.ndarray) -> ir.Value:
        self.count += 1
        return self.graph.add_initializer(f"dynamic/const_{self.count}",
                                          ir.Tensor(np.asarray(value)))

    def size(self, dtype) -> ir.Value:
        """The batch size as a 1-element tensor of ``dtype``."""
        if self._b is None:
            self._b = self._node("Shape", [self.source], start=self.dim, end=self.dim + 1)
        key = np.dtype(dtype).str
        if key not in self._casts:
            self._casts[key] = self._b if np.dtype(dtype) == np.int64 else self._node(
                "Cast", [self._b], to=int(ir.DType.from_numpy(np.dtype(dtype))))
        return self._casts[key]

    def constant(self, node: ir.Node, c1: np.ndarray, c2: np.ndarray, b1: int,
                 b2: int) -> ir.Value:
        if c1.shape != c2.shape:
            return self._fill(node, c1, c2, b1, b2)
        kind, a, offset = _ratio(c1, c2, b1, b2)
        fixed = np.asarray(offset).astype(c1.dtype)
        if c1.dtype.kind in "iu" and not np.array_equal(a, np.round(a)):
            raise _NotDynamic(f"{node.op_type} {node.name!r}: an integer constant is not a "
                              f"whole multiple of the batch size")
        b = self.size(c1.dtype)
        a_val = self._const(np.asarray(a, c1.dtype))
        term = self._node("Mul", [b, a_val]) if kind == "mul" else self._node("Div", [a_val, b])
        out = self._node("Add", [term, self._const(fixed)])
        if c1.ndim == 0:
            out = self._node("Reshape", [out, self._const(np.zeros((0,), np.int64))])
        return out

    def _fill(self, node: ir.Node, c1: np.ndarray, c2: np.ndarray, b1: int,
              b2: int) -> ir.Value:
        """A constant filled with one value whose shape depends on the batch size."""
        if c1.ndim != c2.ndim or c1.size == 0 or not (np.all(c1 == c1.flat[0])
                                                       and np.all(c2 == c1.flat[0])):
            raise _NotDynamic(f"{node.op_type} {node.name!r}: a constant's shape changes with "
                              f"the batch size and its values are not one fill value")
        shape = self.constant(node, np.asarray(c1.shape, np.int64),
                              np.asarray(c2.shape, np.int64), b1, b2)
        return self._node("Expand", [self._const(np.asarray(c1.flat[0], c1.dtype)), shape])

    def insert(self) -> None:
        if self.nodes:
            first = next(iter(self.graph), None)
            if first is None:
                self.graph.extend(self.nodes)
            else:
                self.graph.insert_before(first, self.nodes)

"""Tracing: run a Python function eagerly and record every op it runs as an ``ir.Graph``.

``dispatch.apply`` reports each op to the active ``Tracer`` (one module-global check when no
trace is running). Tensors map to ``ir.Value``s by the identity of their NumPy buffer first
(``detach()``, ``.data`` and autograd's stand-ins share it) and of the tensor object second
(a tensor whose buffer was swapped for an equal copy). A tensor the trace has not seen is
*captured*: a graph input when it is state (a parameter, a buffer, a ``.grad``, optimizer
state, anything written in place) and an initializer otherwise. In-place writes rebind the
written tensor to the value of its new content; state that ends the call holding a new value
becomes an extra output, written back after each compiled run.

    >>> import onyx
    >>> lin = onyx.nn.Linear(4, 2)
    >>> t = trace(lin, (onyx.randn(3, 4),), names=dict(lin.named_parameters()))
    >>> [n.op_type for n in t.model.graph]
    ['Gemm']
    >>> sorted(t.model.graph.initializers)
    ['bias', 'weight']
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from onyx import ir
from onyx.frontend import dispatch
from onyx.frontend.compile.errors import GraphBreak, TraceError
from onyx.frontend.compile.pytree import flatten, unflatten
from onyx.frontend.compile.state import Source, writebacks
from onyx.frontend.tensor import Tensor

_ONYX_DIR = str(Path(__file__).resolve().parents[2])


def user_frame() -> str:
    """``file:line: source`` of the innermost frame outside the onyx package."""
    import linecache
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_ONYX_DIR):
        f = f.f_back
    if f is None:
        return "<unknown>"
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}: {line}"


@dataclass
class Capture:
    """A tensor from outside the function, as a graph input or initializer."""
    value: ir.Value
    tensor: Tensor
    name: str
    source: Source | None
    state: bool
    initial: np.ndarray | None = None  # the value when captured (later writes change it)


@dataclass
class Traced:
    """The result of ``trace``: the model, the eager result, and how to bind a compiled run.

    ``model`` inputs are the flattened tensor arguments, then (when state is fed as inputs)
    one input per state capture (``state_inputs``); outputs are the flattened function
    outputs, then one per written-back state (``writebacks``).
    """
    model: ir.Model
    result: object
    out_tree: object
    num_user_inputs: int
    num_user_outputs: int
    state_inputs: list[Capture] = field(default_factory=list)
    writebacks: list[tuple[str, Source]] = field(default_factory=list)
    optimizers: list = field(default_factory=list)
    hyper_inputs: list[tuple[str, dict, str]] = field(default_factory=list)
    broken: str = ""
    initial_inputs: list = field(default_factory=list)  # argument values at the call


def type_of(a: np.ndarray) -> ir.TensorType:
    return ir.tensor(ir.DType.from_numpy(a.dtype), a.shape)


def _attribute(name: str, value) -> ir.Attribute:
    """An eager op's Python attribute as an ONNX-typed ``ir.Attribute``."""
    if isinstance(value, np.ndarray):
        return ir.Attribute(name, ir.AttrType.TENSOR, ir.Tensor(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list | tuple):
        value = [v.item() if isinstance(v, np.generic) else v for v in value]
        if not value:
            return ir.Attribute(name, ir.AttrType.INTS, [])
    try:
        return ir.Attribute.infer(name, value)
    except TypeError as exc:
        raise TraceError(f"attribute {name}={value!r} cannot be written as ONNX: {exc}") from exc


class Tracer:
    """Receives every op ``dispatch.apply`` runs while it is active (see the module doc)."""

    def __init__(self, names: dict | None = None, *, state_as_inputs: bool = False,
                 on_break: str = "error", modules: dict | None = None):
        self.graph = ir.Graph(name="traced")
        self.state_as_inputs, self.on_break = state_as_inputs, on_break
        self.broken = ""  # where a graph break stopped the trace (on_break="eager")
        self._pending_draw: str | None = None  # a random draw no graph op has claimed yet
        self.modules = modules or {}  # whose attributes may be replaced by the call
        self._by_data: dict[int, tuple] = {}     # id(ndarray) -> (Value, version obj, value)
        self._by_tensor: dict[int, tuple] = {}   # id(Tensor) -> (Value, version obj, value)
        self._keep: list = []                    # keeps ids stable for the trace's life
        self._dynamic: set = set()               # values that depend on inputs or state
        self.captures: list[Capture] = []
        self._captured: dict[int, Capture] = {}  # id(tensor) -> capture
        self._captured_data: dict[int, Capture] = {}  # id(ndarray) -> capture
        self._sources: dict[int, tuple[str, Source]] = {}
        self._source_by_data: dict[int, tuple[str, Source]] = {}
        self.optimizers: list = []
        self.hyper: dict[tuple[int, str, str], tuple[str, dict, str, ir.Value]] = {}
        self._count = 0
        for name, t in (names or {}).items():
            self.add_source(t, name, Source("tensor", t))

    # ------------------------------------------------------------------ naming
    def add_source(self, t: Tensor, name: str, source: Source) -> None:
        if isinstance(t, Tensor) and id(t) not in self._sources:
            self._sources[id(t)] = (name, source)
            # autograd's stand-ins and detach() share the buffer: find the name through it
            self._source_by_data.setdefault(id(t._data), (name, source))
            self._keep += [t, t._data]

    def _capture_of(self, t: Tensor) -> Capture | None:
        cap = self._captured.get(id(t))
        return cap if cap is not None else self._captured_data.get(id(t._data))

    def _fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    # ------------------------------------------------------------------ binding
    def bind(self, t: Tensor, value: ir.Value) -> None:
        entry = (value, t._version, t._version.value)
        self._by_data[id(t._data)] = entry
        self._by_tensor[id(t)] = entry
        self._keep.append(t)
        self._keep.append(t._data)

    def lookup(self, t: Tensor, check: bool = True) -> ir.Value | None:
        entry = self._by_data.get(id(t._data))
        if entry is None:
            entry = self._by_tensor.get(id(t))
            if entry is None:
                return None
        value, version, seen = entry
        if check and version is t._version and version.value != seen:
            raise TraceError(
                f"a tensor of shape {list(t.shape)} was changed in place in a way the tracer "
                f"cannot follow (a write through a view, or into its NumPy buffer) at "
                f"{user_frame()}; use out-of-place ops inside compiled code")
        return value

    def value_of(self, t: Tensor) -> ir.Value:
        v = self.lookup(t)
        return v if v is not None else self.capture(t)

    def capture(self, t: Tensor) -> ir.Value:
        named = self._sources.get(id(t)) or self._source_by_data.get(id(t._data))
        is_param = t.requires_grad and t.grad_fn is None
        state = named is not None or is_param
        if named is not None:
            name, source = named
        else:
            name = self._fresh("param" if is_param else "const")
            source = Source("tensor", t) if is_param else None
            if is_param:
                self._sources[id(t)] = (name, source)
                if t.grad is not None:
                    self.add_source(t.grad, f"{name}.grad", Source("grad", t))
        v = ir.Value(name, type_of(t._data))
        cap = Capture(v, t, name, source, state, np.array(t._data))
        self.captures.append(cap)
        self._captured[id(t)] = cap
        self._captured_data.setdefault(id(t._data), cap)
        if state:
            self._dynamic.add(v)
        self.bind(t, v)
        return v

    # ------------------------------------------------------------------ ops
    def record(self, op_type: str, domain: str, attrs: dict, inputs: tuple,
               outs: list) -> None:
        """One eager op: append its node and bind its outputs."""
        if self._pending_draw is not None:
            self.check_draws()
            if dispatch._TRACER is not self:
                return
        values = []
        for t in inputs:
            if t is None:
                values.append(None)
                continue
            v = self.value_of(t)
            if id(t) not in self._by_tensor:  # so a later copy of its buffer still maps
                self._by_tensor[id(t)] = (v, t._version, t._version.value)
                self._keep.append(t)
            values.append(v)
        attributes = [_attribute(k, a) for k, a in attrs.items() if a is not None]
        name = self._fresh(op_type)
        node = ir.Node(op_type, values, attributes, domain=domain, num_outputs=len(outs),
                       name=name)
        dynamic = any(v in self._dynamic for v in values if v is not None)
        for i, (out, t) in enumerate(zip(node.outputs, outs)):
            out.name = f"{name}_out{i}" if len(outs) > 1 else f"{name}_out"
            out.type = type_of(t._data)
            if dynamic:
                self._dynamic.add(out)
            self.bind(t, out)
        self.graph.append(node)

    def emit(self, op_type: str, inputs: list, outs: list, **attrs) -> list[ir.Value]:
        """Append a node whose eager result was computed outside ``apply`` (random draws)."""
        name = self._fresh(op_type)
        attributes = [_attribute(k, a) for k, a in attrs.items() if a is not None]
        node = ir.Node(op_type, inputs, attributes, num_outputs=len(outs), name=name)
        for out, t in zip(node.outputs, outs):
            out.name, out.type = f"{name}_out", type_of(t._data)
            self._dynamic.add(out)
            self.bind(t, out)
        self.graph.append(node)
        return list(node.outputs)

    def random_uniform(self, sample: Tensor, like: Tensor) -> None:
        """``sample`` (float64 in [0, 1), shaped like ``like``) is a fresh draw per run."""
        self._pending_draw = None
        self.emit("RandomUniformLike", [self.value_of(like)], [sample],
                  dtype=int(ir.DType.DOUBLE))

    def random_op(self, op_type: str, sample: Tensor, like: Tensor | None = None,
                  **attrs) -> None:
        """``sample`` was just drawn in Python by ``onyx.rand``/``randn``/...: in the graph it
        is ``op_type`` (RandomUniform[Like], RandomNormal[Like]), a fresh draw on every run."""
        self._pending_draw = None
        inputs = [] if like is None else [self.value_of(like)]
        self.emit(op_type, inputs, [sample], dtype=int(ir.DType.from_numpy(sample._data.dtype)),
                  **attrs)

    def written(self, t: Tensor, new: Tensor) -> None:
        """``ops/inplace.py`` wrote ``new`` into ``t``'s buffer."""
        self.rebind_written(t, new)
        if t._base is not None:
            self.rebind_view_base(t)

    def adopted(self, t: Tensor, new: Tensor) -> None:
        """``t`` became the recorded output ``new`` was (a view re-expressed on its base)."""
        self.bind(t, self.value_of(new))

    def rebind_written(self, t: Tensor, new: Tensor) -> None:
        """``t``'s buffer now holds ``new``'s value (an in-place op)."""
        cap = self._capture_of(t)
        if cap is None and self.lookup(t, check=False) is None:
            self.capture(t)  # written without being read: still state to write back
            cap = self._capture_of(t)
        if cap is not None and not cap.state:
            cap.state = True
            cap.source = Source("tensor", t)
            self._dynamic.add(cap.value)
        self.bind(t, self.value_of(new))

    def rebind_view_base(self, view: Tensor) -> None:
        """A write into a view's memory changed its base too: the base's new value is its old
        one with the view's elements scattered in (the ops ``inplace`` uses with autograd)."""
        from onyx.frontend.autograd.grad_mode import no_grad
        from onyx.frontend.ops.inplace import _stand_in, position_grid, scatter_positions
        base = view._base
        old = self.lookup(base, check=False)
        if old is None:
            return  # a base the trace never read: nothing refers to its old value
        self.bind(base, old)  # its version moved with the view's: re-read the old value
        with no_grad():
            positions = view._view_fn(position_grid(base.shape))
            new_base = scatter_positions(_stand_in(base), positions, view)
        self.bind(base, self.value_of(new_base))

    def check_read(self, t: Tensor, what: str) -> None:
        """Python is reading ``t``'s value: fine for constants, a graph break otherwise."""
        v = self.lookup(t)
        if v is not None and v in self._dynamic:
            where = user_frame()
            self._break(f"graph break: {what} reads the value of a traced tensor (shape "
                        f"{list(t.shape)}) into Python at {where}; the compiled graph cannot "
                        f"follow data-dependent Python control flow. Use tensor ops "
                        f"(onyx.where, masks) or compile with on_break='eager'", where)

    def random_draw(self) -> None:
        """Python drew random numbers (``onyx.randn``, ...): unless a graph op claims the draw
        (dropout does), its values would be frozen into the graph."""
        if self._pending_draw is None:
            self._pending_draw = user_frame()

    def check_draws(self) -> None:
        where, self._pending_draw = self._pending_draw, None
        if where is not None:
            self._break(f"graph break: a random draw at {where} would be frozen into the "
                        f"compiled graph (every run would reuse the same numbers); draw "
                        f"outside and pass the tensor as an argument, or compile with "
                        f"on_break='eager'", where)

    def _break(self, message: str, where: str) -> None:
        if self.on_break == "eager":
            # the rest of the call runs eagerly, once: no side effect is repeated
            self.broken = where
            dispatch._TRACER = None
            return
        raise GraphBreak(message, where)

    # ------------------------------------------------------------------ optimizers
    def register_optimizer(self, opt) -> None:
        """An optimizer's ``step`` runs: its state and hyperparameters become graph inputs."""
        if any(o is opt for o in self.optimizers):
            return
        self.optimizers.append(opt)
        names = self._param_names()
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                base = names.get(id(p), f"group{gi}.param{id(p) % 100000}")
                for key, v in opt.state.get(p, {}).items():
                    if isinstance(v, Tensor):
                        self.add_source(v, f"state.{base}.{key}",
                                        Source("state", opt.state[p], key))

    def hyperparameter(self, group: dict, key: str, like: Tensor) -> Tensor:
        """``group[key]`` as a tensor the graph reads as an input (so changing it is no
        retrace), or a plain constant outside a trace."""
        value = Tensor._wrap(np.asarray(group[key], dtype=like._data.dtype))
        hk = (id(group), key, value._data.dtype.str)
        entry = self.hyper.get(hk)
        if entry is None:
            gi = len(self.hyper)
            name = f"hyper.{key}" if gi == 0 else f"hyper{gi}.{key}"
            v = ir.Value(name, type_of(value._data))
            self.hyper[hk] = entry = (name, group, key, v)
            self._keep.append(group)
        self._dynamic.add(entry[3])
        self.bind(value, entry[3])
        return value

    def _param_names(self) -> dict[int, str]:
        return {id(src.owner): name for name, src in self._sources.values()
                if src.kind == "tensor"}

    def grad_sources(self) -> None:
        """Each named tensor's ``.grad`` is state too (read if it exists, written if set)."""
        for name, src in list(self._sources.values()):
            if src.kind == "tensor" and isinstance(src.owner, Tensor) \
                    and src.owner.requires_grad and src.owner.grad is not None:
                self.add_source(src.owner.grad, f"{name}.grad", Source("grad", src.owner))


# ---------------------------------------------------------------------------- the trace
@contextlib.contextmanager
def tracing(tracer: Tracer):
    """Make ``tracer`` receive every op. ``dispatch._TRACER`` is also read by the in-place
    write path (``ops/inplace.py`` reports each write) and by the random generator (each
    draw), so those reach the tracer too."""
    if dispatch._TRACER is not None:
        raise TraceError("a trace is already running: compiled functions cannot nest while "
                         "tracing")
    dispatch._TRACER = tracer
    try:
        yield tracer
        if dispatch._TRACER is tracer:
            tracer.check_draws()
    finally:
        dispatch._TRACER = None


def _flat_args(args: tuple, kwargs: dict) -> list[Tensor]:
    leaves = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor | tuple | list | dict):
            leaves += flatten(a, f"argument {i}")[0]
    for k, a in kwargs.items():
        if isinstance(a, Tensor | tuple | list | dict):
            leaves += flatten(a, f"argument {k!r}")[0]
    return leaves


def trace(fn, args: tuple, kwargs: dict | None = None, *, names: dict | None = None,
          dynamic: dict[int, set[int]] | bool = False, input_names: list[str] | None = None,
          output_names: list[str] | None = None, state_as_inputs: bool = False,
          on_break: str = "error", modules: dict | None = None) -> Traced:
    """Run ``fn(*args, **kwargs)`` eagerly and return its ops as a ``Traced`` model.

    ``names`` maps names to tensors the function uses from outside (``dict(
    model.named_parameters())``); they become initializers (or inputs with
    ``state_as_inputs``) under those names. ``dynamic`` marks input dims symbolic: ``True``
    for dim 0 of every input, or ``{input_index: {dims}}``.
    """
    kwargs = dict(kwargs or {})
    flat_in = _flat_args(args, kwargs)
    if dynamic:
        return _trace_dynamic(fn, args, kwargs, names, dynamic, len(flat_in), input_names,
                              output_names, state_as_inputs)
    tracer = Tracer(names, state_as_inputs=state_as_inputs, on_break=on_break,
                    modules=modules)
    tracer.grad_sources()
    in_values = []
    for i, t in enumerate(flat_in):
        name = input_names[i] if input_names and i < len(input_names) else f"input_{i}"
        v = ir.Value(name, type_of(t._data))
        tracer._dynamic.add(v)
        tracer.bind(t, v)
        in_values.append(v)
    initial = [np.array(t._data) for t in flat_in]
    with tracing(tracer):
        result = fn(*args, **kwargs)
    if tracer.broken:
        return Traced(ir.Model(tracer.graph), result, None, 0, 0, broken=tracer.broken)
    traced = finish(tracer, result, in_values, dynamic=dynamic, output_names=output_names)
    traced.initial_inputs = initial
    return traced


def _trace_dynamic(fn, args, kwargs, names, dynamic, num_inputs, input_names, output_names,
                   state_as_inputs) -> Traced:
    from onyx.frontend.compile.dynamic import _NotDynamic, dims_of, trace_dynamic
    dims = dims_of(dynamic, num_inputs)
    try:
        traced, failure = trace_dynamic(fn, args, kwargs, dims, dict(names or {}), [],
                                        names=names, input_names=input_names,
                                        output_names=output_names,
                                        state_as_inputs=state_as_inputs)
    except _NotDynamic as exc:
        failure = str(exc)
    if failure:
        raise TraceError(f"trace: the dims {dims} cannot be made dynamic: {failure}")
    return traced


def finish(tracer: Tracer, result, in_values: list, *, dynamic=False,
           output_names: list[str] | None = None) -> Traced:
    """Close the graph: inputs, initializers, outputs and write-backs."""
    from onyx.frontend.compile.dynamic import mark_dynamic
    leaves, tree = flatten(result, "the output")
    g = tracer.graph
    for v in in_values:
        v.graph = g
        g.inputs.append(v)
    outs = [_output_value(tracer, t) for t in leaves]
    state_inputs = _place_captures(tracer)
    written = writebacks(tracer, outs)
    for k, v in enumerate(outs):
        if output_names and k < len(output_names):
            v.name = output_names[k]
        elif not v.name.startswith("new."):
            v.name = f"output_{k}"
    g.outputs.extend(outs)
    model = ir.Model(g, opset_imports={"": dispatch.OPSET}, producer_name="onyx.compile")
    used = {n.domain for n in g if n.domain}
    for d in used:
        model.opset_imports[d] = dispatch.DOMAIN_OPSETS.get(d, 1)
    if dynamic:
        mark_dynamic(model, dynamic, len(in_values))
    return Traced(model, result, tree, len(in_values), len(leaves), state_inputs,
                  [(name, src) for name, src in written], list(tracer.optimizers),
                  [(name, group, key) for name, group, key, _ in tracer.hyper.values()])


def _output_value(tracer: Tracer, t: Tensor) -> ir.Value:
    v = tracer.value_of(t)
    if v.producer is None or any(o is v for o in tracer.graph.outputs):
        # an input, initializer or repeated output: an Identity gives it its own name
        node = ir.Node("Identity", [v], name=tracer._fresh("Identity"))
        node.outputs[0].type = v.type
        tracer.graph.append(node)
        return node.outputs[0]
    return v


def _place_captures(tracer: Tracer) -> list[Capture]:
    g = tracer.graph
    state_inputs = []
    for cap in tracer.captures:
        v = cap.value
        v.graph = g
        if cap.state and tracer.state_as_inputs:
            g.inputs.append(v)
            state_inputs.append(cap)
        else:
            v.const = ir.Tensor(cap.initial)
            g.initializers[v.name] = v
    for name, group, key, v in tracer.hyper.values():
        v.graph = g
        if tracer.state_as_inputs:
            g.inputs.append(v)
        else:
            v.const = ir.Tensor(np.asarray(group[key], dtype=v.dtype.numpy))
            g.initializers[name] = v
    return state_inputs


__all__ = ["GraphBreak", "Source", "TraceError", "Traced", "Tracer", "flatten", "trace",
           "unflatten"]

"""``onyx.compile``: a callable that traces on the first call per signature, then runs the
cached, optimized graph.

    >>> import onyx
    >>> model = onyx.nn.Sequential(onyx.nn.Linear(4, 8), onyx.nn.ReLU()).eval()
    >>> fast = onyx.compile(model)
    >>> y = fast(onyx.randn(2, 4))        # traces, optimizes, prepares; returns the eager run
    >>> y = fast(onyx.randn(2, 4))        # runs the cached graph
    >>> fast.num_graphs
    1

State the function reads from outside (parameters, buffers, ``.grad``, optimizer state, the
learning rate) is fed to the graph as inputs on every call, so updates made between calls are
seen without a retrace; state the call changes is written back after the run.
"""

from __future__ import annotations

import inspect
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from onyx.frontend import dispatch
from onyx.frontend.autograd.grad_mode import is_grad_enabled
from onyx.frontend.compile import guards
from onyx.frontend.compile.trace import GraphBreak, Traced, TraceError, flatten, unflatten
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

BACKENDS = ("numpy", "cuda")


class RecompileError(OnyxError):
    """A compiled function was retraced more often than ``max_recompiles`` allows."""


@dataclass
class Entry:
    """One cached graph: the trace, the prepared runner and the guards it was made under."""
    traced: Traced
    runner: object
    guards: list
    hits: int = 0
    feed_order: list = field(default_factory=list)
    hyper_dtypes: dict = field(default_factory=dict)
    backend: str = "numpy"
    # a forward that did not run backward itself: its outputs get a gradient record
    differentiable: bool = False
    gradient: object = None

    def run(self, args: tuple, kwargs: dict):
        t = self.traced
        flat = _flat_tensors(args, kwargs)
        feeds = [x._data for x in flat]
        state = [cap.source.read() for cap in t.state_inputs]
        feeds += [x._data for x in state]
        for name, group, key in t.hyper_inputs:
            feeds.append(np.asarray(group[key], dtype=self.hyper_dtypes[name]))
        ordered = [feeds[i] for i in self.feed_order] if self.feed_order else feeds
        outs = list(self.runner.run(ordered))
        n = t.num_user_outputs
        for (_, src), arr in zip(t.writebacks, outs[n:]):
            src.write(np.asarray(arr))
        ids = {id(f) for f in feeds}
        tensors = [Tensor._wrap(np.array(o) if id(o) in ids else np.asarray(o))
                   for o in outs[:n]]
        self.hits += 1
        if self.differentiable and is_grad_enabled():
            self._attach_backward(flat + state, feeds, tensors)
        return unflatten(tensors, t.out_tree)

    def _attach_backward(self, tensors: list, feeds: list, outputs: list) -> None:
        """Outputs of a compiled forward in grad mode still support ``backward()``."""
        from onyx.frontend.compile.differentiable import GradientProgram, attach
        if self.gradient is None:
            wrt = [i for i, x in enumerate(tensors) if x.requires_grad]
            if not wrt:
                self.differentiable = False
                return
            self.gradient = GradientProgram(self.traced, wrt, self.backend)
        attach(self.gradient, feeds, [tensors[i] for i in self.gradient.wrt], outputs)


def _flat_tensors(args: tuple, kwargs: dict) -> list[Tensor]:
    leaves = []
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor | tuple | list | dict) and not guards._is_plain(a):
            leaves += flatten(a, "argument")[0]
    return leaves


def discover(fn) -> tuple[dict[str, object], object, list]:
    """The modules ``fn`` uses (by variable name; ``""`` when ``fn`` is one), the module when
    ``fn`` is one, and the optimizers ``fn`` refers to."""
    from onyx.frontend.nn.module import Module
    from onyx.frontend.optim.optimizer import Optimizer
    if isinstance(fn, Module):
        return {"": fn}, fn, []
    found: dict[str, object] = {}
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found.update(vars(owner) if hasattr(owner, "__dict__") else {})
        if isinstance(owner, Module):
            found = {"": owner}
    target = inspect.unwrap(getattr(fn, "__func__", fn))
    if inspect.isfunction(target):
        cv = inspect.getclosurevars(target)
        found.update(cv.nonlocals)
        found.update(cv.globals)
    for k, v in list(found.items()):
        if isinstance(v, CompiledFunction):  # a compiled module used inside: its modules
            found.update({f"{k}.{n}" if n else k: m for n, m in v.modules.items()})
    modules = {k: v for k, v in found.items() if isinstance(v, Module)}
    optimizers = [v for v in found.values() if isinstance(v, Optimizer)]
    module = modules[""] if "" in modules else None
    return modules, module, optimizers


def module_state(modules: dict) -> dict[str, Tensor]:
    """Parameters and buffers of ``modules`` by name (prefixed by variable when several)."""
    prefix = len(modules) > 1
    state: dict[str, Tensor] = {}
    seen: set[int] = set()
    for var, m in modules.items():
        pre = f"{var}." if prefix and var else ""
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                state[pre + name] = t
    return state


class CompiledFunction:
    """What ``onyx.compile`` returns; see the module docstring."""

    def __init__(self, fn, *, backend: str = "numpy", dynamic=None, passes=None,
                 verify: bool = False, on_break: str = "error", max_recompiles: int = 8):
        if backend not in BACKENDS:
            raise OnyxError(f"onyx.compile: unknown backend {backend!r}; choose one of "
                            f"{list(BACKENDS)}")
        if on_break not in ("error", "eager"):
            raise OnyxError(f"onyx.compile: on_break must be 'error' or 'eager', not "
                            f"{on_break!r}")
        if not callable(fn):
            raise OnyxError(f"onyx.compile needs a function or an nn.Module, got "
                            f"{type(fn).__name__}")
        self.fn, self.backend, self.passes = fn, backend, passes
        self.verify, self.on_break, self.max_recompiles = verify, on_break, max_recompiles
        self._dynamic_arg = dynamic
        self.modules, self.module, self.optimizers = discover(fn)
        self.state = module_state(self.modules)
        self._module_list: list | None = None  # submodules, for the per-call state check
        self._state_ids: list = []
        self._dims: dict[int, set[int]] = {}
        self._dynamic_on = dynamic is True or isinstance(dynamic, dict)
        self._entries: dict[tuple, Entry] = {}
        self._eager: dict[tuple, str] = {}   # signatures that run eagerly (graph breaks)
        self._log: list[str] = []
        self._changed: Counter = Counter()
        self._last: list | None = None
        self.num_traces = 0
        self.num_recompiles = 0
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def num_graphs(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ calls
    def signature(self, args: tuple, kwargs: dict) -> list:
        if self._dynamic_on and not self._dims:
            n = len(_flat_tensors(args, kwargs))
            from onyx.frontend.compile.dynamic import dims_of
            self._dims = dims_of(True if self._dynamic_arg in (None, True) else
                                 self._dynamic_arg, n)
        self._refresh_state()
        return (guards.argument_guards(args, kwargs, self._dims)
                + guards.state_guards(self.module, self.state, self.optimizers))

    def _refresh_state(self) -> None:
        """Re-read the named state when a parameter or buffer was replaced by a new object
        (then its guard fails); a cheap identity check over the modules' dicts otherwise."""
        if self._module_list is None:
            self._module_list = [m for root in self.modules.values() for m in root.modules()]
        ids = [id(t) for m in self._module_list for d in (m._parameters, m._buffers)
               for t in d.values()]
        if ids != self._state_ids:
            self.state = module_state(self.modules)
            self._state_ids = ids

    def __call__(self, *args, **kwargs):
        if dispatch._TRACER is not None:
            # called inside another trace: its ops become part of the outer graph
            return self.fn(*args, **kwargs)
        sig = self.signature(args, kwargs)
        key = tuple(sig)
        entry = self._entries.get(key)
        if entry is not None:
            return entry.run(args, kwargs)
        if key in self._eager:
            return self.fn(*args, **kwargs)
        self._check_call(args, kwargs)
        sig, key = self._note_miss(sig, args, kwargs)
        entry = self._entries.get(key)
        if entry is not None:
            return entry.run(args, kwargs)
        return self._compile(sig, key, args, kwargs)

    def _check_call(self, args: tuple, kwargs: dict) -> None:
        """A call that does not fit the function's parameters: a clear error, not a trace."""
        target = self.fn.forward if self.module is self.fn else self.fn
        try:
            params = inspect.signature(target)
        except (TypeError, ValueError):
            return
        try:
            params.bind(*args, **kwargs)
        except TypeError as exc:
            raise OnyxError(f"onyx.compile({self.__name__}): the call does not match "
                            f"{self.__name__}{params}: {exc}") from None

    def _note_miss(self, sig: list, args: tuple, kwargs: dict) -> tuple[list, tuple]:
        """Log why a retrace happens; turn dynamic batch on; stop a recompile storm."""
        if self._last is None:
            return sig, tuple(sig)
        changes = guards.diff(self._last, sig)
        if tuple(sig) == tuple(self._last):  # the call after a warm-up: the first real trace
            return sig, tuple(sig)
        if self._dynamic_arg is None and not self._dynamic_on \
                and guards.batch_only(self._last, sig):
            self._dynamic_on = True
            self._log.append("a second batch size: dim 0 of every input is now dynamic")
            sig = self.signature(args, kwargs)
            if tuple(sig) in self._entries:
                return sig, tuple(sig)
        for label, _ in _changed_labels(self._last, sig):
            self._changed[label] += 1
        self.num_recompiles += 1
        self._log.append(f"retrace {self.num_recompiles}: " + ("; ".join(changes) or
                                                              "signature changed"))
        if self.num_recompiles > self.max_recompiles:
            self._storm(changes)
        return sig, tuple(sig)

    def _storm(self, changes: list[str]) -> None:
        label, count = self._changed.most_common(1)[0] if self._changed else ("?", 0)
        hint = ""
        if "shape" in label:
            hint = ("; if the batch size varies, compile with dynamic=True so one graph "
                    "serves every batch size")
        raise RecompileError(f"onyx.compile({self.__name__}): recompiled "
                             f"{self.num_recompiles} times (max_recompiles="
                             f"{self.max_recompiles}); the guard that keeps changing is "
                             f"{label!r} ({count} times; last change: "
                             f"{'; '.join(changes)}){hint}")

    def _compile(self, sig: list, key: tuple, args: tuple, kwargs: dict):
        from onyx.frontend.compile.dynamic import trace_for_compile
        self.num_traces += 1
        dims = self._dims
        traced = trace_for_compile(self, args, kwargs)
        if self._dims != dims:  # dynamic batch could not be reconciled: per-shape graphs
            n = len(guards.argument_guards(args, kwargs, dims))
            sig = guards.argument_guards(args, kwargs, self._dims) + sig[n:]
            key = tuple(sig)
        if traced.broken:
            self._eager[key] = traced.broken
            self._last = sig
            warnings.warn(f"onyx.compile({self.__name__}): graph break at {traced.broken}; "
                          f"this signature runs eagerly", stacklevel=3)
            return traced.result
        for opt in traced.optimizers:
            if not any(o is opt for o in self.optimizers):
                self.optimizers.append(opt)
        after = self.signature(args, kwargs)
        if tuple(after) != key:
            # the call changed what it is guarded on (an optimizer made its state): it was a
            # warm-up; the next call traces the steady state
            self._log.append("warm-up call ran eagerly: " + "; ".join(guards.diff(sig, after)))
            self._last = after
            return traced.result
        self._entries[key] = self._prepare(traced, sig)
        self._last = sig
        return traced.result

    def _prepare(self, traced: Traced, sig: list) -> Entry:
        from onyx.frontend.compile.backends import optimize_model, prepare_model
        model = optimize_model(traced.model, self.passes)
        runner = prepare_model(model, self.backend)
        entry = Entry(traced, runner, sig, backend=self.backend)
        entry.differentiable = not any(src.kind == "grad" for _, src in traced.writebacks) \
            and any(v.dtype is not None and v.dtype.numpy.kind in "fc"
                    for v in traced.model.graph.outputs[:traced.num_user_outputs])
        entry.hyper_dtypes = {v.name: v.dtype.numpy for v in traced.model.graph.inputs
                              if v.name.startswith("hyper")}
        wanted = [v.name for v in traced.model.graph.inputs]
        got = [v.name for v in model.graph.inputs]
        if got != wanted:
            entry.feed_order = [wanted.index(n) for n in got]
        if self.verify:
            from onyx.frontend.compile.verify import verify_model
            verify_model(model, _feeds_at_trace(entry, traced))
        check_trace(entry, traced, model)
        return entry

    # ------------------------------------------------------------------ reporting
    def explain(self) -> str:
        """The guards of each cached graph and, for each retrace, what changed."""
        lines = [f"onyx.compile({self.__name__}): {len(self._entries)} graph(s), "
                 f"{self.num_traces} trace(s), {len(self._eager)} eager signature(s)"]
        for i, entry in enumerate(self._entries.values()):
            g = entry.traced.model.graph
            lines.append(f"graph {i}: {len(g)} nodes traced, {len(g.inputs)} inputs, "
                         f"{entry.hits} cached calls; guards:")
            lines += [f"  {label} == {guards.describe_value(label, value)}"
                      for label, value in entry.guards]
        for where in self._eager.values():
            lines.append(f"eager (graph break at {where})")
        lines += self._log
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<onyx.compile of {self.__name__}: {len(self._entries)} graph(s)>"


def _changed_labels(old: list, new: list) -> list:
    before = dict(old)
    return [(label, v) for label, v in new if before.get(label, object()) != v]


def _feeds_at_trace(entry: Entry, traced: Traced) -> list:
    """The graph's inputs as they were when the trace's eager run started."""
    feeds = list(traced.initial_inputs) + [cap.initial for cap in traced.state_inputs]
    feeds += [np.asarray(group[key], dtype=entry.hyper_dtypes[name])
              for name, group, key in traced.hyper_inputs]
    return [feeds[i] for i in entry.feed_order] if entry.feed_order else feeds


def check_trace(entry: Entry, traced: Traced, model) -> None:
    """Run the prepared graph on the traced call's inputs and compare with its eager results:
    a write into a buffer that bypassed the ops (so the graph never saw it) shows up here.
    (A value computed from a buffer outside the ops becomes a constant that reproduces this
    call; only a graph break on ``numpy()``/``item()``/``np.asarray`` catches that.)"""
    if any(n.op_type.startswith(("Random", "Bernoulli", "Multinomial")) for n in model.graph):
        return  # fresh draws differ by design
    outs = entry.runner.run(_feeds_at_trace(entry, traced))
    expected = [t._data for t in flatten(traced.result, "the output")[0]]
    expected += [src.read()._data for _, src in traced.writebacks]
    names = [v.name for v in model.graph.outputs]
    for name, got, want in zip(names, outs, expected):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4,
                                                      equal_nan=True):
            err = "shape " + str(got.shape) if got.shape != want.shape else \
                f"max error {float(np.abs(got.astype(np.float64) - want).max()):.3g}"
            raise TraceError(f"the compiled graph does not reproduce the traced call: output "
                             f"{name!r} differs ({err}); code inside the function wrote into "
                             f"a tensor's NumPy buffer directly, outside the traced ops")


def compile(model_or_fn=None, *, backend: str = "numpy", dynamic=None, passes=None,
            verify: bool = False, on_break: str = "error", max_recompiles: int = 8):
    """Compile an ``nn.Module`` or a function (also usable as ``@onyx.compile(...)``).

    ``dynamic``: ``True`` (dim 0 of every input symbolic), ``False`` (one graph per shape),
    ``None`` (turn dynamic on when a second batch size shows up) or ``{input: {dims}}``.
    ``passes``: ``None`` (level 2), an optimization level, or a list of pass names.
    ``verify``: check every node of a new graph against ``onnx.reference``.
    ``on_break``: ``"error"`` raises ``GraphBreak``; ``"eager"`` runs that signature eagerly.
    """
    options = dict(backend=backend, dynamic=dynamic, passes=passes, verify=verify,
                   on_break=on_break, max_recompiles=max_recompiles)
    if model_or_fn is None:
        return lambda fn: CompiledFunction(fn, **options)
    return CompiledFunction(model_or_fn, **options)


__all__ = ["CompiledFunction", "GraphBreak", "RecompileError", "compile"]

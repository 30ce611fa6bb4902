"""Eager op dispatch: run the op's NumPy kernel at once and leave a record for autograd.

Every frontend op goes through ``apply``: the same kernel the graph executor uses (DESIGN.md
principle 4), so eager and compiled results cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import KernelContext, lookup
from onyx.backends.numpy.values import describe_value
from onyx.frontend.autograd.grad_mode import is_grad_enabled
from onyx.frontend.autograd.record import Record
from onyx.ir.errors import NodeError, OnyxError, UnsupportedOpError

OPSET = 21           # the default-domain opset eager ops are recorded in
DOMAIN_OPSETS = {"": OPSET, "ai.onnx.ml": 5, "ai.onnx.preview.training": 1}

_kernels: dict[tuple[str, str], tuple] = {}

# The active ``onyx.frontend.compile.trace.Tracer`` (None in eager mode): every op is
# reported to it. One module-global check keeps the eager path as fast as before.
_TRACER = None


def _kernel(op_type: str, domain: str):
    entry = _kernels.get((domain, op_type))
    if entry is None:
        found = lookup(op_type, domain, DOMAIN_OPSETS.get(domain, 1))
        if found is None:
            raise UnsupportedOpError(op_type, domain, DOMAIN_OPSETS.get(domain), backend="eager")
        entry = _kernels[(domain, op_type)] = (found.fn, found.wants_ctx)
    return entry


def run_kernel(op_type: str, arrays: list, attrs: dict, num_outputs: int = 1,
               domain: str = ""):
    """Run one kernel on arrays; returns a tuple of ``num_outputs`` results."""
    fn, wants_ctx = _kernel(op_type, domain)
    try:
        if wants_ctx:
            ctx = KernelContext(opset=DOMAIN_OPSETS.get(domain, 1), num_outputs=num_outputs,
                                outputs_wanted=(True,) * num_outputs)
            result = fn(ctx, *arrays, **attrs)
        else:
            result = fn(*arrays, **attrs)
    except OnyxError as exc:
        raise type(exc)(f"{op_type}: {exc}") from exc
    except Exception as exc:
        shapes = ", ".join(describe_value(a) for a in arrays)
        raise NodeError(f"{op_type} failed on inputs ({shapes}): {type(exc).__name__}: "
                        f"{exc}") from exc
    if not isinstance(result, tuple):
        result = (result,)
    return result


def apply(op_type: str, *inputs, num_outputs: int = 1, domain: str = "", **attrs):
    """Run ``op_type`` on tensors (``None`` for a missing optional input) and record it.

        >>> y = apply("Mul", x, x)              # doctest: +SKIP
    """
    arrays = [None if t is None else t._data for t in inputs]
    entry = _kernels.get((domain, op_type))
    result = None
    if entry is not None and not entry[1] and num_outputs == 1:
        try:  # fast path: a cached single-output kernel; errors are reported by run_kernel
            result = entry[0](*arrays, **attrs)
        except Exception:
            result = None
    wrap = _tensor_class()._wrap
    if result is not None:
        if isinstance(result, tuple):
            result = result[0]
        outs = [wrap(result if type(result) is np.ndarray else np.asarray(result))]
    else:
        results = run_kernel(op_type, arrays, attrs, num_outputs, domain)
        outs = [wrap(r if type(r) is np.ndarray else np.asarray(r))
                for r in results[:num_outputs]]
    if is_grad_enabled():
        for t in inputs:
            if t is not None and t.requires_grad:
                _record(op_type, attrs, inputs, outs, domain)
                break
    if _TRACER is not None:  # onyx.compile is tracing: the op becomes a graph node
        _TRACER.record(op_type, domain, attrs, inputs, outs)
    return outs[0] if num_outputs == 1 else tuple(outs)


def _record(op_type: str, attrs: dict, inputs: tuple, outs: list, domain: str) -> None:
    record = Record(op_type, attrs, inputs, outs, domain=domain)
    for i, t in enumerate(outs):
        if t._data.dtype.kind in "fc" or t.dtype.is_floating_point:
            t.requires_grad = True
            t.grad_fn, t._out_index = record, i


_TENSOR = None


def _tensor_class():
    global _TENSOR
    if _TENSOR is None:
        from onyx.frontend.tensor import Tensor
        _TENSOR = Tensor
    return _TENSOR

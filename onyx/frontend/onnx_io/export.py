"""``onyx.onnx.export``: a module's forward pass as a standard ``.onnx`` file.

The forward pass is traced (``onyx.compile``'s tracer: each eager op is an ONNX node), the
parameters and buffers become initializers under their ``state_dict`` names, and the model is
lightly optimized and written atomically. The arguments mean what they mean for
``torch.onnx.export``:

    >>> import onyx                                                    # doctest: +SKIP
    >>> model = onyx.nn.Linear(4, 2)
    >>> onyx.onnx.export(model, (onyx.randn(3, 4),), "linear.onnx", input_names=["x"],
    ...                  output_names=["y"], dynamic_axes={"x": {0: "batch"}})
"""

from __future__ import annotations

import io
import os

import numpy as np
import onnx

from onyx import ir
from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import ModelError, OnyxError
from onyx.ir.types import TensorType


def export(model, args, f, *, input_names: list[str] | None = None,
           output_names: list[str] | None = None, dynamic_axes: dict | None = None,
           opset_version: int | None = None, do_constant_folding: bool = True,
           export_params: bool = True, verbose: bool = False) -> None:
    """Write ``model(*args)`` as ONNX to ``f`` (a path or a binary file object)."""
    built = export_model(model, args, input_names=input_names, output_names=output_names,
                         dynamic_axes=dynamic_axes, opset_version=opset_version,
                         do_constant_folding=do_constant_folding, export_params=export_params)
    if verbose:
        print(ir.format_model(built))
    if isinstance(f, str | os.PathLike):
        ir.save(built, os.fspath(f))
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(ir.to_onnx(built).SerializeToString())
    else:
        raise OnyxError(f"export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")


def export_model(model, args, *, input_names: list[str] | None = None,
                 output_names: list[str] | None = None, dynamic_axes: dict | None = None,
                 opset_version: int | None = None, do_constant_folding: bool = True,
                 export_params: bool = True) -> ir.Model:
    """The ``ir.Model`` ``export`` writes (nothing is written)."""
    from onyx.frontend.compile.trace import trace
    from onyx.frontend.nn.module import Module
    args = _as_args(args)
    dynamic = _dynamic_dims(dynamic_axes, input_names, len(args))
    names = None
    was_training = None
    if isinstance(model, Module):
        names = dict(model.named_parameters()) | dict(model.named_buffers())
        was_training = model.training
        model.eval()
    elif not callable(model):
        raise OnyxError(f"export: model must be an nn.Module or a callable, got "
                        f"{type(model).__name__}")
    try:
        with no_grad():
            traced = trace(model, args, names=names, dynamic=dynamic or False,
                           input_names=input_names, output_names=output_names)
    finally:
        if was_training is not None:
            model.train(was_training)
    built = traced.model
    built.producer_name, built.producer_version = "onyx", _version()
    if dynamic_axes:
        _name_dims(built.graph, dynamic_axes)
    if do_constant_folding:
        from onyx.passes.pipeline import optimize
        built, _ = optimize(built, level=1)
    if not export_params:
        _params_as_inputs(built.graph)
    if opset_version is not None and opset_version != built.opset:
        built = _convert(built, opset_version, args)
    return built


def _as_args(args) -> tuple:
    if isinstance(args, Tensor):
        return (args,)
    if isinstance(args, list | tuple):
        if not args:
            raise OnyxError("export: no example inputs given (args is empty); pass the tensors "
                            "the model is called with, e.g. (torch-style) (x,)")
        return tuple(args)
    raise OnyxError(f"export: args must be a Tensor or a tuple of example inputs, got "
                    f"{type(args).__name__}")


def _dynamic_dims(dynamic_axes: dict | None, input_names: list[str] | None,
                  num_args: int) -> dict[int, set[int]]:
    """torch's ``dynamic_axes`` ({name: {dim: label}} or {name: [dims]}) for the inputs, as
    the tracer's ``{input index: {dims}}``."""
    if not dynamic_axes:
        return {}
    names = list(input_names or [])
    dims: dict[int, set[int]] = {}
    for name, axes in dynamic_axes.items():
        if not isinstance(axes, dict | list | tuple):
            raise OnyxError(f"export: dynamic_axes[{name!r}] must be a dict {{dim: name}} or a "
                            f"list of dims, got {type(axes).__name__}")
        if name in names:
            index = names.index(name)
            if index >= num_args:
                raise OnyxError(f"export: dynamic_axes names input {name!r}, but only "
                                f"{num_args} example inputs were given")
            dims[index] = {int(d) for d in axes}
    return dims


def _labels(dynamic_axes: dict) -> dict[str, dict[int, str]]:
    out = {}
    for name, axes in dynamic_axes.items():
        if isinstance(axes, dict):
            out[name] = {int(d): str(label) for d, label in axes.items()}
        else:
            out[name] = {int(d): f"{name}_dynamic_axes_{k + 1}" for k, d in enumerate(axes)}
    return out


def _name_dims(graph: ir.Graph, dynamic_axes: dict) -> None:
    """Give the symbolic dims the user's labels, inputs first; output dims the user marks
    become symbolic too (the tracer names one symbol per trace)."""
    labels = _labels(dynamic_axes)
    rename: dict[str, str] = {}
    for v in graph.inputs:
        for d, label in labels.get(v.name, {}).items():
            shape = _shape(v)
            if shape is not None and d < len(shape) and isinstance(shape[d], str):
                rename.setdefault(shape[d], label)
    for v in _typed_values(graph):
        shape = _shape(v)
        if shape is not None and any(isinstance(d, str) and d in rename for d in shape):
            v.type = TensorType(v.type.dtype, tuple(rename.get(d, d) if isinstance(d, str)
                                                    else d for d in shape))
    for v in list(graph.inputs) + list(graph.outputs):
        marks = labels.get(v.name)
        shape = _shape(v)
        if marks and shape is not None:
            new = list(shape)
            for d, label in marks.items():
                if d >= len(new):
                    raise OnyxError(f"export: dynamic_axes marks dim {d} of {v.name!r}, which "
                                    f"has rank {len(new)}")
                new[d] = label
            v.type = TensorType(v.type.dtype, tuple(new))


def _shape(v: ir.Value):
    return v.type.shape if isinstance(v.type, TensorType) else None


def _typed_values(graph: ir.Graph):
    yield from graph.inputs
    for node in graph:
        yield from node.outputs
    yield from graph.outputs


def _params_as_inputs(graph: ir.Graph) -> None:
    """``export_params=False``: the weights become graph inputs without values."""
    for name, v in list(graph.initializers.items()):
        del graph.initializers[name]
        v.const = None
        if v not in graph.inputs:
            graph.inputs.append(v)


def _convert(model: ir.Model, opset: int, args: tuple) -> ir.Model:
    """``model`` at ai.onnx ``opset`` through onnx's version converter, checked by running
    both on the example inputs."""
    from onnx import version_converter

    from onyx.backend import prepare
    try:
        proto = version_converter.convert_version(ir.to_onnx(model), opset)
    except Exception as exc:  # the converter raises RuntimeError, ValidationError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"export: onnx's version converter cannot take the traced model "
                         f"from opset {model.opset} to {opset}: {first}") from None
    onnx.checker.check_model(proto)
    converted = ir.from_onnx(proto)
    feeds = [np.asarray(a._data) for a in args if isinstance(a, Tensor)]
    want = prepare(model).run(list(feeds))
    got = prepare(converted).run(list(feeds))
    for name, a, b in zip(model.graph.outputs, want, got):
        if not np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True):
            raise ModelError(f"export: the model converted to opset {opset} gives different "
                             f"values for output {name.name!r} (max difference "
                             f"{float(np.max(np.abs(a - b))):.3g})")
    return converted


def _version() -> str:
    from onyx import __version__
    return __version__

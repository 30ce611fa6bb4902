"""Training-graph export: one plain-ONNX model that performs a whole training step.

Inputs are the batch, the parameters, the optimizer state and the learning rate; outputs are
the loss, then ``new.<name>`` for every parameter and state tensor the step updates. Feeding
the ``new.*`` outputs back as the next step's inputs trains the model in any ONNX runtime:

    >>> import onyx
    >>> model = onyx.nn.Linear(4, 2)
    >>> opt = onyx.optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = onyx.randn(8, 4), onyx.randint(0, 2, (8,))
    >>> init = export_training(model, onyx.nn.CrossEntropyLoss(), opt, "/tmp/step.onnx", (x, y))
    >>> sorted(init)
    ['bias', 'lr', 'weight']

The model is traced once (forward, the backward ops the VJP rules emit, the optimizer's
update) on ``example_inputs``; neither the model nor the optimizer is changed by the export.
Fresh optimizer state is exported as its initial value (zeros, step 0); SGD's first momentum
step equals torch's (``buf = grad``) only with ``dampening=0``.
"""

from __future__ import annotations

import numpy as np

from onyx import ir
from onyx.frontend.compile.trace import Tracer, finish, tracing, type_of
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def export_training(model, loss_fn, optimizer, path, example_inputs: tuple, *,
                    input_names: list[str] | None = None, level: int = 1) -> dict:
    """Write the training step of ``model`` to ``path``; return the initial input values
    (parameters, optimizer state, learning rate) by input name.

    ``example_inputs``: the batch; the model gets all but the last, the loss function gets
    the model's output and the last (the target): ``loss_fn(model(*xs), target)``.
    """
    m, initial = training_model(model, loss_fn, optimizer, example_inputs,
                                input_names=input_names, level=level)
    ir.save(m, str(path))
    return initial


def training_model(model, loss_fn, optimizer, example_inputs: tuple, *,
                   input_names: list[str] | None = None, level: int = 1):
    """``(ir.Model, initial values)`` of the training step (see ``export_training``)."""
    from onyx.frontend.compile.backends import optimize_model
    example_inputs = tuple(example_inputs)
    if len(example_inputs) < 2 or not all(isinstance(t, Tensor) for t in example_inputs):
        raise OnyxError("export_training: example_inputs must be a tuple of tensors: the "
                        "model's inputs followed by the loss target")
    names = dict(model.named_parameters()) | {k: b for k, b in model.named_buffers()
                                              if b is not None}
    saved = _save(names, optimizer)
    try:
        _prime(model, loss_fn, optimizer, example_inputs)
        traced, values = _trace_step(model, loss_fn, optimizer, example_inputs, names,
                                     input_names)
    finally:
        _restore(saved)
    graph = traced.model.graph
    graph.outputs[:] = [v for v in graph.outputs if not v.name.endswith(".grad")]
    graph.outputs[0].name = "loss"
    for v in graph.inputs:
        if v.name.startswith("hyper") and v.name.endswith(".lr"):
            old = v.name
            v.name = "lr" if v.name == "hyper.lr" else v.name[len("hyper"):]
            values[v.name] = values.pop(old)
    out = optimize_model(traced.model, level)
    out.producer_name = "onyx.export_training"
    return out, values


def _save(names: dict, optimizer):
    from onyx.frontend.random import default_generator
    return ([(t, t._data.copy(), t.grad) for t in names.values()],
            optimizer, [(p, s, dict(s)) for p, s in optimizer.state.items()],
            default_generator.get_state())


def _restore(saved) -> None:
    from onyx.frontend.random import default_generator
    tensors, optimizer, state, rng_state = saved
    for t, data, grad in tensors:
        np.copyto(t._data, data) if t._data.shape == data.shape else setattr(t, "_data", data)
        t.grad = grad
    optimizer.state.clear()
    for p, s, copy in state:  # the same dict objects, as they were
        s.clear()
        s.update(copy)
        optimizer.state[p] = s
    default_generator.set_state(rng_state)


def _prime(model, loss_fn, optimizer, inputs: tuple) -> None:
    """Give every parameter without optimizer state its initial state (zeros, step 0): one
    eager step creates the layout, then the values are reset."""
    fresh = [p for g in optimizer.param_groups for p in g["params"] if not optimizer.state.get(p)]
    if not fresh:
        return
    params = [(p, p._data.copy()) for g in optimizer.param_groups for p in g["params"]]
    optimizer.zero_grad()
    loss_fn(model(*inputs[:-1]), inputs[-1]).backward()
    optimizer.step()
    for p, data in params:
        np.copyto(p._data, data)
    for p in fresh:
        state = optimizer.state.get(p, {})
        for k, v in list(state.items()):
            if isinstance(v, Tensor):
                state[k] = Tensor._wrap(np.zeros_like(v._data))


def _trace_step(model, loss_fn, optimizer, inputs: tuple, names: dict, input_names):
    """Trace zero_grad, forward, backward and step; state is fed as inputs."""
    for p in names.values():
        p.grad = None
    # values at the start of the step, by buffer (the traced step updates them)
    before = {id(t._data): t._data.copy() for t in names.values()}
    before.update((id(v._data), v._data.copy()) for s in optimizer.state.values()
                  for v in s.values() if isinstance(v, Tensor))
    tracer = Tracer(names, state_as_inputs=True)
    in_values = []
    for i, t in enumerate(inputs):
        name = input_names[i] if input_names and i < len(input_names) else f"input_{i}"
        v = ir.Value(name, type_of(t._data))
        tracer._dynamic.add(v)
        tracer.bind(t, v)
        in_values.append(v)
    with tracing(tracer):
        tracer.register_optimizer(optimizer)
        optimizer.zero_grad()
        loss = loss_fn(model(*inputs[:-1]), inputs[-1])
        loss.backward()
        optimizer.step()
    traced = finish(tracer, loss, in_values)
    values = {c.name: before.get(id(c.tensor._data), c.tensor._data)
              for c in traced.state_inputs}
    for name, group, key in traced.hyper_inputs:
        v = next(x for x in traced.model.graph.inputs if x.name == name)
        values[name] = np.asarray(group[key], dtype=v.dtype.numpy)
    return traced, values

"""onyx.compile on forward models: parity with eager, caching, guards, explain, dynamic batch,
graph breaks, recompile storms, verify=True."""

import dataclasses
import warnings

import numpy as np
import pytest

import onyx
from onyx.frontend.compile import GraphBreak, RecompileError, VerificationError

nn = onyx.nn


def _mlp():
    onyx.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def _cnn():
    onyx.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10)).eval()


def _encoder():
    onyx.manual_seed(2)
    return nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()


@pytest.mark.parametrize("make, shape", [(_mlp, (5, 6)), (_cnn, (2, 1, 8, 8)),
                                         (_encoder, (2, 5, 16))], ids=["mlp", "cnn", "encoder"])
def test_compiled_equals_eager_and_caches(make, shape):
    model = make()
    fast = onyx.compile(model)
    x = onyx.randn(*shape)
    with onyx.no_grad():
        first = fast(x)
        for _ in range(3):
            again = fast(x)
        want = model(x)
    np.testing.assert_allclose(first.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(again.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    assert fast.num_traces == 1 and fast.num_graphs == 1
    assert fast.module is model


def test_updated_weights_are_seen_without_retrace():
    model = _mlp()
    fast = onyx.compile(model)
    x = onyx.randn(4, 6)
    with onyx.no_grad():
        fast(x)
        model[0].weight.mul_(0.5)
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert fast.num_traces == 1


def test_retrace_on_shape_dtype_mode_and_grad_mode_is_explained():
    model = _mlp()
    fast = onyx.compile(model, dynamic=False)
    with onyx.no_grad():
        fast(onyx.randn(32, 6))
        fast(onyx.randn(16, 6))
        fast(onyx.randn(16, 6, dtype=onyx.float64))
        model.train()
        fast(onyx.randn(16, 6, dtype=onyx.float64))
        model.eval()
    fast(onyx.randn(16, 6, dtype=onyx.float64)).sum()
    text = fast.explain()
    assert "input 0: shape (32, 6) -> (16, 6)" in text
    assert "input 0: dtype 'float32' -> 'float64'" in text
    assert "training (False, False, False, False) -> (True, True, True, True)" in text
    assert "grad mode False -> True" in text
    assert fast.num_graphs == 5 and fast.num_recompiles == 4


def test_dynamic_batch_one_graph_for_three_sizes():
    model = _mlp()
    fast = onyx.compile(model, dynamic=True)
    with onyx.no_grad():
        for n in (3, 7, 12):
            x = onyx.randn(n, 6)
            np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert fast.num_graphs == 1 and fast.num_traces == 1
    entry = next(iter(fast._entries.values()))
    assert entry.runner.model.graph.inputs[0].shape[0] == "batch"


def test_automatic_dynamic_after_second_batch_size():
    model = _mlp()
    fast = onyx.compile(model)
    with onyx.no_grad():
        for n in (3, 5, 9, 11):
            fast(onyx.randn(n, 6))
    assert fast.num_graphs == 2 and fast.num_traces == 2
    assert "a second batch size" in fast.explain()


class _Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(y.view(y.size(0), -1))


def test_view_with_batch_size_under_dynamic():
    onyx.manual_seed(3)
    model = _Flat().eval()
    fast = onyx.compile(model, dynamic=True)
    with onyx.no_grad():
        for n in (2, 5, 9):
            x = onyx.randn(n, 2, 6, 6)
            np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-5,
                                       atol=1e-5)
    assert fast.num_graphs == 1


def _branchy(x):
    if x.sum() > 0:  # data-dependent control flow
        return x * 2
    return x - 1


def test_graph_break_error_names_the_line():
    with pytest.raises(GraphBreak, match=r"test_compile.py:\d+: if x.sum\(\) > 0:"):
        onyx.compile(_branchy)(onyx.ones(3))


def test_on_break_eager_falls_back_with_one_warning():
    fast = onyx.compile(_branchy, on_break="eager")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = fast(onyx.ones(3))
        b = fast(-onyx.ones(3))
    assert [str(w.message).count("if x.sum() > 0:") for w in caught] == [1]
    np.testing.assert_array_equal(a.numpy(), [2, 2, 2])
    np.testing.assert_array_equal(b.numpy(), [-2, -2, -2])
    assert fast.num_graphs == 0 and "graph break" in fast.explain()


def test_recompile_storm_names_the_guard():
    fast = onyx.compile(lambda x: x * 2, dynamic=False, max_recompiles=3)
    with pytest.raises(RecompileError, match=r"input 0: shape.*dynamic=True"):
        for n in range(1, 10):
            fast(onyx.ones(n))


def test_python_scalar_arguments_are_guards():
    fast = onyx.compile(lambda x, k: x * k)
    np.testing.assert_array_equal(fast(onyx.ones(2), 2.0).numpy(), [2, 2])
    np.testing.assert_array_equal(fast(onyx.ones(2), 3.0).numpy(), [3, 3])
    np.testing.assert_array_equal(fast(onyx.ones(2), 3.0).numpy(), [3, 3])
    assert fast.num_graphs == 2 and "argument 1 2.0 -> 3.0" in fast.explain()


def test_mismatched_call_and_bad_options():
    fast = onyx.compile(_mlp())
    with pytest.raises(onyx.OnyxError, match="does not match"):
        fast(onyx.ones(2, 6), onyx.ones(2, 6))
    with pytest.raises(onyx.OnyxError, match="backend"):
        onyx.compile(_mlp(), backend="tpu")
    with pytest.raises(onyx.OnyxError, match="on_break"):
        onyx.compile(_mlp(), on_break="ignore")
    if not onyx.cuda.is_available():
        with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
            onyx.compile(lambda x: x + 1, backend="cuda")(onyx.ones(2))


def test_verify_passes_on_a_correct_model():
    model = _cnn()
    fast = onyx.compile(model, verify=True)
    with onyx.no_grad():
        fast(onyx.randn(2, 1, 8, 8))
    assert fast.num_graphs == 1


def test_verify_names_the_node_of_a_broken_kernel(monkeypatch):
    from onyx.backends.numpy import executor, registry
    real = registry.lookup

    def broken_lookup(op_type, domain, opset):
        entry = real(op_type, domain, opset)
        if op_type == "Tanh":
            return dataclasses.replace(entry, fn=lambda x: np.tanh(x) * 1.01)
        return entry
    monkeypatch.setattr(executor, "lookup", broken_lookup)
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)).eval()
    with pytest.raises(VerificationError, match=r"node 'Tanh_\d+' \(Tanh\).*max error"):
        with onyx.no_grad():
            onyx.compile(model, verify=True)(onyx.randn(3, 4))


def test_backward_through_a_compiled_forward():
    model = _mlp().train()
    fast = onyx.compile(model)
    x = onyx.randn(5, 6, requires_grad=True)
    y = onyx.tensor([0, 1, 2, 0, 1])
    loss_fn = nn.CrossEntropyLoss()
    grads = []
    for _ in range(2):  # the first call is the eager trace, the second runs the graph
        model.zero_grad()
        x.grad = None
        loss_fn(fast(x), y).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy()])
    model.zero_grad()
    x.grad = None
    loss_fn(model(x), y).backward()
    want = [p.grad.numpy() for p in model.parameters()] + [x.grad.numpy()]
    for got in grads:
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert fast.num_traces == 1


def test_trace_with_a_dynamic_sequence_dim():
    from onyx.backend import prepare
    from onyx.frontend.compile import trace
    enc = _encoder()
    with onyx.no_grad():
        t = trace(enc, (onyx.randn(2, 5, 16),), names=dict(enc.named_parameters()),
                  dynamic={0: {1}})
        assert t.model.graph.inputs[0].shape == (2, "dim1", 16)
        rep = prepare(t.model)
        for length in (3, 9):
            x = onyx.randn(2, length, 16)
            np.testing.assert_allclose(rep.run([x.numpy()])[0], enc(x).numpy(), rtol=1e-5,
                                       atol=1e-5)


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("count", onyx.zeros(()))

    def forward(self, x):
        self.count = self.count + 1  # a buffer replaced by assignment
        return self.lin(x) * self.count


def test_buffer_replaced_by_assignment_is_written_back():
    model = _Counter().eval()
    fast = onyx.compile(model)
    x = onyx.ones(2, 3)
    with onyx.no_grad():
        outs = [fast(x).numpy() for _ in range(4)]
        base = model.lin(x).numpy()
    assert float(model.count) == 4.0 and fast.num_graphs == 1 and fast.num_traces == 1
    np.testing.assert_allclose(outs[3], base * 4, rtol=1e-6)


def test_replaced_parameter_object_is_a_guard_failure():
    model = _mlp()
    fast = onyx.compile(model)
    x = onyx.randn(2, 6)
    with onyx.no_grad():
        fast(x)
        model[0].weight = nn.Parameter(onyx.zeros(16, 6))
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
    assert fast.num_traces == 2 and "state 0.weight" in fast.explain()


def test_values_taken_out_through_numpy_are_caught():
    def sneaky(x):
        return onyx.tensor(np.asarray(x) * 2)  # leaves the traced ops
    with pytest.raises(GraphBreak, match="np.asarray"):
        onyx.compile(sneaky)(onyx.ones(3))


def test_a_write_the_tracer_cannot_see_is_detected():
    from onyx.frontend.compile import TraceError

    def sneaky(x):
        y = x * 2
        y._data[0] = 5.0  # straight into the buffer: no op, no version bump
        return y * 1
    with pytest.raises(TraceError, match="does not reproduce"):
        onyx.compile(sneaky)(onyx.ones(3))


def test_existing_grads_and_nested_compiled_calls():
    model = _mlp().train()
    model(onyx.randn(2, 6)).sum().backward()   # every parameter now has a .grad
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    inner = onyx.compile(model)
    x = onyx.randn(3, 6)
    with onyx.no_grad():
        inner(x)
        inner(x)
        outer = onyx.compile(lambda t: inner(t) * 2)
        np.testing.assert_allclose(outer(x).numpy(), model(x).numpy() * 2, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(outer(x).numpy(), model(x).numpy() * 2, rtol=1e-5,
                                   atol=1e-6)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_passes_option():
    model = _mlp()
    x = onyx.randn(3, 6)
    with onyx.no_grad():
        want = model(x).numpy()
        for passes in (0, 1, ["shape_inference", "dce", "gemm"]):
            fast = onyx.compile(model, passes=passes)
            fast(x)
            np.testing.assert_allclose(fast(x).numpy(), want, rtol=1e-5, atol=1e-6)
        with pytest.raises(onyx.OnyxError, match="unknown pass"):
            onyx.compile(model, passes=["fuse_everything"])(x)

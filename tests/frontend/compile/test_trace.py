"""Tracing eager code into ONNX graphs: structure, checker, in-place writes, graph breaks."""

import numpy as np
import onnx
import pytest

import onyx
from onyx.backend import prepare
from onyx.frontend.compile import GraphBreak, TraceError, trace

nn = onyx.nn


def _mlp():
    onyx.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()


def test_trace_mlp_is_checked_onnx_with_named_initializers():
    model = _mlp()
    x = onyx.randn(3, 4)
    t = trace(model, (x,), names=dict(model.named_parameters()), input_names=["x"],
              output_names=["y"])
    g = t.model.graph
    assert [v.name for v in g.inputs] == ["x"] and [v.name for v in g.outputs] == ["y"]
    assert sorted(g.initializers) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert t.model.opset_imports[""] == onyx.frontend.dispatch.OPSET
    onnx.checker.check_model(t.model.to_onnx(), full_check=True)
    out = prepare(t.model).run([x.numpy()])[0]
    np.testing.assert_allclose(out, model(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(t.result.detach().numpy(), model(x).detach().numpy())


def test_state_as_inputs_and_unnamed_parameters():
    model = _mlp()
    t = trace(model, (onyx.randn(2, 4),), state_as_inputs=True)
    names = [v.name for v in t.model.graph.inputs]
    assert names[0] == "input_0" and len(names) == 5
    assert all(n.startswith("param_") for n in names[1:])


def test_nested_outputs_and_dict_inputs():
    def fn(d, w):
        return {"sum": d["a"] + d["b"], "pair": (d["a"] * w, w.exp())}
    a, b, w = onyx.randn(3), onyx.randn(3), onyx.randn(3)
    t = trace(fn, ({"a": a, "b": b}, w))
    assert len(t.model.graph.inputs) == 3 and len(t.model.graph.outputs) == 3
    outs = prepare(t.model).run([a.numpy(), b.numpy(), w.numpy()])
    np.testing.assert_allclose(outs[2], np.exp(w.numpy()), rtol=1e-6)


def test_inplace_write_rebinds_and_captured_buffer_is_written_back():
    buf = onyx.zeros(3)

    def fn(x):
        y = x * 2
        y.add_(1)          # the later use must see the new value
        buf.add_(y)        # a captured tensor changed: an extra output
        return y * 3
    x = onyx.tensor([1.0, 2.0, 3.0])
    t = trace(fn, (x,), names={"buf": buf}, state_as_inputs=True)
    assert [v.name for v in t.model.graph.outputs] == ["output_0", "new.buf"]
    assert [v.name for v in t.model.graph.inputs] == ["input_0", "buf"]
    outs = prepare(t.model).run([x.numpy(), np.zeros(3, np.float32)])
    np.testing.assert_allclose(outs[0], [9, 15, 21])
    np.testing.assert_allclose(outs[1], [3, 5, 7])


def test_graph_break_names_the_user_line():
    def fn(x):
        if x.sum() > 0:  # the line the error names
            return x * 2
        return x
    with pytest.raises(GraphBreak) as info:
        trace(fn, (onyx.ones(3),))
    assert "test_trace.py" in str(info.value) and "if x.sum() > 0:" in str(info.value)
    for read in (lambda x: x.sum().item(), lambda x: x.tolist(), lambda x: float(x.sum()),
                 lambda x: x.numpy()):
        with pytest.raises(GraphBreak):
            trace(lambda x, r=read: (r(x), x)[1], (onyx.ones(2),))


def test_constants_may_be_read():
    scale = onyx.tensor(2.0)

    def fn(x):
        k = float(scale * 3)  # depends on no input: fine
        return x * k
    t = trace(fn, (onyx.ones(2),))
    np.testing.assert_allclose(prepare(t.model).run([np.ones(2, np.float32)])[0], [6, 6])


def test_non_tensor_output_is_an_error():
    with pytest.raises(TraceError, match="float"):
        trace(lambda x: (x * 2, 3.5), (onyx.ones(2),))


def test_dropout_in_training_traces_a_random_op():
    drop = nn.Dropout(0.5).train()
    t = trace(drop, (onyx.ones(4, 8),))
    ops = [n.op_type for n in t.model.graph]
    assert "RandomUniformLike" in ops and not t.model.graph.initializers.get("const_1")
    rep = prepare(t.model)
    a = rep.run([np.ones((4, 8), np.float32)])[0]
    b = rep.run([np.ones((4, 8), np.float32)])[0]
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)


def test_random_draw_inside_the_function_is_not_frozen():
    def noisy(x):
        return x + onyx.normal(0.0, 1.0, (3,))  # a draw without a graph op: the error names it
    with pytest.raises(GraphBreak, match=r"random draw at .*test_trace.py:\d+: return x \+ "):
        trace(noisy, (onyx.ones(3),))
    fast = onyx.compile(noisy, on_break="eager")
    with pytest.warns(UserWarning, match="graph break"):
        a = fast(onyx.ones(3))
    b = fast(onyx.ones(3))
    assert not np.array_equal(a.numpy(), b.numpy()) and fast.num_graphs == 0


@pytest.mark.parametrize("requires_grad", [False, True])
def test_writes_through_views_update_the_base(requires_grad):
    def fn(x):
        y = x * 2
        y[:, 0] = 5.0      # setitem on a traced tensor
        row = y[1]
        row.mul_(3)        # an in-place op on a view changes y too
        return y + 1, row * 1
    x = onyx.randn(3, 4, requires_grad=requires_grad)
    t = trace(fn, (x,))
    got = prepare(t.model).run([x.detach().numpy()])
    for a, b in zip(got, fn(x)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-6)

"""export_training: one plain-ONNX training step that onnxruntime can run repeatedly."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import onyx
from onyx.frontend.compile import export_training

nn = onyx.nn


def _setup(opt_name: str):
    onyx.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    if opt_name == "sgd":
        opt = onyx.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = onyx.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    xs = [onyx.tensor(rng.standard_normal((8, 6)).astype(np.float32)) for _ in range(5)]
    ys = [onyx.tensor(rng.integers(0, 3, 8)) for _ in range(5)]
    return model, opt, xs, ys


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_onnxruntime_trains_to_the_same_weights(opt_name, tmp_path):
    model, opt, xs, ys = _setup(opt_name)
    loss_fn = nn.CrossEntropyLoss()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    path = tmp_path / "train_step.onnx"
    feeds = export_training(model, loss_fn, opt, path, (xs[0], ys[0]))
    # the export changed neither the model nor the optimizer
    assert all(np.array_equal(a, p.detach().numpy()) for a, p in zip(before, model.parameters()))
    assert not opt.state
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    assert inputs[:4] == ["input_0", "input_1", "0.weight", "0.bias"] and "lr" in inputs
    assert outputs[0] == "loss" and "new.0.weight" in outputs
    state = "momentum_buffer" if opt_name == "sgd" else "exp_avg"
    assert f"state.0.weight.{state}" in inputs and f"new.state.0.weight.{state}" in outputs

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ort_losses = []
    for i in range(20):
        outs = sess.run(None, {"input_0": xs[i % 5].numpy(), "input_1": ys[i % 5].numpy(),
                               **feeds})
        ort_losses.append(float(outs[0]))
        for name, value in zip(outputs[1:], outs[1:]):
            feeds[name[len("new."):]] = value
    eager_losses = []
    for i in range(20):
        opt.zero_grad()
        loss = loss_fn(model(xs[i % 5]), ys[i % 5])
        loss.backward()
        opt.step()
        eager_losses.append(float(loss.detach()))
    np.testing.assert_allclose(ort_losses, eager_losses, atol=1e-5)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(feeds[name], p.detach().numpy(), atol=1e-5)


def test_bad_example_inputs():
    model, opt, xs, _ = _setup("sgd")
    with pytest.raises(onyx.OnyxError, match="example_inputs"):
        export_training(model, nn.MSELoss(), opt, "/nonexistent/x.onnx", (xs[0],))

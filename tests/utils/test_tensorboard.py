"""``onyx.utils.tensorboard.SummaryWriter``: what it writes, read back with TensorBoard's own
event reader."""

import numpy as np
import pytest
from onnx import helper, numpy_helper

import onyx
from onyx import ir

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")

from onyx.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(log_dir):
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={
        event_accumulator.HISTOGRAMS: 0, event_accumulator.SCALARS: 0,
        event_accumulator.TENSORS: 0})
    acc.Reload()
    return acc


def _small_model() -> ir.Model:
    w = numpy_helper.from_array(np.ones((3, 2), np.float32), "fc.weight")
    nodes = [helper.make_node("MatMul", ["x", "fc.weight"], ["h"], name="fc/MatMul"),
             helper.make_node("Relu", ["h"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["batch", 3])],
                          [helper.make_tensor_value_info("y", 1, ["batch", 2])], [w])
    return ir.from_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]))


def test_scalars_histograms_and_text_read_back(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("loss", onyx.tensor(1.0 / (step + 1)), step)
        writer.add_histogram("weights", onyx.arange(100, dtype=onyx.float32), 0)
        writer.add_histogram("grads", np.array([-1.0, 0.0, 1.0]), 1)
        writer.add_text("notes", "hello onyx", 0)
    acc = _read(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 0.5),
                                                               (2, pytest.approx(1 / 3))]
    (hist,) = acc.Histograms("weights")
    assert hist.histogram_value.num == 100
    assert (hist.histogram_value.min, hist.histogram_value.max) == (0.0, 99.0)
    assert hist.histogram_value.sum == pytest.approx(4950.0)
    assert acc.Histograms("grads")[0].step == 1
    (text,) = acc.Tensors("notes/text_summary")
    assert text.tensor_proto.string_val[0] == b"hello onyx"


def test_add_scalars_writes_one_run_per_curve(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalars("accuracy", {"train": 0.5, "test": onyx.tensor([0.25])}, 7)
    for key, value in (("train", 0.5), ("test", 0.25)):
        (event,) = _read(tmp_path / "accuracy" / key).Scalars("accuracy")
        assert (event.step, event.value) == (7, value)


def test_add_hparams_records_the_metrics(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_hparams({"lr": 0.01, "optimizer": "adam"}, {"hparam/accuracy": 0.9},
                           run_name="trial")
    acc = _read(tmp_path / "trial")
    assert acc.Scalars("hparam/accuracy")[0].value == pytest.approx(0.9)
    from tensorboard.plugins.hparams import plugin_data_pb2
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["lr"].number_value == pytest.approx(0.01)
    assert hparams["optimizer"].string_value == "adam"


def test_graph_of_an_ir_model_has_its_nodes_edges_and_shapes(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(_small_model())
    graph = _read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    assert [(n.name, n.op) for n in graph.node] == [
        ("input/x", "Input"), ("fc/weight", "Parameter"), ("fc/MatMul", "MatMul"),
        ("Relu_1", "Relu"), ("output/y", "Output")]
    assert list(nodes["fc/MatMul"].input) == ["input/x", "fc/weight"]
    assert list(nodes["output/y"].input) == ["Relu_1"]
    (shape,) = nodes["fc/MatMul"].attr["_output_shapes"].list.shape
    assert [d.size for d in shape.dim] == [-1, 2]  # "batch" is symbolic


def test_flush_makes_the_events_readable_before_close(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("x", 3, 0)
    writer.flush()
    assert _read(tmp_path).Scalars("x")[0].value == 3.0
    writer.close()


def test_bad_values_raise(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match="exactly one element, got shape \\[2\\]"):
            writer.add_scalar("two", onyx.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match="no values"):
            writer.add_histogram("empty", np.zeros(0))
        with pytest.raises(ValueError, match="input_to_model"):
            writer.add_graph(onyx.nn.Linear(2, 2))


def test_default_log_dir_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_trial") as writer:
        assert writer.get_logdir().startswith("runs/") and writer.log_dir.endswith("_trial")
    assert (tmp_path / writer.log_dir).is_dir()


def test_a_closed_writer_refuses_new_events(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="is closed"):
        writer.add_scalar("late", 1.0)


def test_purge_step_marks_a_restart(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(5):
            writer.add_scalar("loss", float(step), step)
    with SummaryWriter(str(tmp_path), purge_step=2, filename_suffix=".resumed") as writer:
        writer.add_scalar("loss", 10.0, 2)
    steps = [(e.step, e.value) for e in _read(tmp_path).Scalars("loss")]
    assert steps == [(0, 0.0), (1, 1.0), (2, 10.0)]  # the old steps 2..4 were purged


def test_tensorflow_bins_are_symmetric_and_grow_by_ten_percent():
    from onyx.utils.tensorboard import _tensorflow_bins
    edges = _tensorflow_bins()
    pos = edges[edges > 0]
    assert edges[len(edges) // 2] == 0.0 and np.array_equal(edges[edges < 0], -pos[::-1])
    assert pos[0] == 1e-12 and pos[-1] < 1e20 and np.allclose(pos[1:] / pos[:-1], 1.1)


def test_graph_of_a_module_is_traced_with_module_scopes(tmp_path):
    model = onyx.nn.Sequential(onyx.nn.Linear(4, 8), onyx.nn.ReLU(), onyx.nn.Linear(8, 2))
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(model, onyx.randn(3, 4))
    graph = _read(tmp_path).Graph()
    ops = [n.op for n in graph.node]
    assert ops.count("Parameter") == 4 and ops.count("Input") == ops.count("Output") == 1
    compute = [n for n in graph.node if n.op not in ("Input", "Parameter", "Output")]
    assert [n.op for n in compute] == ["Gemm", "Relu", "Gemm"]
    first, _, last = compute
    assert first.name.startswith("0/") and list(first.input)[1:] == ["0/weight", "0/bias"]
    assert last.name.startswith("2/") and list(last.input)[1:] == ["2/weight", "2/bias"]
    (shape,) = last.attr["_output_shapes"].list.shape
    assert [d.size for d in shape.dim] == [3, 2]


def test_graph_after_backward_leaves_the_gradients_alone(tmp_path):
    model = onyx.nn.Linear(4, 2)
    model(onyx.randn(3, 4)).sum().backward()
    before = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(model, onyx.randn(3, 4))
    assert [n.op for n in _read(tmp_path).Graph().node].count("Gemm") == 1
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), before[name])

"""``onyx demo`` end to end with one epoch: every step's output and files are checked."""

import json
import shlex
from pathlib import Path

import numpy as np
import onnx
import pytest

import onyx
from onyx.tools.cli import examples, main

pytest.importorskip("sklearn", reason="the demo's data set ships with scikit-learn")
pytest.importorskip("onnxruntime", reason="the demo compares the export with onnxruntime")
pytest.importorskip("tensorboardX", reason="the demo logs to TensorBoard")


def _example() -> list[str]:
    first, line = examples("demo")  # the first is the README's plain `onyx demo`
    assert first == "onyx demo"
    return shlex.split(line)[1:]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The ``--help`` example, as written, in a fresh folder; then its JSON twin."""
    import os
    folder = tmp_path_factory.mktemp("demo")
    old = os.getcwd()
    os.chdir(folder)
    try:
        argv = _example()
        assert argv[:3] == ["demo", "--epochs", "1"], argv
        from contextlib import redirect_stdout
        from io import StringIO
        text = StringIO()
        with redirect_stdout(text):
            code = main(argv)
        out = folder / argv[argv.index("--out") + 1]
        json_out = StringIO()
        with redirect_stdout(json_out):
            json_code = main(["demo", "--epochs", "1", "--out", str(folder / "j"), "--json"])
    finally:
        os.chdir(old)
    return {"code": code, "text": text.getvalue(), "out": out, "json_code": json_code,
            "json": json.loads(json_out.getvalue())}


def test_exit_code_and_every_step_printed(demo_run):
    assert demo_run["code"] == 0 and demo_run["json_code"] == 0
    text = demo_run["text"]
    for heading in ("[1/6] train", "[2/6] compile", "[3/6] export", "[4/6] checkpoint",
                    "[5/6] IR dump", "[6/6] done in"):
        assert heading in text, heading
    assert "epoch  1/1  loss" in text and "test accuracy" in text
    assert "compiled vs eager outputs: max difference" in text
    assert "onnxruntime" in text and "vs onyx: max difference" in text
    assert "reloaded model gives equal outputs  ok" in text
    assert "FAILED" not in text


def test_training_learned_something(demo_run):
    train = demo_run["json"]["train"]
    (epoch,) = train["history"]
    assert 0.0 <= epoch["train_accuracy"] <= 1.0 and epoch["loss"] > 0
    assert train["accuracy"] > 0.5  # ten classes: chance is 0.1; one epoch reaches 0.8+


def test_compile_matches_eager_and_reports_the_speedup(demo_run):
    res = demo_run["json"]["compile"]
    assert res["ok"] and res["max_diff"] <= 1e-4 and res["first_call_ms"] > 0
    assert [t["batch"] for t in res["timings"]] == [1, 359]
    lines = demo_run["text"].splitlines()
    for t in res["timings"]:
        assert t["eager_ms"] > 0 and t["compiled_ms"] > 0
        assert t["speedup"] == pytest.approx(t["eager_ms"] / t["compiled_ms"])
        line = next(ln for ln in lines if ln.strip().startswith(f"batch {t['batch']:3d}:"))
        assert "speed-up" in line and line.endswith("x")


def test_export_runs_in_onnxruntime_with_a_small_difference(demo_run):
    res = demo_run["json"]["export"]
    assert res["ok"] and res["max_diff"] is not None and res["max_diff"] <= 1e-4
    model = onnx.load(str(demo_run["out"] / "digits_cnn.onnx"))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input if i.name == "image"] == ["image"]


def test_checkpoint_reloads_to_equal_outputs(demo_run):
    res = demo_run["json"]["checkpoint"]
    assert res["ok"] and res["equal_outputs"]
    ckpt = onyx.load(str(demo_run["out"] / "checkpoint.onyx"))
    assert ckpt["epoch"] == 1 and "features.0.weight" in ckpt["model"]
    assert ckpt["optimizer"]["state"]  # Adam's moments are saved too


def test_tensorboard_logs_hold_loss_accuracy_histograms_and_graph(demo_run):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    log_dir = Path(demo_run["json"]["paths"]["tensorboard"])  # the run the numbers are from
    acc = ea.EventAccumulator(str(log_dir),
                              size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    losses = acc.Scalars("loss/train")
    assert len(losses) == demo_run["json"]["train"]["steps"] and np.isfinite(losses[0].value)
    assert "parameters/features.0.weight" in tags["histograms"]
    assert "gradients/classifier.3.bias" in tags["histograms"]
    ops = {n.op for n in acc.Graph().node}
    assert {"Conv", "MaxPool", "Relu", "Gemm", "Parameter", "Input", "Output"} <= ops
    test_acc = ea.EventAccumulator(str(log_dir / "accuracy" / "test"))
    test_acc.Reload()
    assert test_acc.Scalars("accuracy")[0].value == pytest.approx(
        demo_run["json"]["train"]["history"][0]["test_accuracy"], rel=1e-6)


def test_ir_dump_is_the_optimized_graph(demo_run):
    res = demo_run["json"]["dump"]
    text = (demo_run["out"] / "digits_cnn.optimized.txt").read_text()
    assert text.startswith("model ") and "Conv(" in text
    assert res["nodes_optimized"] <= res["nodes_exported"]


def test_every_path_is_printed_and_exists(demo_run):
    paths = demo_run["json"]["paths"]
    for key in ("tensorboard", "onnx", "checkpoint", "dump"):
        assert key in paths
    text = demo_run["text"]
    for label, name in (("TensorBoard logs", "tensorboard"), ("ONNX model", "digits_cnn.onnx"),
                        ("checkpoint", "checkpoint.onyx"), ("IR dump", "digits_cnn.optimized.txt")):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(label))
        assert line.split()[-1].endswith(name)
        assert (demo_run["out"] / name).exists()


def test_bad_arguments_are_usage_errors(tmp_path, capsys):
    assert main(["demo", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err

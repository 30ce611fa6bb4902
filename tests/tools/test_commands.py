"""``onyx info``, ``convert``, ``bench``, the ``--json`` outputs and the table helpers."""

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onyx.tools import table
from onyx.tools.cli import main


def _model(tmp_path, opset=18, name="m.onnx"):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) / 4, "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Relu", ["h"], ["r"], name="act"),
             helper.make_node("Relu", ["r"], ["y"], name="act2")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["batch", 3])],
                          [helper.make_tensor_value_info("y", 1, ["batch", 2])], [w])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="unit-test")
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_info_reports_versions_io_parameters_and_op_support(tmp_path, capsys):
    path = _model(tmp_path)
    assert main(["info", str(path), "--json"]) == 0
    info = _json(capsys)
    assert info["opsets"] == {"ai.onnx": 18} and info["producer"] == "unit-test"
    assert info["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 3]}]
    assert info["outputs"] == [{"name": "y", "dtype": "float32", "shape": ["batch", 2]}]
    assert info["parameters"] == {"tensors": 1, "count": 6, "bytes": 24}
    ops = {o["op"]: o for o in info["ops"]}
    assert ops["Relu"]["count"] == 2 and ops["MatMul"]["count"] == 1
    assert ops["Relu"]["numpy"] == "kernel"
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "parameters  6 in 1 initializers (24 B)" in text
    relu_line = next(line for line in text.splitlines() if line.startswith("Relu"))
    assert relu_line.split() == ["Relu", "2", "kernel"] + relu_line.split()[3:]


def test_info_marks_ops_without_a_numpy_kernel(tmp_path, capsys):
    node = helper.make_node("NoSuchOp", ["x"], ["y"], domain="example.custom")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [2])],
                          [helper.make_tensor_value_info("y", 1, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18),
                                                helper.make_opsetid("example.custom", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    assert main(["info", str(path), "--json"]) == 0
    (op,) = _json(capsys)["ops"]
    assert (op["domain"], op["op"], op["numpy"]) == ("example.custom", "NoSuchOp", "missing")


def test_convert_writes_a_verified_model_at_the_new_opset(tmp_path, capsys):
    path, out = _model(tmp_path, opset=13), tmp_path / "m21.onnx"
    assert main(["convert", str(path), str(out), "--opset", "21", "--json"]) == 0
    res = _json(capsys)
    assert res["ok"] and res["checker"] == "ok" and res["to_opset"] == 21
    assert res["outputs"][0]["max_abs_diff"] == 0.0
    converted = onnx.load(str(out))
    assert converted.opset_import[0].version == 21
    onnx.checker.check_model(converted)


def test_convert_exit_1_when_outputs_differ(tmp_path, capsys, monkeypatch):
    from onyx.tools import convert
    path, out = _model(tmp_path), tmp_path / "never.onnx"
    real = convert.convert

    def broken(model, opset):  # a converter that changes a weight: verification must see it
        proto = real(model, opset)
        proto.graph.initializer[0].CopyFrom(
            numpy_helper.from_array(np.ones((3, 2), np.float32), "w"))
        return proto
    monkeypatch.setattr(convert, "convert", broken)
    assert main(["convert", str(path), str(out), "--opset", "17"]) == 1
    text = capsys.readouterr().out
    assert "DIFFERS" in text and "not written" in text
    assert not out.exists()


def test_convert_errors_are_usage_errors(tmp_path, capsys):
    path = _model(tmp_path)
    assert main(["convert", str(path), str(tmp_path / "o.onnx"), "--opset", "0"]) == 2
    assert "--opset must be a positive" in capsys.readouterr().err
    assert main(["convert", str(path), str(tmp_path / "o.onnx"), "--opset", "13",
                 "--dim", "batch"]) == 2
    assert "--dim expects NAME=N" in capsys.readouterr().err
    assert main(["convert", str(path), str(tmp_path / "o.onnx"), "--opset", "13"]) == 2
    err = capsys.readouterr().err  # onnx has no adapter taking Relu-14 down to 13
    assert err.count("\n") == 1 and "from opset 18 to 13: No Adapter" in err


def test_bench_measures_onyx_and_onnxruntime(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    path = _model(tmp_path)
    assert main(["bench", str(path), "--warmup", "1", "--repeat", "3", "--dim", "batch=4",
                 "--json"]) == 0
    res = _json(capsys)
    assert res["inputs"] == {"x": [4, 3]} and res["note"] == ""
    onyx_row, ort_row = res["results"]
    assert onyx_row["runtime"] == "onyx (level 2)" and ort_row["runtime"] == "onnxruntime"
    assert onyx_row["runs"] == 3 and onyx_row["p90_ms"] >= onyx_row["median_ms"] > 0
    assert onyx_row["ratio"] == pytest.approx(onyx_row["median_ms"] / ort_row["median_ms"])
    assert main(["bench", str(path), "--repeat", "2", "--warmup", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["runtime", "median", "ms", "p90", "ms", "x", "onnxruntime"]


def test_bench_without_onnxruntime_measures_onyx_alone(tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    path = _model(tmp_path)
    assert main(["bench", str(path), "--repeat", "2", "--warmup", "0", "--json"]) == 0
    res = _json(capsys)
    assert [r["runtime"] for r in res["results"]] == ["onyx (level 2)"]
    assert "onnxruntime is not installed" in res["note"]
    assert main(["bench", str(path), "--repeat", "0"]) == 2


def test_run_and_optimize_print_json(tmp_path, capsys):
    path = _model(tmp_path)
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    assert main(["run", str(path), "-i", f"x={tmp_path / 'x.npy'}", "--json"]) == 0
    y = _json(capsys)["y"]
    assert y["shape"] == [2, 2] and y["dtype"] == "float32"
    np.testing.assert_allclose(y["values"], [[1.5, 2.25]] * 2)
    assert main(["optimize", str(path), str(tmp_path / "o.onnx"), "--json"]) == 0
    res = _json(capsys)
    assert res["passes"][0]["name"] == "shape_inference"
    assert {"nodes_before", "nodes_after", "seconds"} <= set(res["passes"][0])


def test_table_aligns_numbers_right_and_colours_only_a_terminal(monkeypatch):
    text = table.format_table(["name", "ms"], [["a", 1.5], ["long name", 12.25]],
                              colours={1: "red"})
    assert text.splitlines() == ["name          ms", "---------  -----",
                                 "a            1.5", "long name  12.25"]

    class Tty:
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert table.paint("x", "red", Tty()) == "\033[31mx\033[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert table.paint("x", "red", Tty()) == "x"
    monkeypatch.delenv("NO_COLOR")
    coloured = table.format_table(["a", "b"], [["x", "yy"]], colours={0: "red"}, stream=Tty())
    assert coloured.splitlines()[2] == "\033[31mx\033[0m  yy"


def test_progress_draws_nothing_off_a_terminal(capsys):
    bar = table.progress(10, "work")
    bar.update(3)
    bar.set_postfix(loss=1.0)
    bar.close()
    assert capsys.readouterr().err == ""


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("onyx ")


def _fallback_model(tmp_path):
    """Relu (a CUDA kernel), NonZero (NumPy fallback: data-dependent shape), Reshape (a view)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="act"),
             helper.make_node("NonZero", ["r"], ["nz"], name="nz"),
             helper.make_node("Reshape", ["r", "s"], ["y"], name="flat")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["batch", 3])],
                          [helper.make_tensor_value_info("nz", 7, None),
                           helper.make_tensor_value_info("y", 1, None)],
                          [numpy_helper.from_array(np.array([-1], np.int64), "s")])
    path = tmp_path / "fallback.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def test_dump_backend_cuda_lists_kernels_views_and_fallbacks(tmp_path, capsys):
    pytest.importorskip("onyx.backends.cuda.plan", reason="no CUDA planner in this build")
    path = _fallback_model(tmp_path)
    assert main(["dump", str(path), "--backend", "cuda", "--dim", "batch=4", "--json"]) == 0
    rows = _json(capsys)
    assert [(r["node"], r["op"], r["runs_on"]) for r in rows] == [
        ("act", "Relu", "cuda"), ("nz", "NonZero", "numpy"), ("flat", "Reshape", "view")]
    (kernel,) = rows[0]["kernels"]
    assert kernel["name"].startswith("k_") and kernel["signature"] == "f32[4,3]->f32[4,3]"
    assert rows[1]["kernels"] == [] == rows[2]["kernels"]
    assert main(["dump", str(path), "--backend", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "1 with CUDA kernels (1 kernels), 1 views, 1 NumPy fallbacks" in out
    assert main(["dump", str(path), "--json"]) == 2  # --json is for the plan only


def test_info_has_a_cuda_column_from_the_plan(tmp_path, capsys):
    pytest.importorskip("onyx.backends.cuda.plan", reason="no CUDA planner in this build")
    assert main(["info", str(_fallback_model(tmp_path)), "--json"]) == 0
    ops = {o["op"]: (o["numpy"], o["cuda"]) for o in _json(capsys)["ops"]}
    assert ops == {"Relu": ("kernel", "cuda"), "NonZero": ("kernel", "numpy"),
                   "Reshape": ("kernel", "view")}


def test_a_missing_optional_package_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scikit-learn: pip install 'onyx[demo]'" in err


def test_without_a_cuda_planner_info_has_no_cuda_column_and_dump_says_why(tmp_path, capsys,
                                                                          monkeypatch):
    import sys

    import onyx.backends.cuda
    monkeypatch.setitem(sys.modules, "onyx.backends.cuda.plan", None)  # import now fails
    monkeypatch.delattr(onyx.backends.cuda, "plan", raising=False)
    path = _model(tmp_path)
    assert main(["info", str(path), "--json"]) == 0
    info = _json(capsys)
    assert info["cuda_planned"] is False and {o["cuda"] for o in info["ops"]} == {None}
    assert main(["dump", str(path), "--backend", "cuda"]) == 2
    assert "no CUDA code generator" in capsys.readouterr().err


def test_info_counts_local_function_calls_as_supported(tmp_path, capsys):
    body = [helper.make_node("Relu", ["a"], ["b"])]
    fn = helper.make_function("example.fn", "MyRelu", ["a"], ["b"], body,
                              [helper.make_opsetid("", 18)])
    g = helper.make_graph([helper.make_node("MyRelu", ["x"], ["y"], domain="example.fn")], "g",
                          [helper.make_tensor_value_info("x", 1, [2])],
                          [helper.make_tensor_value_info("y", 1, [2])])
    model = helper.make_model(g, functions=[fn], opset_imports=[
        helper.make_opsetid("", 18), helper.make_opsetid("example.fn", 1)])
    path = tmp_path / "fn.onnx"
    onnx.save(model, str(path))
    assert main(["info", str(path), "--json"]) == 0
    info = _json(capsys)
    (op,) = info["ops"]
    assert (op["op"], op["numpy"]) == ("MyRelu", "function")
    assert info["functions"] == ["example.fn::MyRelu"]

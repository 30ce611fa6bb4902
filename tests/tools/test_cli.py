"""The ``onyx`` command line: dump, run, conformance; exit codes and one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onyx.tools.cli import main


def _model(tmp_path):
    w = numpy_helper.from_array(np.full((3, 2), 0.5, np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Relu", ["h"], ["y"], name="act")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["batch", 3])],
                          [helper.make_tensor_value_info("y", 1, ["batch", 2])], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def test_dump_text_and_dot(tmp_path, capsys):
    path = _model(tmp_path)
    assert main(["dump", str(path)]) == 0
    out = capsys.readouterr().out
    assert "graph g (x: f32[batch,3]) -> (y: f32[batch,2])" in out
    assert "= MatMul(%x, %w)  # mm" in out
    assert main(["dump", str(path), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "g"')


def test_run_with_npy_npz_pb_and_random_inputs(tmp_path, capsys):
    path = _model(tmp_path)
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    expected = np.maximum(x @ np.full((3, 2), 0.5, np.float32), 0)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", x=x)
    (tmp_path / "x.pb").write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    for spec in (f"x={tmp_path / 'x.npy'}", str(tmp_path / "x.npz"), f"x={tmp_path / 'x.pb'}"):
        out_dir = tmp_path / "out"
        assert main(["run", str(path), "-i", spec, "-o", str(out_dir)]) == 0
        np.testing.assert_allclose(np.load(out_dir / "y.npy"), expected)
    assert main(["run", str(path), "--random", "--dim", "batch=5"]) == 0
    assert "y: float32[5, 2]" in capsys.readouterr().out


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    path = _model(tmp_path)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    assert main(["dump", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("onyx dump: error:") and err.count("\n") == 1
    np.save(tmp_path / "wrong.npy", np.zeros((2, 4), np.float32))
    out_dir = tmp_path / "never"
    assert main(["run", str(path), "-i", f"x={tmp_path / 'wrong.npy'}", "-o",
                 str(out_dir)]) == 2
    assert "input 'x'" in capsys.readouterr().err
    assert not out_dir.exists()  # nothing written on failure


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(Exception, match="not a valid ONNX model"):
        main(["--debug", "dump", str(bad)])


def test_conformance_json_on_a_subset(capsys):
    assert main(["conformance", "--json", "-k", "test_relu$|test_abs$"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["node"]["passed"] == 2 and res["node"]["failed"] == 0


def test_the_entry_point_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "onyx")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "dump" in out and "run" in out and "conformance" in out


def test_dump_after_each_shows_every_pass_and_its_changes(tmp_path, capsys):
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="noop"),
             helper.make_node("Relu", ["i"], ["y"], name="act")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [2, 3])],
                          [helper.make_tensor_value_info("y", 1, [2, 3])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    assert main(["dump", str(path), "--after-each", "--level", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("=== input (2 nodes)")
    simplify = out[out.index("=== after simplify"):]
    assert "changed" in simplify.splitlines()[0] and "nodes 2 -> 1" in simplify.splitlines()[0]
    after = simplify[:simplify.index("\n=== after", 1)]
    assert "Identity" not in after and "Relu(%x)" in after
    assert "=== pipeline:" in out

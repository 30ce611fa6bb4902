"""``onyx optimize IN OUT [--level N]`` writes a checked model and prints the pass report."""

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onyx.tools.cli import build_parser


def test_optimize_command(tmp_path, capsys):
    import argparse

    from onyx.tools import optimize as command
    w = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
    c = numpy_helper.from_array(np.ones(2, np.float32), "c")
    nodes = [helper.make_node("Identity", ["x"], ["i"]),
             helper.make_node("MatMul", ["i", "w"], ["h"]),
             helper.make_node("Add", ["h", "c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [4, 3])],
                          [helper.make_tensor_value_info("y", 1, [4, 2])], [w, c])
    src, dst = tmp_path / "m.onnx", tmp_path / "o.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(src))
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["optimize", str(src), str(dst), "--level", "2", "--notes"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "simplify" in out and "gemm" in out and "total" in out
    optimized = onnx.load(str(dst))
    onnx.checker.check_model(optimized)
    assert [n.op_type for n in optimized.graph.node] == ["Gemm"]
    assert build_parser() is not None

"""``onyx check``: agreement across optimization levels and oracles, ``--bisect``."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onyx.passes import constant_folding
from onyx.tools.cli import main


@pytest.fixture
def model_path(tmp_path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Mul", ["two", "two"], ["four"], name="fold_me"),
             helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Mul", ["h", "four"], ["y"], name="scale")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [2, 4])],
                          [helper.make_tensor_value_info("y", 1, [2, 3])], [w, two])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return str(path)


def test_a_good_model_agrees_everywhere(model_path, capsys):
    assert main(["check", model_path, "--against", "reference", "--bisect"]) == 0
    out = capsys.readouterr().out
    assert "optimized" in out and "reference" in out and "every pass keeps" in out


def test_a_corrupting_pass_is_found_by_bisect(model_path, capsys, monkeypatch):
    real = constant_folding.ConstantFoldingPass.run

    def corrupt(self, model):
        changed = real(self, model)
        for v in model.graph.initializers.values():
            if v.const is not None and v.const.numpy().size == 1:
                from onyx.ir.tensor import Tensor
                v.const = Tensor(v.const.numpy() + 1)
        return changed

    monkeypatch.setattr(constant_folding.ConstantFoldingPass, "run", corrupt)
    assert main(["check", model_path, "--bisect"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "after pass 'constant_folding'" in out
    assert "removed: ['Mul 'fold_me'']" in out.replace('"', "'")


def test_json_output(model_path, capsys):
    assert main(["check", model_path, "--against", "onnxruntime", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and {r["compared"] for r in data["outputs"]} == {"optimized",
                                                                      "onnxruntime"}


def test_bad_file_is_a_one_line_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("onyx check: error:") and err.count("\n") == 1

"""``optimize(level=2)`` on every ONNX backend test model the NumPy executor runs: outputs are
unchanged, the graph verifies and ``onnx.checker`` accepts the result."""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from onyx import ir
from onyx.backends.numpy.executor import Executor
from onyx.ir.errors import OnyxError
from onyx.ir.types import TensorType
from onyx.passes import optimize
from onyx.tools.node_data import backend_model_paths

CHUNKS = 16
RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
              "Multinomial", "Bernoulli", "Dropout"}


def _paths() -> list[str]:
    return backend_model_paths()


def _inputs(model: ir.Model, folder: str) -> list | None:
    sets = sorted(glob.glob(os.path.join(folder, "test_data_set_*")))
    free = [v for v in model.graph.inputs if v.const is None]
    if not sets or not all(isinstance(v.type, TensorType) for v in free):
        return None
    feeds = []
    for i in range(len(free)):
        path = os.path.join(sets[0], f"input_{i}.pb")
        if not os.path.exists(path):
            return None
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        feeds.append(numpy_helper.to_array(t))
    return feeds


def _check_case(path: str, kit) -> str:
    """'ok', or why the case was not compared."""
    model = ir.load(path)
    feeds = _inputs(model, os.path.dirname(path))
    if feeds is None:
        return "non-tensor inputs"
    try:
        expected = Executor(model).run(feeds)
    except OnyxError as exc:
        return f"executor: {type(exc).__name__}"
    optimized, _ = optimize(model, level=2)
    optimized.graph.verify()
    try:
        onnx.checker.check_model(ir.to_onnx(model))
    except onnx.checker.ValidationError:
        pass  # the original does not pass the checker: nothing to hold the result to
    else:
        onnx.checker.check_model(ir.to_onnx(optimized))
    got = Executor(optimized).run(feeds)
    assert len(got) == len(expected)
    if any(n.op_type in RANDOM_OPS for n in model.graph.all_nodes()):
        return "random"
    for e, g in zip(expected, got):
        kit.assert_values_close(e, g, rtol=1e-4, atol=1e-5)
    return "ok"


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_optimize_keeps_backend_model_outputs(chunk: int, kit) -> None:
    paths = _paths()[chunk::CHUNKS]
    failures = []
    compared = 0
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        try:
            with np.errstate(all="ignore"):
                compared += _check_case(path, kit) == "ok"
        except Exception as exc:  # collect every failing case, not just the first
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)
    assert compared > len(paths) // 3

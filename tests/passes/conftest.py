"""What the pass tests share: build small models, feed random inputs, compare outputs."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onyx import ir
from onyx.backends.numpy.executor import Executor


def build_model(nodes, inputs, outputs, initializers=(), opset: int = 18) -> ir.Model:
    """An IR model from ``onnx.helper`` pieces; ``inputs``/``outputs`` are
    ``(name, shape)`` (float) or ``(name, shape, elem_type)``; initializers are
    ``name -> array``."""
    def info(spec):
        name, shape, *rest = spec
        return helper.make_tensor_value_info(name, rest[0] if rest else TensorProto.FLOAT, shape)
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in dict(initializers).items()]
    graph = helper.make_graph(nodes, "g", [info(s) for s in inputs], [info(s) for s in outputs],
                              inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ir.from_onnx(proto)


def random_feeds(model: ir.Model, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in model.graph.inputs:
        if v.const is not None:
            continue
        dtype = v.dtype.numpy
        if np.issubdtype(dtype, np.floating):
            feeds[v.name] = rng.standard_normal(v.shape).astype(dtype)
        else:
            feeds[v.name] = rng.integers(-5, 5, v.shape).astype(dtype)
    return feeds


def assert_same_outputs(before: ir.Model, after: ir.Model, feeds, rtol=1e-5, atol=1e-6) -> None:
    expected = Executor(before).run(feeds)
    got = Executor(after).run(feeds)
    assert [v.name for v in before.graph.outputs] == [v.name for v in after.graph.outputs]
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert_values_close(e, g, rtol, atol)


def assert_values_close(e, g, rtol=1e-5, atol=1e-6) -> None:
    if isinstance(e, list):
        assert isinstance(g, list) and len(e) == len(g)
        for a, b in zip(e, g):
            assert_values_close(a, b, rtol, atol)
        return
    if e is None:
        assert g is None
        return
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape
    if e.dtype.kind in "fc" or e.dtype.name in ("bfloat16",) or "float" in e.dtype.name:
        np.testing.assert_allclose(e.astype(np.float64), g.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(e, g)


def op_types(model: ir.Model) -> list[str]:
    return [n.op_type for n in model.graph]


def check_model(model: ir.Model) -> None:
    model.graph.verify()
    onnx.checker.check_model(ir.to_onnx(model))


@pytest.fixture
def kit():
    """This module's functions (``kit.build_model``, ``kit.assert_same_outputs``, ...): test
    files are imported without this folder on ``sys.path``."""
    return sys.modules[__name__]

"""Helpers for testing onyx kernels against reference runtimes (onnxruntime, onnx.reference).

Like ``torch.testing``: used by onyx's own test suite, usable by anyone checking a kernel.
onnxruntime is imported only when it is asked for (it is a test dependency, not a runtime one).

    >>> m = single_node_model("Relu", [np.ones((2, 3), np.float32)], {}, opset=18)
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
from onnx import helper


def random_array(rng: np.random.Generator, *shape: int, dtype=np.float32) -> np.ndarray:
    """Random values of ``dtype``: small integers, coin-flip bools, or standard normals."""
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        return rng.integers(-5 if dt.kind == "i" else 0, 10, size=shape).astype(dt)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    return rng.standard_normal(shape).astype(dt)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def single_node_model(op: str, inputs: list, attrs: dict, opset: int,
                      n_out: int = 1) -> onnx.ModelProto:
    """A model of one ``op`` node reading ``x0, x1, ...`` (``None`` = a missing input) and
    producing ``y0, y1, ...`` with undeclared output types."""
    names = ["" if x is None else f"x{i}" for i, x in enumerate(inputs)]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype),
                                                  x.shape)
                    for n, x in zip(names, inputs) if n]
    outputs = [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_out)]
    graph = helper.make_graph([node], op.lower(), graph_inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_oracle(model: onnx.ModelProto, inputs: list, oracle: str = "ort") -> list:
    """Outputs of ``model`` in onnxruntime (``"ort"``) or ``onnx.reference`` (``"ref"``)."""
    feeds = {f"x{i}": x for i, x in enumerate(inputs) if x is not None}
    if oracle == "ref":
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(model).run(None, feeds)
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_same(ours: np.ndarray, ref) -> None:
    """Equal dtype and shape; values within 1e-5 (1e-2 for 16-bit floats), narrow types exact."""
    ref = np.asarray(ref)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f" or ref.dtype == ml_dtypes.bfloat16:
        tol = 1e-2 if ref.dtype.itemsize == 2 else 1e-5
        np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=tol,
                                   atol=tol, equal_nan=True)
    elif ref.dtype.kind == "V":  # float8/float4 and int4/int2: exact, NaN equal to NaN
        np.testing.assert_array_equal(ours.astype(np.float64), ref.astype(np.float64))
    else:
        np.testing.assert_array_equal(ours, ref)

"""Indexing, scatter, selection, sorting and scan kernels against onnxruntime.

Each row is one node run through ``onyx.backend`` and through onnxruntime (or
``onnx.reference`` where the row says so); outputs must match in dtype, shape and value. Indices
out of range must raise ``ShapeError`` naming the op, the index and the data shape.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import onyx.backend
from onyx.ir.errors import OnyxError, ShapeError
from onyx.testing import run_oracle

rng = np.random.default_rng(1)
I64 = np.int64


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def ints(*values, dtype=I64):
    return np.array(values, dtype=dtype)


def make_model(op, inputs, attrs, opset, n_out=1):
    names = ["" if x is None else f"x{i}" for i, x in enumerate(inputs)]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype),
                                                  x.shape)
                    for n, x in zip(names, inputs) if n]
    outputs = [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_out)]
    graph = helper.make_graph([node], op.lower(), graph_inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_onyx(model, inputs):
    return list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))


def assert_same(ours, ref):
    ref = np.asarray(ref)
    assert isinstance(ours, np.ndarray), type(ours)  # never a NumPy scalar
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f":
        tol = 1e-2 if ref.dtype.itemsize == 2 else 1e-5
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(ours, ref)


def case(name, op, inputs, opset=25, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


def distinct_indices(shape, axis_len, axis):
    """Per-line permutation indices, so plain scatters never write one place twice."""
    lines = np.argsort(rng.random(shape), axis=axis) % axis_len
    return lines.astype(I64)


TIES = np.array([[3, 1, 3, 2, 1], [0, 0, 5, 5, 0]], dtype=np.int32)
WITH_NAN = np.array([1.0, np.nan, 3.0, np.nan], np.float32)

CASES = [
    # Gather family
    case("gather_axis0", "Gather", [rand(5, 3), ints(0, -1, 3, 3)]),
    case("gather_axis1_2d", "Gather", [rand(2, 4, 3), ints(-4, 1, 2, 3).reshape(2, 2)],
         axis=1),
    case("gather_to_scalar", "Gather", [rand(4), np.array(-1, I64)]),
    case("gather_scalar_idx", "Gather", [rand(4, 3), np.array(-2, I64)], axis=0),
    case("gather_int32_idx", "Gather", [rand(3, 4, dtype=np.int8), ints(3, 0, dtype=np.int32)],
         axis=-1),
    case("gather_empty_idx", "Gather", [rand(4, 3), ints().reshape(0, 2)]),
    case("gather_strings", "Gather", [np.array(["a", "b", "c"], dtype=object), ints(2, 0)]),
    case("gather_elements", "GatherElements", [rand(3, 4), ints(0, -1, 2, 1, 3, 0).reshape(3, 2)],
         axis=1),
    case("gather_elements_short", "GatherElements", [rand(4, 3), ints(3, -4, 1).reshape(1, 3)]),
    case("gather_nd", "GatherND", [rand(3, 4, 5), ints(0, 1, 2, -1).reshape(2, 2)]),
    case("gather_nd_full", "GatherND", [rand(3, 4), ints(0, 1, 2, 3, -1, -1).reshape(3, 2)]),
    case("gather_nd_batch", "GatherND", [rand(2, 3, 4), ints(1, 2, 0, 3).reshape(2, 1, 2)],
         batch_dims=1),
    case("gather_nd_batch2", "GatherND", [rand(2, 3, 4, 5), ints(*range(6)).reshape(2, 3, 1)
                                          % 4], batch_dims=2),
    # Scatter family
    case("scatter_elements", "ScatterElements",
         [rand(4, 5), distinct_indices((4, 3), 5, 1), rand(4, 3)], axis=1),
    case("scatter_elements_neg", "ScatterElements",
         [rand(3, 3), ints(-1, 0, -3).reshape(1, 3), rand(1, 3)]),
    case("scatter_elements_add", "ScatterElements",
         [rand(3, 4), ints(0, 0, 2, 0, 1, 1, 1, 1).reshape(2, 4), rand(2, 4)], reduction="add"),
    case("scatter_elements_mul", "ScatterElements",
         [rand(3, 4), ints(0, 0, 2, 0, 0, 0, 1, 2).reshape(2, 4), rand(2, 4)], reduction="mul"),
    case("scatter_elements_max", "ScatterElements",
         [rand(4, 2), ints(1, 1, 1, 1, 3, 3).reshape(3, 2), rand(3, 2)], reduction="max"),
    case("scatter_elements_min_int", "ScatterElements",
         [rand(4, 2, dtype=np.int32), ints(1, 0, 1, 0).reshape(2, 2),
          rand(2, 2, dtype=np.int32)], reduction="min"),
    case("scatter_v10", "Scatter", [rand(3, 3), ints(1, 0, 2).reshape(1, 3), rand(1, 3)],
         opset=10),
    case("scatter_nd", "ScatterND", [rand(4, 3), ints(2, 0).reshape(2, 1), rand(2, 3)]),
    case("scatter_nd_elements", "ScatterND",
         [rand(2, 3, 4), ints(0, 1, 2, 1, -1, -1).reshape(2, 3), rand(2)]),
    case("scatter_nd_add", "ScatterND",
         [rand(4, 3), ints(1, 1, 3).reshape(3, 1), rand(3, 3)], reduction="add"),
    case("scatter_nd_mul", "ScatterND",
         [rand(4, 3), ints(0, 0).reshape(2, 1), rand(2, 3)], reduction="mul"),
    case("scatter_nd_max", "ScatterND",
         [rand(4, 3, dtype=I64), ints(2, 2).reshape(2, 1), rand(2, 3, dtype=I64)],
         reduction="max"),
    case("scatter_nd_min", "ScatterND",
         [rand(4, 3), ints(-1, 3).reshape(2, 1), rand(2, 3)], reduction="min"),
    case("tensor_scatter", "TensorScatter",
         [rand(2, 3, 6, 4), rand(2, 3, 2, 4), ints(1, 4)], opset=24),
    case("tensor_scatter_default", "TensorScatter",
         [rand(2, 5, 3), rand(2, 2, 3)], opset=24, axis=1),
    case("tensor_scatter_circular", "TensorScatter",
         [rand(2, 5, 3), rand(2, 3, 3), ints(3, 4)], opset=24, axis=1, mode="circular"),
    # Selection
    case("nonzero", "NonZero", [rand(3, 4, dtype=np.int32) % 2]),
    case("nonzero_bool_1d", "NonZero", [np.array([True, False, True])]),
    case("nonzero_empty", "NonZero", [rand(0, 3)]),
    case("compress_axis", "Compress", [rand(3, 4), np.array([True, False, True])], axis=0),
    case("compress_flat", "Compress", [rand(2, 3), np.array([False, True, True, False])]),
    case("compress_neg_axis", "Compress", [rand(2, 4), np.array([1, 0, 0, 1], bool)], axis=-1),
    case("reverse_seq_time0", "ReverseSequence", [rand(4, 3, 2), ints(4, 1, 3)]),
    case("reverse_seq_batch0", "ReverseSequence", [rand(3, 5), ints(2, 5, 0)],
         batch_axis=0, time_axis=1),
    # ArgMax / ArgMin / TopK
    case("argmax", "ArgMax", [rand(3, 4, 5)], axis=1),
    case("argmax_last_ties", "ArgMax", [TIES], axis=1, select_last_index=1),
    case("argmin_first_ties", "ArgMin", [TIES], axis=-1, keepdims=0),
    case("argmin_last_ties", "ArgMin", [TIES], axis=0, select_last_index=1, keepdims=0),
    case("argmax_v11", "ArgMax", [rand(3, 4)], opset=11, axis=-1),
    case("topk", "TopK", [rand(3, 6), ints(3)], n_out=2),
    case("topk_smallest_axis0", "TopK", [rand(5, 3), ints(2)], n_out=2, axis=0, largest=0),
    case("topk_ties", "TopK", [TIES, ints(3)], n_out=2),
    case("topk_ties_smallest", "TopK", [TIES, ints(4)], n_out=2, largest=0),
    case("topk_uint64", "TopK", [rand(4, 5, dtype=np.uint64), ints(5)], n_out=2, oracle="ref"),
    case("topk_k0", "TopK", [rand(2, 3), ints(0)], n_out=2),
    case("topk_v1", "TopK", [rand(2, 5)], opset=9, n_out=2, k=2),
    # Unique
    case("unique_sorted", "Unique", [ints(2, 1, 1, 3, 4, 3)], n_out=4),
    case("unique_unsorted", "Unique", [ints(2, 1, 1, 3, 4, 3, 0)], n_out=4, sorted=0),
    case("unique_2d_flat", "Unique", [ints(1, 3, 2, 3).reshape(2, 2)], n_out=4),
    case("unique_axis0", "Unique", [ints(1, 0, 0, 1, 0, 0, 2, 3, 4).reshape(3, 3).astype(
        np.float32)], n_out=4, axis=0),
    case("unique_axis1_unsorted", "Unique", [np.array([[[1, 1], [0, 1], [2, 1], [0, 1]]] * 2,
                                                      np.float32)], n_out=4, axis=1, sorted=0),
    case("unique_axis_neg", "Unique", [rand(3, 4, dtype=np.int8) % 2], n_out=4, axis=-1),
    case("unique_strings", "Unique", [np.array(["b", "a", "b"], dtype=object)], n_out=4,
         sorted=0),
    # CumSum / CumProd
    case("cumsum", "CumSum", [rand(3, 4), np.array(1, I64)]),
    case("cumsum_excl_rev", "CumSum", [rand(3, 4), np.array(-2, np.int32)], exclusive=1,
         reverse=1),
    case("cumsum_int", "CumSum", [rand(5, dtype=np.int32), np.array(0, I64)], exclusive=1),
    case("cumsum_f16", "CumSum", [rand(6, dtype=np.float16), np.array(0, I64)], reverse=1),
    case("cumprod", "CumProd", [rand(2, 5), np.array(1, I64)], opset=26),
    case("cumprod_excl_rev", "CumProd", [rand(4, 2, dtype=np.float64), np.array(0, I64)],
         opset=26, exclusive=1, reverse=1),
]


@pytest.mark.parametrize("op, inputs, attrs, opset, n_out, oracle", CASES)
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = run_onyx(model, inputs)
    refs = run_oracle(model, inputs, oracle)
    assert len(ours) == len(refs)
    for o, r in zip(ours, refs):
        assert_same(o, r)


def test_argmax_nan_matches_numpy():
    model = make_model("ArgMax", [WITH_NAN], {"keepdims": 0}, 13)
    assert run_onyx(model, [WITH_NAN])[0] == 1


def test_scatter_does_not_modify_input():
    data = rand(3, 3)
    before = data.copy()
    inputs = [data, ints(0, 1, 2).reshape(1, 3), rand(1, 3)]
    run_onyx(make_model("ScatterElements", inputs, {}, 18), inputs)
    np.testing.assert_array_equal(data, before)


ERRORS = [
    ("Gather", [rand(3, 4), ints(0, 3)], {}, r"Gather.*index 3.*axis 0.*\[3, 4\]"),
    ("Gather", [rand(3, 4), ints(-5)], {"axis": 1}, r"Gather.*index -5.*\[3, 4\]"),
    ("GatherElements", [rand(2, 2), ints(0, 2).reshape(1, 2)], {}, r"GatherElements.*index 2"),
    ("GatherND", [rand(2, 3), ints(1, 3).reshape(1, 2)], {}, r"GatherND.*index 3.*\[2, 3\]"),
    ("GatherND", [rand(2, 3), ints(1, 1, 1).reshape(1, 3)], {}, r"GatherND.*\[2, 3\]"),
    ("ScatterElements", [rand(2, 2), ints(0, 5).reshape(1, 2), rand(1, 2)], {},
     r"ScatterElements.*index 5"),
    ("ScatterElements", [rand(2, 2), ints(0, 1).reshape(1, 2), rand(2, 2)], {},
     r"ScatterElements.*updates \[2, 2\]"),
    ("ScatterND", [rand(2, 3), ints(-3).reshape(1, 1), rand(1, 3)], {},
     r"ScatterND.*index -3.*\[2, 3\]"),
    ("ScatterND", [rand(2, 3), ints(0).reshape(1, 1), rand(1, 2)], {}, r"ScatterND.*\[1, 2\]"),
    ("TopK", [rand(2, 3), ints(4)], {}, r"TopK.*k=4.*\[2, 3\]"),
    ("ArgMax", [rand(0, 3)], {}, r"ArgMax.*\[0, 3\]"),
    ("ReverseSequence", [rand(3, 2), ints(4, 1)], {}, r"ReverseSequence.*\[3, 2\]"),
    ("Compress", [rand(2, 2), np.array([True, False, True])], {"axis": 0},
     r"Compress.*\[2, 2\]"),
    ("CumSum", [rand(2, 3), np.array(2, I64)], {}, r"CumSum.*axis 2.*rank 2"),
]


@pytest.mark.parametrize("op, inputs, attrs, pattern", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_bad_input_raises(op, inputs, attrs, pattern):
    model = make_model(op, inputs, attrs, 25, n_out=2 if op == "TopK" else 1)
    with pytest.raises(ShapeError, match=pattern) as info:
        run_onyx(model, inputs)
    assert isinstance(info.value, OnyxError)


def test_tensor_scatter_overrun_raises():
    inputs = [rand(2, 4, 3), rand(2, 2, 3), ints(1, 3)]
    with pytest.raises(ShapeError, match=r"TensorScatter.*overruns.*\[2, 4, 3\]"):
        run_onyx(make_model("TensorScatter", inputs, {"axis": 1}, 24), inputs)

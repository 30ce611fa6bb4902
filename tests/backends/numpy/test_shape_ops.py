"""Shape, generator and linear-algebra kernels against onnxruntime on single-node models.

Each row of a table is one node: op, inputs, attributes, opset. The model runs through
``onyx.backend`` and through onnxruntime (or ``onnx.reference`` where a row says so), and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` that names
the op.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import onyx.backend
from onyx.ir.errors import LimitError, OnyxError, ShapeError
from onyx.testing import run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(0)
I64 = np.int64


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    return rng.standard_normal(shape).astype(dtype)


def ints(*values):
    return np.array(values, dtype=I64)


def run_onyx(model, inputs):
    return list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))


def assert_same(ours, ref):
    ref = np.asarray(ref)
    assert isinstance(ours, np.ndarray), type(ours)  # never a NumPy scalar
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f" or ref.dtype == ml_dtypes.bfloat16:
        tol = 1e-2 if ref.dtype.itemsize == 2 else 1e-5
        np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=tol,
                                   atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(ours, ref)


def case(name, op, inputs, opset=25, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


CASES = [
    # Reshape
    case("reshape_infer", "Reshape", [rand(2, 3, 4), ints(4, -1)]),
    case("reshape_copy_zero", "Reshape", [rand(2, 3, 4), ints(0, 0, -1)]),
    case("reshape_allowzero", "Reshape", [rand(0, 3), ints(3, 0)], allowzero=1),
    case("reshape_empty_infer", "Reshape", [rand(0, 3), ints(-1, 3)]),
    case("reshape_int64_scalar", "Reshape", [rand(1, 1, dtype=I64), ints()]),
    case("reshape_bool", "Reshape", [rand(4, 2, dtype=np.bool_), ints(2, 2, 2)]),
    case("reshape_v1_attr", "Reshape", [rand(2, 6)], opset=4, shape=[3, 4]),
    # Transpose
    case("transpose_default", "Transpose", [rand(2, 3, 4)]),
    case("transpose_perm", "Transpose", [rand(2, 3, 4, 5)], perm=[2, 0, 3, 1]),
    case("transpose_f16", "Transpose", [rand(3, 4, dtype=np.float16)], perm=[1, 0]),
    case("transpose_string", "Transpose", [np.array([["a", "b"], ["c", "d"]], dtype=object)]),
    case("transpose_empty", "Transpose", [rand(0, 3)]),
    # Flatten
    case("flatten_0", "Flatten", [rand(2, 3, 4)], axis=0),
    case("flatten_neg", "Flatten", [rand(2, 3, 4)], axis=-1),
    case("flatten_rank", "Flatten", [rand(2, 3, 4)], axis=3),
    case("flatten_v9", "Flatten", [rand(2, 3, 4, dtype=np.int32)], opset=9, axis=2),
    # Concat
    case("concat_3", "Concat", [rand(2, 3), rand(2, 1), rand(2, 4)], axis=-1),
    case("concat_empty_part", "Concat", [rand(0, 3), rand(2, 3)], axis=0),
    case("concat_int8", "Concat", [rand(2, 2, dtype=np.int8), rand(1, 2, dtype=np.int8)],
         axis=0),
    # Split
    case("split_input", "Split", [rand(6, 2), ints(1, 2, 3)], opset=13, n_out=3),
    case("split_equal_13", "Split", [rand(2, 6)], opset=13, n_out=3, axis=1),
    case("split_num_outputs_uneven", "Split", [rand(7, dtype=np.int32)], opset=18, n_out=3,
         num_outputs=3),
    case("split_attr_11", "Split", [rand(5, 4)], opset=11, n_out=2, split=[2, 3]),
    case("split_zero_part", "Split", [rand(3, 2), ints(0, 3)], opset=18, n_out=2),
    # Slice
    case("slice_basic", "Slice", [rand(5, 6), ints(1, 0), ints(4, 5), ints(0, 1), ints(2, 1)]),
    case("slice_neg_step", "Slice", [rand(5, 6), ints(-1), ints(-1000), ints(1), ints(-2)]),
    case("slice_clamp", "Slice", [rand(5, 6), ints(-100, 2), ints(100, 2**62)]),
    case("slice_int_extremes", "Slice",
         [rand(4, 3), ints(2**63 - 1), ints(-(2**63)), ints(0), ints(-1)]),
    case("slice_empty", "Slice", [rand(5, 6), ints(3), ints(1), ints(-1)]),
    case("slice_neg_axis", "Slice", [rand(3, 4, 5), ints(1), ints(3), ints(-1)]),
    case("slice_v9_attrs", "Slice", [rand(4, 5)], opset=9, starts=[1, -3], ends=[100, -1],
         axes=[0, 1]),
    # Squeeze / Unsqueeze
    case("squeeze_all", "Squeeze", [rand(1, 3, 1, 2)]),
    case("squeeze_axes", "Squeeze", [rand(1, 3, 1, 2), ints(-2)]),
    case("squeeze_v11", "Squeeze", [rand(1, 3, 1)], opset=11, axes=[0]),
    case("unsqueeze_axes", "Unsqueeze", [rand(3, 2), ints(0, -1, 2)]),
    case("unsqueeze_scalar", "Unsqueeze", [np.array(3.0, np.float32), ints(0)]),
    case("unsqueeze_v11", "Unsqueeze", [rand(3, 2)], opset=11, axes=[1, 3]),
    # Expand / Tile
    case("expand_rank_up", "Expand", [rand(3, 1), ints(2, 3, 4)]),
    case("expand_shape_smaller", "Expand", [rand(2, 3), ints(1, 1)]),
    case("expand_empty", "Expand", [rand(1, 3), ints(0, 3)]),
    case("expand_string", "Expand", [np.array(["x"], dtype=object), ints(2, 2)]),
    case("tile", "Tile", [rand(2, 3), ints(2, 3)]),
    case("tile_zero", "Tile", [rand(2, 3, dtype=I64), ints(0, 1)]),
    # Pad
    case("pad_constant", "Pad", [rand(2, 3), ints(1, 0, 2, 1), np.array(1.5, np.float32)]),
    case("pad_negative", "Pad", [rand(4, 5), ints(-1, 2, 1, -2)]),
    case("pad_reflect", "Pad", [rand(3, 4), ints(2, 1, 1, 3)], mode="reflect"),
    case("pad_edge", "Pad", [rand(3, 4, dtype=np.int32), ints(0, 2, 3, 1)], mode="edge"),
    case("pad_wrap", "Pad", [rand(3, 4), ints(2, 1, 1, 2)], mode="wrap"),
    case("pad_axes", "Pad", [rand(2, 3, 4), ints(1, 2), np.array(0, np.float32), ints(-1)]),
    case("pad_bool", "Pad", [rand(2, 2, dtype=np.bool_), ints(1, 1, 1, 1)]),
    case("pad_v2_attr", "Pad", [rand(2, 3)], opset=2, pads=[0, 1, 1, 0],
         value=2.0),
    # Shape / Size
    case("shape", "Shape", [rand(2, 3, 4)]),
    case("shape_start_end", "Shape", [rand(2, 3, 4, 5)], start=1, end=-1),
    case("shape_clip", "Shape", [rand(2, 3)], start=-10, end=10),
    case("shape_start_after_end", "Shape", [rand(2, 3)], start=2, end=1),
    case("size", "Size", [rand(2, 0, 4)]),
    # DepthToSpace / SpaceToDepth
    case("d2s_dcr", "DepthToSpace", [rand(2, 8, 3, 2)], blocksize=2),
    case("d2s_crd", "DepthToSpace", [rand(1, 9, 2, 2)], blocksize=3, mode="CRD"),
    case("s2d", "SpaceToDepth", [rand(2, 3, 4, 6)], blocksize=2),
    case("s2d_crd", "SpaceToDepth", [rand(1, 2, 4, 4)], opset=28, oracle="ref", blocksize=2,
         mode="CRD"),
    # CenterCropPad / Col2Im
    case("ccp_crop_pad", "CenterCropPad", [rand(5, 4, 3), ints(2, 7)], axes=[0, 1]),
    case("ccp_all", "CenterCropPad", [rand(5, 4), ints(4, 7)]),
    case("col2im", "Col2Im", [rand(2, 12, 8), ints(4, 5), ints(2, 2)], strides=[2, 1]),
    case("col2im_pads_dil", "Col2Im", [rand(1, 4, 25), ints(5, 5), ints(2, 2)],
         dilations=[2, 2], pads=[1, 1, 1, 1]),
    # Constant / ConstantOfShape
    case("constant_floats", "Constant", [], value_floats=[1.0, 2.5]),
    case("constant_int", "Constant", [], value_int=7),
    case("constant_strings", "Constant", [], value_strings=["a", "bc"]),
    case("constant_tensor", "Constant", [], value=numpy_helper.from_array(rand(2, 3))),
    case("cos_default", "ConstantOfShape", [ints(2, 3)]),
    case("cos_int32", "ConstantOfShape", [ints(3, 0)],
         value=numpy_helper.from_array(np.array([4], np.int32))),
    case("cos_scalar", "ConstantOfShape", [ints()],
         value=numpy_helper.from_array(np.array([1.5], np.float64))),
    # Range
    case("range_int", "Range", [np.array(3, I64), np.array(17, I64), np.array(4, I64)]),
    case("range_neg", "Range", [np.array(10, np.int32), np.array(-3, np.int32),
                                np.array(-3, np.int32)]),
    case("range_float", "Range", [np.array(0.5, np.float32), np.array(3.2, np.float32),
                                  np.array(0.3, np.float32)]),
    case("range_empty", "Range", [np.array(5.0), np.array(1.0), np.array(1.0)]),
    case("range_f16", "Range", [np.array(0, np.float16), np.array(7, np.float16),
                                np.array(0.5, np.float16)], opset=27),
    # EyeLike / Trilu / OneHot
    case("eyelike", "EyeLike", [rand(3, 5)], k=1),
    case("eyelike_neg_k_dtype", "EyeLike", [rand(4, 3)], k=-2, dtype=onnx.TensorProto.INT32),
    case("eyelike_k_outside", "EyeLike", [rand(2, 3, dtype=I64)], k=5),
    case("triu", "Trilu", [rand(2, 4, 5)]),
    case("tril_k", "Trilu", [rand(4, 5), np.array(-1, I64)], upper=0),
    case("triu_k_large", "Trilu", [rand(3, 3, dtype=I64), np.array(10, I64)]),
    case("tril_bool", "Trilu", [rand(3, 4, dtype=np.bool_), np.array(1, I64)], upper=0),
    case("onehot", "OneHot", [ints(0, 2, -1, 5), np.array(4, I64),
                              np.array([0, 1], np.float32)]),
    case("onehot_axis0", "OneHot", [ints(1, 0, 2).reshape(3, 1), np.array(3.0, np.float32),
                                    np.array([2, 7], np.int32)], axis=0),
    # Fractional indices truncate toward zero, as onnxruntime does.
    case("onehot_float_idx", "OneHot", [np.array([1.7, -1.2, 2.0], np.float32),
                                        np.array(3, np.float32),
                                        np.array([-1, 1], np.float32)], axis=-2),
    # Einsum / Det
    case("einsum_matmul", "Einsum", [rand(3, 4), rand(4, 5)], equation="ij,jk->ik"),
    case("einsum_batch", "Einsum", [rand(2, 3, 4), rand(2, 4, 5)], equation="bij, bjk -> bik"),
    case("einsum_implicit", "Einsum", [rand(3, 4), rand(4, 3)], equation="ij,jk"),
    case("einsum_trace", "Einsum", [rand(4, 4)], equation="ii->"),
    case("einsum_diag", "Einsum", [rand(2, 3, 3)], equation="bii->bi"),
    case("einsum_ellipsis", "Einsum", [rand(2, 3, 4), rand(4)], equation="...j,j->..."),
    case("einsum_three", "Einsum", [rand(2, 3), rand(3, 4), rand(4)],
         equation="ab,bc,c->a"),
    case("einsum_int", "Einsum", [rand(3, 4, dtype=np.int32)], equation="ij->ji"),
    case("einsum_f64_outer", "Einsum", [rand(3, dtype=np.float64), rand(2, dtype=np.float64)],
         equation="i,j->ij"),
    case("det", "Det", [rand(3, 3)]),
    case("det_batch_f64", "Det", [rand(2, 4, 4, 4, dtype=np.float64)], oracle="ref"),
]


@pytest.mark.parametrize("op, inputs, attrs, opset, n_out, oracle", CASES)
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = run_onyx(model, inputs)
    refs = run_oracle(model, inputs, oracle)
    assert len(ours) == len(refs)
    for o, r in zip(ours, refs):
        assert_same(o, r)


X23 = np.arange(6, dtype=np.float32).reshape(2, 3)
LEGACY = [  # opsets onnxruntime no longer runs, checked against NumPy directly
    ("Tile", [X23, np.array(2.0, np.float32), np.array(1.0, np.float32)], {}, 5,
     [np.tile(X23, (1, 2))]),
    ("Pad", [X23], {"paddings": [1, 0, 0, 1], "value": 3.0}, 1,
     [np.pad(X23, ((1, 0), (0, 1)), constant_values=3.0)]),
    ("Split", [X23, np.array([1, 2], np.float32)], {"axis": 1}, 1, [X23[:, :1], X23[:, 1:]]),
    ("Concat", [X23, X23], {}, 3, [np.concatenate([X23, X23], axis=1)]),
    ("Squeeze", [X23[None]], {}, 1, [X23]),
]


@pytest.mark.parametrize("op, inputs, attrs, opset, expected", LEGACY,
                         ids=[f"{e[0]}-v{e[3]}" for e in LEGACY])
def test_legacy_opsets(op, inputs, attrs, opset, expected):
    ours = run_onyx(make_model(op, inputs, attrs, opset, len(expected)), inputs)
    for o, e in zip(ours, expected):
        assert_same(o, e)


def test_constant_sparse_value():
    dense = np.array([[0, 2, 0], [0, 0, 3]], np.float32)
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(np.array([2, 3], np.float32)),
                                       numpy_helper.from_array(ints(1, 5)), [2, 3])
    model = make_model("Constant", [], {"sparse_value": sparse}, 25)
    np.testing.assert_array_equal(run_onyx(model, [])[0], dense)


def test_views_do_not_alias_expand_output():
    x = rand(3, 1)
    out = run_onyx(make_model("Expand", [x, ints(3, 4)], {}, 25), [x, ints(3, 4)])[0]
    out[0, 0] = 99.0  # the result is a fresh, writable array
    assert x[0, 0] != 99.0


ERRORS = [
    ("Reshape", [rand(2, 3), ints(4, 2)], {}, ShapeError, r"Reshape.*\[2, 3\]"),
    ("Reshape", [rand(2, 3), ints(-1, -1)], {}, ShapeError, r"Reshape.*more than one -1"),
    ("Transpose", [rand(2, 3)], {"perm": [0, 0]}, ShapeError, r"Transpose.*perm"),
    ("Concat", [rand(2, 3), rand(3, 2)], {"axis": 0}, ShapeError, r"Concat.*\[2, 3\]"),
    ("Split", [rand(5), ints(2, 2)], {}, ShapeError, r"Split.*\[5\]"),
    ("Slice", [rand(5), ints(0), ints(3), ints(0), ints(0)], {}, ShapeError,
     r"Slice.*steps cannot be 0"),
    ("Slice", [rand(5), ints(0), ints(3), ints(1)], {}, ShapeError, r"Slice.*axes.*rank 1"),
    ("Squeeze", [rand(2, 3), ints(0)], {}, ShapeError, r"Squeeze.*\[2, 3\]"),
    ("Expand", [rand(2, 3), ints(4, 3)], {}, ShapeError, r"Expand.*\[2, 3\]"),
    ("Expand", [rand(1), ints(2**40, 2**30)], {}, LimitError, r"Expand"),
    ("Tile", [rand(2, 3), ints(2**40, 2**30)], {}, LimitError, r"Tile"),
    ("Tile", [rand(2, 3), ints(2)], {}, ShapeError, r"Tile.*\[2, 3\]"),
    ("Pad", [rand(2, 3), ints(0, 2**50, 0, 2**50)], {}, LimitError, r"Pad"),
    ("Pad", [rand(2, 3), ints(-3, 0, 0, 0)], {}, ShapeError, r"Pad.*\[2, 3\]"),
    ("Pad", [rand(0, 3), ints(1, 0, 0, 0)], {"mode": "reflect"}, ShapeError, r"Pad.*empty"),
    ("ConstantOfShape", [ints(2**40, 2**40)], {}, LimitError, r"ConstantOfShape"),
    ("ConstantOfShape", [ints(-1, 2)], {}, LimitError, r"ConstantOfShape.*negative"),
    ("Range", [np.array(0, I64), np.array(2**62, I64), np.array(1, I64)], {}, LimitError,
     r"Range"),
    ("Range", [np.array(0.0), np.array(1.0), np.array(0.0)], {}, ShapeError, r"Range.*delta"),
    ("OneHot", [ints(1), np.array(2**60, I64), np.array([0.0, 1.0], np.float32)], {},
     LimitError, r"OneHot"),
    ("EyeLike", [rand(2, 3, 4)], {}, ShapeError, r"EyeLike.*\[2, 3, 4\]"),
    ("DepthToSpace", [rand(1, 3, 2, 2)], {"blocksize": 2}, ShapeError, r"DepthToSpace"),
    ("Col2Im", [rand(1, 4, 5), ints(3, 3), ints(2, 2)], {}, ShapeError, r"Col2Im"),
    ("Einsum", [rand(2, 3), rand(4, 5)], {"equation": "ij,jk->ik"}, ShapeError, r"Einsum"),
    ("Einsum", [rand(2, 3)], {"equation": "ij,jk->ik"}, ShapeError, r"Einsum.*2 operands"),
    ("Det", [rand(2, 3)], {}, ShapeError, r"Det.*\[2, 3\]"),
]


@pytest.mark.parametrize("op, inputs, attrs, error, pattern", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_bad_input_raises(op, inputs, attrs, error, pattern):
    model = make_model(op, inputs, attrs, 25)
    with pytest.raises(error, match=pattern) as info:
        run_onyx(model, inputs)
    assert isinstance(info.value, OnyxError)

"""CUDA code generation without a GPU: index arithmetic against NumPy, cache keys, synthetic
names only, coverage of the op table, fallbacks and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from onyx import ir
from onyx.backends.cuda.codegen import FUSED_DOMAIN, kernels_for_node, supported_ops
from onyx.backends.cuda.codegen.dtypes import CTYPES, FLOATS
from onyx.backends.cuda.codegen.elementwise import ELEMENTWISE
from onyx.backends.cuda.codegen.indexing import (
    Access,
    broadcast_access,
    contiguous_strides,
    permute_access,
    render_offset,
)
from onyx.backends.cuda.plan import plan_graph, plan_summary
from onyx.ir.dtypes import DType
from onyx.ir.errors import NodeError, ShapeError
from onyx.ir.types import tensor
from tests.backends.cuda.samples import EVIL, all_samples, fused_cases, fused_model, plan

F = DType.FLOAT


def _eval_offsets(expr: str, n: int) -> np.ndarray:
    """Evaluate a rendered C index expression in Python (non-negative ints: / is //)."""
    py = re.sub(r"(\d+)LL", r"\1", expr).replace("/", "//")
    assert re.fullmatch(r"[0-9i+*%/() ]*", py), py
    return np.array([eval(py, {}, {"i": i}) for i in range(n)], dtype=np.int64)  # noqa: S307


@pytest.mark.parametrize("in_shape,out_shape", [
    ((3,), (4, 3)), ((4, 1), (4, 3)), ((1,), (2, 3, 4)), ((2, 1, 4), (2, 3, 4)),
    ((), (5,)), ((5, 1, 1, 3), (5, 2, 7, 3)), ((2, 3, 4), (2, 3, 4)), ((1, 1), (6, 1)),
])
def test_broadcast_offsets_match_numpy(in_shape, out_shape):
    src = np.arange(int(np.prod(in_shape)), dtype=np.int64).reshape(in_shape)
    want = np.broadcast_to(src, out_shape).reshape(-1)
    expr = render_offset("i", out_shape, broadcast_access(in_shape, out_shape))
    got = src.reshape(-1)[_eval_offsets(expr, int(np.prod(out_shape)))]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,perm", [((2, 3, 4), (2, 0, 1)), ((5, 6), (1, 0)),
                                        ((2, 1, 3, 4), (0, 3, 1, 2)), ((3, 4, 5), (0, 1, 2))])
def test_transpose_offsets_match_numpy(shape, perm):
    src = np.arange(int(np.prod(shape))).reshape(shape)
    want = src.transpose(perm)
    access = permute_access(Access(contiguous_strides(shape)), perm)
    got = src.reshape(-1)[_eval_offsets(render_offset("i", want.shape, access), want.size)]
    np.testing.assert_array_equal(got, want.reshape(-1))


def test_plain_read_is_just_the_index():
    assert render_offset("i", (4, 5, 6), Access(contiguous_strides((4, 5, 6)))) == "(i)"
    assert render_offset("i", (4, 5), broadcast_access((), (4, 5))) == "0LL"


def test_broadcast_error():
    with pytest.raises(ShapeError, match=r"\[3\] to \[4, 2\]"):
        broadcast_access((3,), (4, 2))


def test_same_computation_different_names_same_key():
    a = ir.Node("Add", [ir.Value("x"), ir.Value("y")], name="first", outputs=["z"])
    b = ir.Node("Add", [ir.Value(EVIL), ir.Value("other")], name=EVIL, outputs=["w"])
    types = [tensor(F, (4, 3)), tensor(F, (3,))], [tensor(F, (4, 3))]
    ka = kernels_for_node(a, *types).kernels[0]
    kb = kernels_for_node(b, *types).kernels[0]
    assert ka.key == kb.key and ka.source == kb.source and re.fullmatch(r"k_[0-9a-f]{16}",
                                                                         ka.name)


def test_key_changes_with_shape_dtype_arch_attrs():
    base = plan("Add", [(F, (4, 3)), (F, (3,))], [(F, (4, 3))]).kernels[0].key
    others = [
        plan("Add", [(F, (5, 3)), (F, (3,))], [(F, (5, 3))]),
        plan("Add", [(DType.DOUBLE, (4, 3)), (DType.DOUBLE, (3,))], [(DType.DOUBLE, (4, 3))]),
        plan("Add", [(F, (4, 3)), (F, (3,))], [(F, (4, 3))], arch="sm_80"),
        plan("Add", [(F, (4, 3)), (F, (4, 1))], [(F, (4, 3))]),
    ]
    keys = {base} | {p.kernels[0].key for p in others}
    assert len(keys) == 5
    lr = [plan("LeakyRelu", [(F, (8,))], [(F, (8,))], {"alpha": a}).kernels[0].key
          for a in (0.1, 0.2)]
    assert lr[0] != lr[1]


def test_fused_key_ignores_names():
    label, body, ins, outs = next(iter(fused_cases()))
    keys = set()
    for _ in range(2):
        node, fn = fused_model(body, ins)
        fn.name = node.op_type = f"g{len(keys)}"
        p = kernels_for_node(node, [tensor(*t) for t in ins], [tensor(*t) for t in outs],
                             functions={fn.key: fn})
        keys.add(p.kernels[0].key)
    assert len(keys) == 1


def test_no_model_names_in_any_source():
    n = 0
    for samples in all_samples().values():
        for label, p in samples:
            assert p is not None, label
            for k in p.kernels:
                n += 1
                assert "evil" not in k.source and "system" not in k.source, label
                assert k.name in k.source and 'extern "C" __global__' in k.source
                assert set(k.args) <= set(re.findall(r"\b(?:in|out|scratch)\d+\b", k.source))
    assert n > 500


def test_dtype_coverage_table():
    for op, rule in ELEMENTWISE.items():
        assert rule.dtypes and rule.dtypes <= set(CTYPES), op
    assert FLOATS <= ELEMENTWISE["Exp"].dtypes and DType.INT32 not in ELEMENTWISE["Exp"].dtypes
    ops = set(supported_ops())
    for op in ("MatMul", "Gemm", "Conv", "Softmax", "LayerNormalization", "ReduceSum", "ArgMax",
               "MaxPool", "Transpose", "Concat", "Gather", "Pad", "Slice", "Where", "Cast",
               "Reshape", "Expand"):
        assert op in ops, op


def test_unsupported_is_none():
    assert plan("TopK", [(F, (4,)), (DType.INT64, (1,))], [(F, (2,)), (DType.INT64, (2,))]) \
        is None
    assert plan("Exp", [(DType.INT32, (4,))], [(DType.INT32, (4,))]) is None
    assert plan("Add", [(DType.STRING, (4,))] * 2, [(DType.STRING, (4,))]) is None
    node = ir.Node("Relu", [ir.Value("x")])
    assert kernels_for_node(node, [tensor(F, ("n", 4))], [tensor(F, ("n", 4))]) is None
    # Slice needs its starts/ends as constants at plan time.
    assert plan("Slice", [(F, (4,)), (DType.INT64, (1,)), (DType.INT64, (1,))],
                [(F, (2,))]) is None
    # An onyx.fused node whose function is unknown.
    fused = ir.Node("nope", [ir.Value("x")], domain=FUSED_DOMAIN)
    assert kernels_for_node(fused, [tensor(F, (2,))], [tensor(F, (2,))]) is None


def test_views_alias_without_kernels():
    p = plan("Reshape", [(F, (2, 6)), (DType.INT64, (2,))], [(F, (3, 4))])
    assert p.kernels == () and p.aliases == ((0, 0),)
    p = plan("ReduceSum", [(F, (2, 6)), (DType.INT64, (0,))], [(F, (2, 6))],
             {"noop_with_empty_axes": 1}, consts={1: np.zeros(0, np.int64)})
    assert p.aliases == ((0, 0),)


def test_empty_output_needs_no_kernel():
    assert plan("Relu", [(F, (0, 3))], [(F, (0, 3))]).kernels == ()


def test_errors_name_op_and_shapes():
    with pytest.raises(ShapeError, match=r"MatMul.*\[2, 3\].*\[4, 5\]"):
        plan("MatMul", [(F, (2, 3)), (F, (4, 5))], [(F, (2, 5))])
    with pytest.raises(ShapeError, match=r"Reshape.*\[2, 6\].*\[5\]"):
        plan("Reshape", [(F, (2, 6)), (DType.INT64, (1,))], [(F, (5,))])
    with pytest.raises(ShapeError, match=r"Gemm.*transA"):
        plan("Gemm", [(F, (2, 3)), (F, (4, 5))], [(F, (2, 5))])


def test_malformed_attributes_are_onyx_errors():
    with pytest.raises(NodeError, match=r"LeakyRelu.*f32\[4\]"):
        plan("LeakyRelu", [(F, (4,))], [(F, (4,))], {"alpha": "1); system(0"})
    with pytest.raises(NodeError, match="MaxPool"):
        plan("MaxPool", [(F, (1, 1, 4, 4))], [(F, (1, 1, 2, 2))], {"kernel_shape": [2]})


def test_gemm_modes():
    f16 = plan("MatMul", [(DType.FLOAT16, (32, 32))] * 2, [(DType.FLOAT16, (32, 32))])
    assert "wmma::mma_sync" in f16.kernels[0].source
    fp32 = plan("MatMul", [(F, (32, 32))] * 2, [(F, (32, 32))])
    assert "wmma" not in fp32.kernels[0].source     # exact fp32 unless TF32 is allowed
    tf32 = plan("MatMul", [(F, (32, 32))] * 2, [(F, (32, 32))], allow_tf32=True)
    assert "__float_to_tf32" in tf32.kernels[0].source


def test_fused_is_one_kernel():
    for label, p in all_samples()["fused"]:
        assert len(p.kernels) == 1, label
        assert p.kernels[0].op.startswith("fused("), label


def test_plan_graph_lists_fallbacks():
    import onnx.helper as h
    from onnx import TensorProto as T
    g = h.make_graph(
        [h.make_node("MatMul", ["x", "w"], ["y"]), h.make_node("Relu", ["y"], ["z"]),
         h.make_node("Reshape", ["z", "s"], ["r"]), h.make_node("TopK", ["r", "k"], ["v", "i"])],
        "g", [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
        [h.make_tensor_value_info("v", T.FLOAT, None)],
        [h.make_tensor("w", T.FLOAT, [3, 4], np.ones(12)), h.make_tensor("k", T.INT64, [1], [2]),
         h.make_tensor("s", T.INT64, [1], [8])])
    m = ir.from_onnx(h.make_model(g, opset_imports=[h.make_opsetid("", 21)]))
    got = [(n.op_type, p is not None) for n, p in plan_graph(m)]
    assert got == [("MatMul", True), ("Relu", True), ("Reshape", True), ("TopK", False)]
    assert plan_summary(m) == {("", "MatMul"): "cuda", ("", "Relu"): "cuda",
                               ("", "Reshape"): "view", ("", "TopK"): "numpy"}

"""Generated kernels compute what the NumPy backend computes: each kernel is run on the CPU
through ``emulator.py`` (host C++ with CUDA's keywords defined away, real threads and
barriers per block) and compared with ``onyx.backend`` on the same inputs.

Tensor-core (WMMA/TF32) GEMMs cannot run on a CPU: these tests take the SIMT path (float32
without TF32, float16 on a pre-tensor-core arch); the WMMA bodies are only compile-checked.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest

import onyx.backend
from onyx import ir
from onyx.backends.cuda.codegen import kernels_for_node
from onyx.backends.cuda.codegen.elementwise import ELEMENTWISE
from onyx.ir.dtypes import DType
from onyx.ir.types import tensor
from onyx.testing import single_node_model
from tests.backends.cuda import emulator
from tests.backends.cuda.samples import fused_cases, fused_model

BF16 = ml_dtypes.bfloat16
rng = np.random.default_rng(0)


def rnd(*shape, dtype=np.float32, low=None):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -9 if low is None else low
        return rng.integers(lo, 10, size=shape).astype(dt)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    x = rng.standard_normal(shape).astype(np.float32)
    return (np.abs(x) + low if low is not None else x).astype(dt)


CASES: list[tuple] = []    # (id, op, inputs, attrs, opset, kernels_for_node kwargs)


def case(cid, op, inputs, attrs=None, opset=21, n_out=1, **kw):
    CASES.append((cid, op, inputs, attrs or {}, opset, dict(kw, n_out=n_out)))


_POSITIVE = {"Log", "Sqrt", "Acosh", "Reciprocal", "Pow"}
for op, rule in ELEMENTWISE.items():
    if op in ("Identity", "BitShift", "Swish") or DType.FLOAT not in rule.dtypes:
        continue
    low = 1.01 if op in _POSITIVE else None
    if op in ("Asin", "Acos", "Atanh"):
        ins = [rnd(3, 4) * 0.3]
    elif rule.arity == 3:
        ins = [rnd(3, 4), np.array(-0.5, np.float32), np.array(0.7, np.float32)]
    else:
        ins = [rnd(3, 4, low=low)] + [rnd(4, low=low) for _ in range((rule.arity or 3) - 1)]
    case(f"{op}-f32", op, ins)
for op in ("Add", "Mul", "Div", "Max", "Sigmoid", "Tanh", "Gelu", "Relu"):
    for dt in (np.float16, BF16, np.float64):
        n = ELEMENTWISE[op].arity or 2
        case(f"{op}-{np.dtype(dt).name}", op, [rnd(2, 5, dtype=dt)] + [rnd(5, dtype=dt)] * (n - 1))
for op in ("Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Abs", "Neg", "Sign", "Equal",
           "Less", "GreaterOrEqual", "BitwiseAnd", "BitwiseXor", "Clip"):
    n = {None: 2}.get(ELEMENTWISE[op].arity, ELEMENTWISE[op].arity)
    ins = [rnd(3, 4, dtype=np.int32)] + [rnd(4, dtype=np.int32, low=1) for _ in range(n - 1)]
    if op == "Clip":
        ins = [ins[0], np.array(-3, np.int32), np.array(4, np.int32)]
    case(f"{op}-i32", op, ins)
case("Mod-fmod-i64", "Mod", [rnd(6, dtype=np.int64), rnd(6, dtype=np.int64, low=1)], {"fmod": 1})
case("Mod-fmod-f32", "Mod", [rnd(6), rnd(6, low=0.5)], {"fmod": 1})
case("Gelu-tanh", "Gelu", [rnd(10)], {"approximate": "tanh"})
case("BitShift-u8", "BitShift", [rnd(6, dtype=np.uint8), np.array([0, 1, 2, 3, 1, 0], np.uint8)],
     {"direction": "LEFT"})
for op in ("And", "Or", "Xor"):
    case(f"{op}-bool", op, [rnd(3, 1, dtype=bool), rnd(4, dtype=bool)])
case("Not-bool", "Not", [rnd(7, dtype=bool)])
case("IsInf", "IsInf", [np.array([1, np.inf, -np.inf, np.nan], np.float32)])
case("IsNaN", "IsNaN", [np.array([1, np.inf, -np.inf, np.nan], np.float32)])
case("Max-nan", "Max", [np.array([1, np.nan, 3], np.float32), np.array([np.nan, 2, 1],
                                                                        np.float32)])
case("Relu-nan", "Relu", [np.array([-1, np.nan, 3], np.float32)])
case("Clip-max-only", "Clip", [rnd(8), None, np.array(0.2, np.float32)])
case("Sum-3", "Sum", [rnd(2, 3), rnd(3), rnd(2, 1)])
case("Pow-int-exp", "Pow", [rnd(5, low=0.5), np.array(3, np.int64)])
for src, dst in ((np.float32, np.int32), (np.float32, np.float16), (np.float32, BF16),
                 (np.float32, bool), (np.float64, np.float32), (np.int64, np.float32),
                 (bool, np.float32), (np.float16, np.int64), (np.int32, np.uint8)):
    x = rnd(4, 5, dtype=src) * (3 if np.dtype(src).kind == "f" else 1)
    case(f"Cast-{np.dtype(src).name}-{np.dtype(dst).name}", "Cast", [x],
         {"to": int(DType.from_numpy(dst))})
case("Where", "Where", [rnd(2, 1, 4, dtype=bool), rnd(3, 1), rnd(4)])

for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"):
    for shape, axes, keep in (((4, 300), [1], 1), ((6, 5, 7), [0, 2], 0), ((3, 8), [0], 1),
                              ((2, 3, 4), [], 0)):
        x = rnd(*shape, low=0.1 if op == "ReduceLogSum" else None)
        if op == "ReduceProd":
            x = (x * 0.1 + 1).astype(np.float32)
        ins = [x] + ([np.array(axes, np.int64)] if axes else [])
        case(f"{op}-{shape}-{axes}", op, ins, {"keepdims": keep}, 18)
case("ReduceSum-two-stage", "ReduceSum", [rnd(2, 70000), np.array([1], np.int64)], {}, 18)
case("ReduceMax-two-stage-all-f16", "ReduceMax", [rnd(300, 300, dtype=np.float16)], {}, 18)
case("ReduceMean-two-stage-i64", "ReduceMean", [rnd(66000, 1, dtype=np.int64),
                                                np.array([0], np.int64)], {}, 18)
case("ReduceL2-two-stage-f64", "ReduceL2", [rnd(3, 1 << 16, dtype=np.float64)],
     {"keepdims": 0}, 18)
case("ReduceSum-i32", "ReduceSum", [rnd(5, 9, dtype=np.int32), np.array([1], np.int64)], {}, 18)
case("ReduceMax-f16", "ReduceMax", [rnd(3, 100, dtype=np.float16), np.array([-1], np.int64)],
     {}, 18)
case("ReduceMean-bf16-axes-attr", "ReduceMean", [rnd(4, 70, dtype=BF16)], {"axes": [1]}, 13)
for op in ("ArgMax", "ArgMin"):
    for last in (0, 1):
        case(f"{op}-ties-{last}", op, [rnd(4, 200, dtype=np.int32)],
             {"axis": 1, "select_last_index": last})
        case(f"{op}-axis0-{last}", op, [rnd(9, 4, dtype=np.int32)],
             {"axis": 0, "keepdims": 0, "select_last_index": last})
    case(f"{op}-f32", op, [rnd(3, 50)], {"axis": -1})
for op in ("Softmax", "LogSoftmax"):
    for shape, axis in (((8, 1000), -1), ((4, 6, 10), 1), ((2, 3), -1)):
        case(f"{op}-{shape}-{axis}", op, [rnd(*shape) * 10], {"axis": axis})
    case(f"{op}-opset11", op, [rnd(3, 4, 5)], {"axis": 1}, 11)
    case(f"{op}-f16", op, [rnd(4, 33, dtype=np.float16)], {"axis": -1})
case("LayerNorm-long", "LayerNormalization", [rnd(3, 5, 512) + 3, rnd(512), rnd(512)], {}, 21)
case("LayerNorm-short-axis1", "LayerNormalization", [rnd(2, 3, 4), rnd(3, 4), rnd(4)],
     {"axis": 1}, 21)
case("LayerNorm-bf16", "LayerNormalization", [rnd(4, 96, dtype=BF16), rnd(96, dtype=BF16)],
     {}, 21)

case("MatMul-f32", "MatMul", [rnd(70, 33), rnd(33, 90)])
case("MatMul-batched-bcast", "MatMul", [rnd(2, 1, 5, 8), rnd(3, 8, 6)])
case("MatMul-1d-left", "MatMul", [rnd(8), rnd(3, 8, 5)])
case("MatMul-1d-right", "MatMul", [rnd(2, 4, 8), rnd(8)])
case("MatMul-i32", "MatMul", [rnd(5, 7, dtype=np.int32), rnd(7, 3, dtype=np.int32)])
case("MatMul-f16-simt", "MatMul", [rnd(20, 24, dtype=np.float16), rnd(24, 9, dtype=np.float16)],
     arch="sm_60")
case("MatMul-f64", "MatMul", [rnd(9, 17, dtype=np.float64), rnd(17, 65, dtype=np.float64)])
for ta in (0, 1):
    for tb in (0, 1):
        a = rnd(16, 40) if ta else rnd(40, 16)
        b = rnd(24, 16) if tb else rnd(16, 24)
        case(f"Gemm-tA{ta}-tB{tb}", "Gemm", [a, b, rnd(24)],
             {"transA": ta, "transB": tb, "alpha": 0.5, "beta": 2.0})
case("Gemm-C-col", "Gemm", [rnd(5, 3), rnd(3, 4), rnd(5, 1)])
case("MatMul-big-tile", "MatMul", [rnd(2, 130, 37), rnd(37, 200)])
case("MatMul-big-tile-f64", "MatMul", [rnd(129, 20, dtype=np.float64),
                                       rnd(20, 131, dtype=np.float64)])
case("Gemm-big-tile-trans", "Gemm", [rnd(19, 140), rnd(150, 19), rnd(150)],
     {"transA": 1, "transB": 1, "alpha": 1.5, "beta": 0.5})
case("Conv-big-tile", "Conv", [rnd(1, 4, 14, 14), rnd(130, 4, 3, 3), rnd(130)])
case("Gemm-noC", "Gemm", [rnd(5, 3), rnd(3, 4)])

for cid, xs, ws, attrs in (
        ("plain", (1, 3, 8, 8), (4, 3, 3, 3), {}),
        ("pads-stride", (2, 4, 9, 9), (6, 4, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ("groups-dil", (1, 4, 10, 10), (8, 2, 3, 3), {"group": 2, "dilations": [2, 2]}),
        ("depthwise-same", (1, 6, 7, 7), (6, 1, 3, 3), {"group": 6, "auto_pad": "SAME_UPPER"}),
        ("1d-asym-pads", (2, 3, 20), (5, 3, 4), {"pads": [2, 1]}),
        ("3d", (1, 2, 5, 5, 5), (3, 2, 2, 2, 2), {})):
    case(f"Conv-{cid}", "Conv", [rnd(*xs), rnd(*ws), rnd(ws[0])], attrs)
case("Conv-nobias-f64", "Conv", [rnd(1, 2, 6, 6, dtype=np.float64),
                                 rnd(3, 2, 3, 3, dtype=np.float64)])

case("MaxPool", "MaxPool", [rnd(1, 3, 8, 8)], {"kernel_shape": [2, 2], "strides": [2, 2]})
case("MaxPool-pad-dil-1d", "MaxPool", [rnd(1, 2, 10)],
     {"kernel_shape": [3], "dilations": [2], "pads": [1, 1], "strides": [2]})
case("MaxPool-ceil", "MaxPool", [rnd(1, 1, 7, 7)],
     {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1})
for inc in (0, 1):
    case(f"AveragePool-pad-{inc}", "AveragePool", [rnd(1, 3, 7, 7)],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
          "count_include_pad": inc})
case("GlobalAveragePool", "GlobalAveragePool", [rnd(2, 3, 9, 9)])
case("GlobalMaxPool-f16", "GlobalMaxPool", [rnd(2, 3, 4, dtype=np.float16)])

case("Transpose", "Transpose", [rnd(2, 3, 4)], {"perm": [2, 0, 1]})
case("Transpose-default-i64", "Transpose", [rnd(3, 5, dtype=np.int64)])
case("Concat", "Concat", [rnd(2, 3), rnd(2, 5), rnd(2, 0)], {"axis": 1})
case("Concat-axis0-f16", "Concat", [rnd(1, 4, dtype=np.float16), rnd(3, 4, dtype=np.float16)],
     {"axis": 0})
case("Gather-neg", "Gather", [rnd(5, 4), np.array([[0, -1, 2], [4, -5, 1]], np.int64)],
     {"axis": 1 - 1})
case("Gather-axis1-i32", "Gather", [rnd(3, 6, 2), np.array([5, 0, -2], np.int32)], {"axis": 1})
case("Expand", "Expand", [rnd(3, 1), np.array([2, 3, 4], np.int64)])
case("Slice-steps", "Slice", [rnd(7, 6), np.array([1, -1]), np.array([100, -7]),
                              np.array([0, 1]), np.array([2, -2])])
for mode in ("constant", "reflect", "edge", "wrap"):
    case(f"Pad-{mode}", "Pad", [rnd(3, 4), np.array([1, 2, 1, 1], np.int64),
                                np.array(1.5, np.float32)], {"mode": mode})
case("Pad-axes", "Pad", [rnd(3, 4, dtype=np.int32), np.array([2, 1], np.int64), None,
                         np.array([-1], np.int64)], {"mode": "constant"})
case("Tile", "Tile", [rnd(2, 3), np.array([2, 3], np.int64)])
case("Reshape", "Reshape", [rnd(2, 6), np.array([3, -1], np.int64)])
case("Split", "Split", [rnd(6, 4), np.array([2, 4], np.int64)], {"axis": 0}, n_out=2)
case("Split-axis1", "Split", [rnd(2, 7)], {"axis": 1, "num_outputs": 3}, n_out=3)
case("Dropout", "Dropout", [rnd(3, 4)])
for dt in (np.float32, np.float16):
    case(f"BatchNorm-{np.dtype(dt).name}", "BatchNormalization",
         [rnd(2, 3, 4, 4, dtype=dt), rnd(3, dtype=dt), rnd(3, dtype=dt), rnd(3, dtype=dt),
          rnd(3, dtype=dt, low=0.5)], {"epsilon": 1e-3})
for cid, xs, ws, attrs in (
        ("plain", (1, 2, 4, 4), (2, 3, 3, 3), {}),
        ("stride-pads-group", (1, 4, 5, 5), (4, 3, 3, 3), {"group": 2, "strides": [2, 2],
                                                          "pads": [1, 0, 1, 0]}),
        ("dil-outpad", (2, 2, 5), (2, 2, 3), {"strides": [2], "dilations": [2],
                                             "output_padding": [1]}),
        ("output-shape", (1, 1, 3, 3), (1, 2, 3, 3), {"strides": [3, 2],
                                                      "output_shape": [10, 8]})):
    case(f"ConvTranspose-{cid}", "ConvTranspose", [rnd(*xs), rnd(*ws), rnd(ws[1] * attrs.get(
        "group", 1))], attrs)


def _more_cases():
    case("CastLike", "CastLike", [rnd(3, 4), np.zeros(1, np.float16)])
    case("Swish", "Swish", [rnd(9)], {"alpha": 0.7}, 24)
    case("Shrink", "Shrink", [rnd(12)], {"lambd": 0.3, "bias": 0.1})
    for upper in (0, 1):
        case(f"Trilu-{upper}", "Trilu", [rnd(2, 4, 5), np.array(1, np.int64)], {"upper": upper})
    case("EyeLike", "EyeLike", [rnd(4, 6)], {"k": -1, "dtype": int(DType.INT32)})
    case("ConstantOfShape", "ConstantOfShape", [np.array([2, 3], np.int64)],
         {"value": onnx.helper.make_tensor("v", onnx.TensorProto.INT32, [1], [7])})
    for mode in ("DCR", "CRD"):
        case(f"DepthToSpace-{mode}", "DepthToSpace", [rnd(2, 8, 3, 2)],
             {"blocksize": 2, "mode": mode})
    case("SpaceToDepth", "SpaceToDepth", [rnd(1, 3, 4, 6)], {"blocksize": 2})
    case("GatherElements", "GatherElements", [rnd(3, 4), np.array([[0, -1], [2, 1], [3, 0]])],
         {"axis": 1})
    case("RMSNorm", "RMSNormalization", [rnd(3, 100), rnd(100)], {}, 23)
    case("RMSNorm-short", "RMSNormalization", [rnd(2, 3, 8, dtype=np.float16),
                                                rnd(8, dtype=np.float16)], {}, 23)
    case("InstanceNorm", "InstanceNormalization", [rnd(2, 3, 9, 9), rnd(3), rnd(3)])
    case("GroupNorm", "GroupNormalization", [rnd(2, 6, 5, 5), rnd(6), rnd(6)],
         {"num_groups": 3}, 21)
    for p in (1, 2):
        case(f"LpNorm-{p}", "LpNormalization", [rnd(4, 90)], {"p": p, "axis": 1})
    case("Hardmax", "Hardmax", [rnd(3, 200)], {"axis": -1})
    case("Hardmax-ties", "Hardmax", [np.array([[1, 3, 3], [2, 2, 0]], np.float32)])
    for excl in (0, 1):
        for rev in (0, 1):
            case(f"CumSum-{excl}{rev}", "CumSum", [rnd(3, 5, 2), np.array(1, np.int64)],
                 {"exclusive": excl, "reverse": rev})
    case("CumSum-i32", "CumSum", [rnd(7, dtype=np.int32), np.array(0, np.int64)])


_more_cases()


def _plan_and_oracle(op, inputs, attrs, opset, kw):
    kw = dict(kw)
    n_out = 3 if op == "LayerNormalization" else kw.pop("n_out")
    kw.pop("n_out", None)
    model = single_node_model(op, inputs, attrs, opset, n_out=n_out)
    want = onyx.backend.prepare(model).run([x for x in inputs if x is not None])
    node = ir.from_onnx(model).graph.nodes[0]
    in_types = [None if x is None else tensor(DType.from_numpy(x.dtype), x.shape)
                for x in inputs]
    out_types = [tensor(DType.from_numpy(w.dtype), w.shape) for w in want]
    consts = {i: x for i, x in enumerate(inputs) if x is not None and x.dtype == np.int64}
    plan = kernels_for_node(node, in_types, out_types, opset=opset, consts=consts, **kw)
    return plan, want


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if emulator.compiler() is None:
        pytest.skip("no host C++ compiler (g++/clang++): generated kernels were NOT run")
    plans = {}
    for cid, op, inputs, attrs, opset, kw in CASES:
        plans[cid] = _plan_and_oracle(op, inputs, attrs, opset, kw)
    for label, body, ins, outs in fused_cases():
        plans[label] = _fused_plan_and_oracle(body, ins, outs)
    kernels = [k for plan, _ in plans.values() if plan is not None for k in plan.kernels]
    cache = tmp_path_factory.getbasetemp().parent / "onyx-cuda-emulator"
    cache.mkdir(exist_ok=True)
    return emulator.build(kernels, cache), plans


def _fused_plan_and_oracle(body, ins, outs):
    node, fn = fused_model(body, ins)
    arrays = [rnd(*s, dtype=DType(dt).numpy) for dt, s in ins]
    model = ir.Model(fn.graph, opset_imports={"": 21})
    want = onyx.backend.prepare(model).run(arrays)
    plan = kernels_for_node(node, [tensor(*t) for t in ins], [tensor(*t) for t in outs],
                            functions={fn.key: fn})
    return plan, (want, arrays)


def _check(got, want, cid):
    assert got.dtype == want.dtype and got.shape == want.shape, cid
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=cid)
        return
    tol = {2: 1e-2, 4: 1e-5, 8: 1e-12}[want.dtype.itemsize]
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol,
                               atol=tol, equal_nan=True, err_msg=cid)


@pytest.mark.parametrize("cid", [c[0] for c in CASES])
def test_kernel_matches_numpy_backend(built, cid):
    lib, plans = built
    plan, want = plans[cid]
    assert plan is not None, f"{cid}: no CUDA plan"
    inputs = next(c[2] for c in CASES if c[0] == cid)
    got = emulator.run_plan(lib, plan, inputs, [(w.shape, w.dtype) for w in want])
    for g, w in zip(got, want):
        _check(g, w, cid)


@pytest.mark.parametrize("label", [c[0] for c in fused_cases()])
def test_fused_matches_numpy_backend(built, label):
    lib, plans = built
    plan, (want, arrays) = plans[label]
    got = emulator.run_plan(lib, plan, arrays, [(w.shape, w.dtype) for w in want])
    for g, w in zip(got, want):
        _check(g, w, label)

"""Every kind of kernel the CUDA code generator renders: the op table for each dtype it
accepts, reductions over several axes, GEMM and Conv variants, pools, movement ops and hand-built
fused groups. Value and node names are hostile on purpose: none may reach generated source."""

from __future__ import annotations

import numpy as np

from onyx import ir
from onyx.backends.cuda.codegen import FUSED_DOMAIN, kernels_for_node
from onyx.backends.cuda.codegen.dtypes import CTYPES, FLOATS
from onyx.backends.cuda.codegen.elementwise import ELEMENTWISE
from onyx.ir.dtypes import DType
from onyx.ir.types import tensor

EVIL = 'evil"name; system(\'rm -rf /\'); /*'
F = DType.FLOAT


def make_node(op: str, n_in: int, attrs: dict | None = None, n_out: int = 1, *,
              domain: str = "") -> ir.Node:
    ins = [ir.Value(f"{EVIL}_in{i}") for i in range(n_in)]
    return ir.Node(op, ins, attrs or {}, domain=domain, name=f"{EVIL}_node",
                   outputs=[f"{EVIL}_out{j}" for j in range(n_out)])


def plan(op, in_types, out_types, attrs=None, **kw):
    node = make_node(op, len(in_types), attrs, len(out_types))
    return kernels_for_node(node, [None if t is None else tensor(*t) for t in in_types],
                            [tensor(*t) for t in out_types], **kw)


def _bool_out(op):
    return ELEMENTWISE[op].bool_out


def elementwise_samples():
    for op, rule in ELEMENTWISE.items():
        if op == "Identity":
            continue
        for dt in sorted(rule.dtypes):
            arity = rule.arity or 3
            if op == "Clip":
                ins = [(dt, (4, 5)), (dt, ()), (dt, ())]
            else:
                ins = [(dt, (4, 5))] + [(dt, (5,))] * (arity - 1)
            out = (DType.BOOL if rule.bool_out else dt, (4, 5))
            attrs = {"direction": "LEFT"} if op == "BitShift" else {}
            yield f"{op}:{dt.name}", plan(op, ins, [out], attrs)
    for src in sorted(CTYPES):
        for dst in sorted(CTYPES):
            yield f"Cast:{src.name}->{dst.name}", plan("Cast", [(src, (3, 7))], [(dst, (3, 7))],
                                                      {"to": int(dst)})
    for dt in sorted(CTYPES):
        yield f"Where:{dt.name}", plan("Where", [(DType.BOOL, (2, 1, 4)), (dt, (3, 1)),
                                                 (dt, (4,))], [(dt, (2, 3, 4))])
    yield "Gelu:tanh", plan("Gelu", [(F, (8,))], [(F, (8,))], {"approximate": "tanh"})
    yield "Mod:fmod0:i32", plan("Mod", [(DType.INT32, (8,))] * 2, [(DType.INT32, (8,))])
    yield "Pow:f32^i64", plan("Pow", [(F, (8,)), (DType.INT64, ())], [(F, (8,))])


def reduce_samples():
    ops = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
    for op in ops:
        for dt in (F, DType.FLOAT16, DType.BFLOAT16, DType.DOUBLE, DType.INT32, DType.INT64):
            for shape, axes in (((4, 300), [1]), ((6, 5, 7), [0, 2]), ((3, 8), [0])):
                out = tuple(1 if k in axes else d for k, d in enumerate(shape))
                p = plan(op, [(dt, shape)], [(dt, out)], {"axes": axes}, opset=12)
                if p is not None:
                    yield f"{op}:{dt.name}:{shape}/{axes}", p
    for op in ("ReduceSum", "ReduceMax", "ReduceL2"):
        for dt in (F, DType.BFLOAT16, DType.INT64):
            p = plan(op, [(dt, (3, 1 << 17))], [(dt, (3, 1))], {"axes": [1]}, opset=12)
            if p is not None:
                assert len(p.kernels) == 2 and p.scratch_bytes
                yield f"{op}:two-stage:{dt.name}", p
    for op in ("ArgMax", "ArgMin"):
        for dt in (F, DType.FLOAT16, DType.INT64):
            for last in (0, 1):
                yield f"{op}:{dt.name}:{last}", plan(
                    op, [(dt, (5, 1000))], [(DType.INT64, (5, 1))],
                    {"axis": 1, "select_last_index": last})
        yield f"{op}:axis0", plan(op, [(F, (9, 4))], [(DType.INT64, (1, 4))], {"axis": 0})
    for op in ("Softmax", "LogSoftmax"):
        for dt in sorted(FLOATS):
            for shape, axis in (((8, 1000), -1), ((4, 6, 10), 1), ((2, 3), -1)):
                yield f"{op}:{dt.name}:{shape}/{axis}", plan(op, [(dt, shape)], [(dt, shape)],
                                                             {"axis": axis})
    for dt in sorted(FLOATS):
        yield f"LayerNorm:{dt.name}", plan(
            "LayerNormalization", [(dt, (4, 7, 512)), (dt, (512,)), (dt, (512,))],
            [(dt, (4, 7, 512)), (F, (4, 7, 1)), (F, (4, 7, 1))], {"axis": -1})
    yield "LayerNorm:axis1", plan("LayerNormalization", [(F, (2, 3, 4)), (F, (3, 4)), None],
                                  [(F, (2, 3, 4))], {"axis": 1})


def gemm_samples():
    for dt in (F, DType.FLOAT16, DType.BFLOAT16, DType.DOUBLE, DType.INT32):
        for tf32 in (True, False) if dt is F else (True,):
            yield f"MatMul:{dt.name}:tf32={tf32}", plan(
                "MatMul", [(dt, (70, 33)), (dt, (33, 90))], [(dt, (70, 90))], allow_tf32=tf32)
    yield "MatMul:batched-broadcast", plan("MatMul", [(F, (2, 1, 5, 8)), (F, (3, 8, 6))],
                                           [(F, (2, 3, 5, 6))])
    yield "MatMul:f16-batched", plan("MatMul", [(DType.FLOAT16, (4, 64, 32)),
                                                (DType.FLOAT16, (32, 48))],
                                     [(DType.FLOAT16, (4, 64, 48))])
    yield "MatMul:1d", plan("MatMul", [(F, (8,)), (F, (3, 8, 5))], [(F, (3, 5))])
    yield "MatMul:sm70", plan("MatMul", [(DType.BFLOAT16, (8, 8)), (DType.BFLOAT16, (8, 8))],
                              [(DType.BFLOAT16, (8, 8))], arch="sm_70")
    for dt in (F, DType.FLOAT16, DType.BFLOAT16):
        for ta in (0, 1):
            for tb in (0, 1):
                a = (16, 40) if ta else (40, 16)
                b = (24, 16) if tb else (16, 24)
                yield f"Gemm:{dt.name}:tA{ta}tB{tb}", plan(
                    "Gemm", [(dt, a), (dt, b), (dt, (24,))], [(dt, (40, 24))],
                    {"transA": ta, "transB": tb, "alpha": 0.5, "beta": 2.0})
    yield "Gemm:noC", plan("Gemm", [(F, (3, 4)), (F, (4, 5))], [(F, (3, 5))])
    for dt in (F, DType.DOUBLE, DType.INT64):
        yield f"MatMul:big-tile:{dt.name}", plan("MatMul", [(dt, (256, 64)), (dt, (64, 300))],
                                                 [(dt, (256, 300))])
    yield "Conv:big-tile", plan("Conv", [(F, (2, 8, 16, 16)), (F, (128, 8, 3, 3))],
                                [(F, (2, 128, 14, 14))])


def conv_samples():
    cases = [
        ("plain", (1, 3, 8, 8), (4, 3, 3, 3), (1, 4, 6, 6), {}),
        ("pads-stride", (2, 4, 9, 9), (6, 4, 3, 3), (2, 6, 5, 5), {"pads": [1, 1, 1, 1],
                                                                    "strides": [2, 2]}),
        ("groups-dil", (1, 4, 10, 10), (8, 2, 3, 3), (1, 8, 6, 6), {"group": 2,
                                                                     "dilations": [2, 2]}),
        ("depthwise", (1, 6, 7, 7), (6, 1, 3, 3), (1, 6, 7, 7), {"group": 6,
                                                                  "auto_pad": "SAME_UPPER"}),
        ("1d", (2, 3, 20), (5, 3, 4), (2, 5, 17), {}),
        ("3d", (1, 2, 5, 5, 5), (3, 2, 2, 2, 2), (1, 3, 4, 4, 4), {}),
    ]
    for dt in (F, DType.FLOAT16, DType.BFLOAT16, DType.DOUBLE):
        for label, xs, ws, ys, attrs in cases:
            yield f"Conv:{dt.name}:{label}", plan(
                "Conv", [(dt, xs), (dt, ws), (dt, (ws[0],))], [(dt, ys)], attrs)
    yield "Conv:nobias", plan("Conv", [(F, (1, 1, 4, 4)), (F, (1, 1, 2, 2))], [(F, (1, 1, 3, 3))])


def pool_samples():
    for dt in (F, DType.FLOAT16, DType.BFLOAT16, DType.DOUBLE):
        yield f"MaxPool:{dt.name}", plan("MaxPool", [(dt, (1, 3, 8, 8))], [(dt, (1, 3, 4, 4))],
                                         {"kernel_shape": [2, 2], "strides": [2, 2]})
        yield f"AveragePool:{dt.name}", plan(
            "AveragePool", [(dt, (1, 3, 7, 7))], [(dt, (1, 3, 4, 4))],
            {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
             "count_include_pad": 1})
        yield f"GlobalAveragePool:{dt.name}", plan("GlobalAveragePool", [(dt, (2, 3, 9, 9))],
                                                   [(dt, (2, 3, 1, 1))])
        yield f"GlobalMaxPool:{dt.name}", plan("GlobalMaxPool", [(dt, (2, 3, 4))],
                                               [(dt, (2, 3, 1))])
    yield "MaxPool:dil-pad-1d", plan("MaxPool", [(F, (1, 2, 10))], [(F, (1, 2, 4))],
                                     {"kernel_shape": [3], "dilations": [2], "pads": [1, 1],
                                      "strides": [2]})


def movement_samples():
    i64 = DType.INT64
    for dt in sorted(CTYPES):
        yield f"Transpose:{dt.name}", plan("Transpose", [(dt, (2, 3, 4))], [(dt, (4, 2, 3))],
                                           {"perm": [2, 0, 1]})
        yield f"Concat:{dt.name}", plan("Concat", [(dt, (2, 3)), (dt, (2, 5))], [(dt, (2, 8))],
                                        {"axis": 1})
        yield f"Gather:{dt.name}", plan("Gather", [(dt, (5, 4)), (i64, (2, 3))],
                                        [(dt, (5, 2, 3))], {"axis": 1})
        yield f"Expand:{dt.name}", plan("Expand", [(dt, (3, 1)), (i64, (2,))], [(dt, (3, 4))])
    consts = {1: np.array([1, -4]), 2: np.array([100, 0]), 3: np.array([0, 1]),
              4: np.array([2, -1])}
    yield "Slice:steps", plan("Slice", [(F, (7, 6)), (i64, (2,)), (i64, (2,)), (i64, (2,)),
                                        (i64, (2,))], [(F, (3, 2))], consts=consts)
    for mode in ("constant", "reflect", "edge", "wrap"):
        for dt in (F, DType.FLOAT16, DType.INT32):
            yield f"Pad:{mode}:{dt.name}", plan(
                "Pad", [(dt, (3, 4)), (i64, (4,)), (dt, ())], [(dt, (5, 7))], {"mode": mode},
                consts={1: np.array([1, 2, 1, 1])})
    yield "Tile", plan("Tile", [(F, (2, 3)), (i64, (2,))], [(F, (4, 9))],
                       consts={1: np.array([2, 3])})


def fused_model(body_ops, in_shapes, out_dtype=F):
    """A node calling an ``onyx.fused`` function whose body is built by ``body_ops(g, ins)``."""
    g = ir.Graph(f"{EVIL}_body")
    ins = [g.add_input(f"{EVIL}_x{i}", tensor(dt, s)) for i, (dt, s) in enumerate(in_shapes)]
    outs = body_ops(g, ins)
    g.outputs.extend(outs)
    fn = ir.Function(FUSED_DOMAIN, "group_0", g, opset_imports={"": 21})
    node = make_node("group_0", len(ins), n_out=len(outs), domain=FUSED_DOMAIN)
    return node, fn


def _add(g, op, ins, attrs=None, out_type=None):
    n = ir.Node(op, ins, attrs or {}, name=EVIL, outputs=[f"{EVIL}_{len(g)}"])
    n.outputs[0].type = out_type
    g.append(n)
    return n.outputs[0]


def fused_cases():
    def chain(g, x):
        a = _add(g, "Mul", [x[0], x[1]])
        b = _add(g, "Add", [a, x[2]])
        return [_add(g, "Tanh", [b])]
    yield "fused:bcast-chain", chain, [(F, (4, 8)), (F, (8,)), (F, (4, 1))], [(F, (4, 8))]

    def where_cast(g, x):
        c = _add(g, "Greater", [x[0], x[1]])
        h = _add(g, "Cast", [x[0]], {"to": int(DType.FLOAT16)})
        w = _add(g, "Where", [c, h, x[2]])
        return [w, _add(g, "Cast", [c], {"to": int(DType.INT32)})]
    yield "fused:where-cast", where_cast, [(F, (3, 5)), (F, (5,)), (DType.FLOAT16, (3, 1))], \
        [(DType.FLOAT16, (3, 5)), (DType.INT32, (3, 5))]

    def transposed(g, x):
        t = _add(g, "Transpose", [x[0]], {"perm": [1, 0]})
        half = _add(g, "Constant", [], {"value": ir.Tensor(np.array(0.5, np.float32))})
        return [_add(g, "Relu", [_add(g, "Mul", [_add(g, "Add", [t, x[1]]), half])])]
    yield "fused:transpose-in", transposed, [(F, (6, 4)), (F, (4, 6))], [(F, (4, 6))]

    def reduce_tail(g, x):
        s = _add(g, "Mul", [_add(g, "Sub", [x[0], x[1]]), _add(g, "Sub", [x[0], x[1]])])
        axes = _add(g, "Constant", [], {"value": ir.Tensor(np.array([1], np.int64))})
        return [_add(g, "ReduceSum", [s, axes], {"keepdims": 1})]
    yield "fused:reduce-tail", reduce_tail, [(F, (8, 300)), (F, (300,))], [(F, (8, 1))]

    def reduce_two_axes(g, x):
        e = _add(g, "Exp", [_add(g, "Transpose", [x[0]], {"perm": [0, 2, 1]})])
        axes = _add(g, "Constant", [], {"value": ir.Tensor(np.array([1, 2], np.int64))})
        return [_add(g, "ReduceMax", [e, axes], {"keepdims": 0})]
    yield "fused:transpose-exp-reducemax", reduce_two_axes, [(F, (4, 6, 5))], [(F, (4,))]

    def bf16_chain(g, x):
        return [_add(g, "Sigmoid", [_add(g, "Add", [x[0], x[1]])])]
    yield "fused:bf16", bf16_chain, [(DType.BFLOAT16, (2, 3, 4)), (DType.BFLOAT16, (1, 3, 1))], \
        [(DType.BFLOAT16, (2, 3, 4))]


def fused_samples():
    for label, body, ins, outs in fused_cases():
        node, fn = fused_model(body, ins)
        yield label, kernels_for_node(node, [tensor(*t) for t in ins], [tensor(*t) for t in outs],
                                      functions={fn.key: fn})


def extra_samples():
    """BatchNormalization, Dropout, Split, ConvTranspose, normalizations, fills, scans."""
    for dt in (F, DType.FLOAT16, DType.BFLOAT16, DType.DOUBLE):
        yield f"BatchNorm:{dt.name}", plan("BatchNormalization", [(dt, (2, 3, 4, 4))] +
                                           [(dt, (3,))] * 4, [(dt, (2, 3, 4, 4))])
        yield f"ConvTranspose:{dt.name}", plan(
            "ConvTranspose", [(dt, (1, 4, 5, 5)), (dt, (4, 3, 3, 3)), (dt, (6,))],
            [(dt, (1, 6, 11, 11))], {"group": 2, "strides": [2, 2], "pads": [0, 0, 0, 0]})
    yield "Split", plan("Split", [(F, (6, 4)), (DType.INT64, (2,))], [(F, (2, 4)), (F, (4, 4))],
                        consts={1: np.array([2, 4])})
    yield "Dropout", plan("Dropout", [(F, (3, 4))], [(F, (3, 4))])
    yield from norm_samples()
    i64 = DType.INT64
    for dt in (F, DType.FLOAT16, DType.INT32):
        yield f"Trilu:{dt.name}", plan("Trilu", [(dt, (3, 4))], [(dt, (3, 4))], {"upper": 0})
        yield f"CumSum:{dt.name}", plan("CumSum", [(dt, (3, 70)), (i64, ())], [(dt, (3, 70))],
                                        {"reverse": 1, "exclusive": 1},
                                        consts={1: np.array(1)})
        yield f"EyeLike:{dt.name}", plan("EyeLike", [(F, (3, 4))], [(dt, (3, 4))], {"k": 1})
        yield f"ConstantOfShape:{dt.name}", plan("ConstantOfShape", [(i64, (2,))],
                                                 [(dt, (3, 4))])
        yield f"GatherElements:{dt.name}", plan("GatherElements", [(dt, (3, 4)), (i64, (3, 2))],
                                                [(dt, (3, 2))], {"axis": 1})
        yield f"CastLike:{dt.name}", plan("CastLike", [(F, (5,)), (dt, (1,))], [(dt, (5,))])
    for op in ("DepthToSpace", "SpaceToDepth"):
        shape_in, shape_out = ((1, 8, 2, 3), (1, 2, 4, 6)) if op == "DepthToSpace" else \
            ((1, 2, 4, 6), (1, 8, 2, 3))
        yield op, plan(op, [(F, shape_in)], [(F, shape_out)], {"blocksize": 2})


def norm_samples():
    for dt in (F, DType.FLOAT16, DType.BFLOAT16):
        yield f"RMSNorm:{dt.name}", plan("RMSNormalization", [(dt, (4, 256)), (dt, (256,))],
                                         [(dt, (4, 256))], opset=23)
        yield f"InstanceNorm:{dt.name}", plan("InstanceNormalization",
                                              [(dt, (2, 3, 9, 9)), (dt, (3,)), (dt, (3,))],
                                              [(dt, (2, 3, 9, 9))])
        yield f"GroupNorm:{dt.name}", plan("GroupNormalization",
                                           [(dt, (2, 6, 5, 5)), (dt, (6,)), (dt, (6,))],
                                           [(dt, (2, 6, 5, 5))], {"num_groups": 3})
        yield f"LpNorm:{dt.name}", plan("LpNormalization", [(dt, (4, 9))], [(dt, (4, 9))])
        yield f"Hardmax:{dt.name}", plan("Hardmax", [(dt, (4, 90))], [(dt, (4, 90))])
        yield f"Swish:{dt.name}", plan("Swish", [(dt, (9,))], [(dt, (9,))])
        yield f"Shrink:{dt.name}", plan("Shrink", [(dt, (9,))], [(dt, (9,))])


FAMILIES = {"elementwise": elementwise_samples, "reduce": reduce_samples,
            "gemm": gemm_samples, "conv": conv_samples, "pool": pool_samples,
            "movement": movement_samples, "fused": fused_samples, "extra": extra_samples}


def all_samples():
    """``{family: [(label, NodePlan | None)]}`` for every sample."""
    return {fam: list(gen()) for fam, gen in FAMILIES.items()}

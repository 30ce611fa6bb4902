"""If, Loop, Scan, SequenceMap, sequence, optional and random-generator kernels.

onnxruntime (CPU) is the oracle; random ops are checked for shape, dtype, seeding and
rough statistics since no two implementations draw the same numbers.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import onyx
import onyx.backend
from onyx.backends.numpy.kernels import control_flow

RNG = np.random.default_rng(0)
F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name: str, elem: int, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def seq_vi(name: str, elem: int = F):
    return helper.make_value_info(name, helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(elem, None)))


def untyped(name: str):
    return helper.make_value_info(name, onnx.TypeProto())


def model_of(nodes, inputs, outputs, opset: int, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_both(model, feeds: dict) -> tuple[list, list]:
    got = list(onyx.backend.prepare(model).run(list(feeds.values())))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return got, sess.run(None, feeds)


def assert_same(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, list):
            assert isinstance(g, list) and len(g) == len(w)
            assert_same(g, w)
        else:
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype,
                                                               w.shape)
            np.testing.assert_allclose(g, w, rtol=1e-6)


def add_body(name: str, inputs, outputs, nodes, initializers=()) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, inputs, outputs, list(initializers))


# ------------------------------------------------------------------------------- If
@pytest.mark.parametrize("cond", [True, False])
def test_if_reads_outer_scope(cond):
    then_g = add_body("then", [], [vi("t", F)], [helper.make_node("Add", ["x", "x"], ["t"])])
    else_g = add_body("else", [], [vi("e", F)], [helper.make_node("Add", ["x", "one"], ["e"])],
                      [helper.make_tensor("one", F, [], [1.0])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    model = model_of([node], [vi("c", B, []), vi("x", F, [3])], [vi("y", F, None)], 13)
    assert_same(*run_both(model, {"c": np.array(cond), "x": rand(3)}))


def test_if_returns_a_sequence():
    then_g = add_body("then", [], [seq_vi("s")],
                      [helper.make_node("SequenceConstruct", ["x", "x"], ["s"])])
    else_g = add_body("else", [], [seq_vi("s2")],
                      [helper.make_node("SequenceConstruct", ["x"], ["s2"])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    model = model_of([node], [vi("c", B, [1]), vi("x", F, [2])], [seq_vi("y")], 16)
    assert_same(*run_both(model, {"c": np.array([True]), "x": rand(2)}))


def test_if_rejects_a_two_element_condition():
    g = add_body("b", [], [vi("x", F)], [])
    node = helper.make_node("If", ["c"], ["y"], then_branch=g, else_branch=g)
    model = model_of([node], [vi("c", B, [2]), vi("x", F, [1])], [vi("y", F, None)], 13)
    with pytest.raises(onyx.OnyxError, match="If"):
        onyx.backend.prepare(model).run([np.array([True, False]), rand(1)])


# ----------------------------------------------------------------------------- Loop
def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def counting_body(cond_from_body: bool) -> onnx.GraphProto:
    """(i, cond, n, acc) -> (n + 1 < limit or cond, n + 1, acc + x, scan: acc)."""
    nodes = [helper.make_node("Add", ["n", "one"], ["n_out"]),
             helper.make_node("Add", ["acc", "x"], ["acc_out"]),
             helper.make_node("Add", ["acc", "zero"], ["scan_out"])]
    if cond_from_body:
        nodes.append(helper.make_node("Less", ["n_out", "limit"], ["cond_out"]))
    out_cond = "cond_out" if cond_from_body else "cond"
    return add_body("body", [vi("i", I64, []), vi("cond", B, []), vi("n", F, []),
                             vi("acc", F, [2])],
                    [vi(out_cond, B, []), vi("n_out", F, []), vi("acc_out", F, [2]),
                     vi("scan_out", F, [2])],
                    nodes, [helper.make_tensor("zero", F, [], [0.0]),
                            helper.make_tensor("one", F, [], [1.0])])


@pytest.mark.parametrize("trip,cond,cond_from_body", [
    (4, None, False), (0, None, False), (6, True, True), (None, True, True),
    (3, False, False), (10, True, True),
])
def test_loop_matches_onnxruntime(trip, cond, cond_from_body):
    body = counting_body(cond_from_body)
    node = helper.make_node("Loop", ["M" if trip is not None else "",
                                     "c" if cond is not None else "", "n0", "a0"],
                            ["n_final", "a_final", "scans"], body=body)
    inputs = [vi("n0", F, []), vi("a0", F, [2]), vi("x", F, [2]), vi("limit", F, [])]
    feeds = {"n0": np.array(0.0, np.float32), "a0": rand(2), "x": rand(2),
             "limit": np.array(5.0, np.float32)}
    if trip is not None:
        inputs.append(vi("M", I64, []))
        feeds["M"] = np.array(trip, np.int64)
    if cond is not None:
        inputs.append(vi("c", B, []))
        feeds["c"] = np.array(cond)
    model = model_of([node], inputs, [untyped(n) for n in ("n_final", "a_final", "scans")], 13)
    assert_same(*run_both(model, feeds))


def test_loop_without_a_stop_hits_the_iteration_cap(monkeypatch):
    monkeypatch.setattr(control_flow, "MAX_LOOP_ITERATIONS", 50)
    node = helper.make_node("Loop", ["", ""], ["n"], body=add_body(
        "body", [vi("i", I64, []), vi("cond", B, [])], [vi("cond", B, []), vi("i2", I64, [])],
        [helper.make_node("Add", ["i", "i"], ["i2"])]))
    model = model_of([node], [], [vi("n", I64, None)], 13)
    with pytest.raises(onyx.OnyxError, match="MAX_LOOP_ITERATIONS"):
        onyx.backend.prepare(model).run([])


def test_loop_carries_a_sequence():
    body = add_body("body", [vi("i", I64, []), vi("cond", B, []), seq_vi("s", I64)],
                    [vi("cond", B, []), seq_vi("s_out", I64)],
                    [helper.make_node("SequenceInsert", ["s", "i"], ["s_out"])])
    nodes = [helper.make_node("SequenceEmpty", [], ["s0"], dtype=I64),
             helper.make_node("Loop", ["M", "", "s0"], ["s_final"], body=body)]
    model = model_of(nodes, [vi("M", I64, [])], [seq_vi("s_final", I64)], 13)
    assert_same(*run_both(model, {"M": np.array(3, np.int64)}))


# ----------------------------------------------------------------------------- Scan
def scan_body(n_state: int, n_scan: int) -> onnx.GraphProto:
    """state_k += x_k (summed over scan inputs); scan outputs: the new state, x * 2."""
    states = [vi(f"s{k}", F, [3]) for k in range(n_state)]
    xs = [vi(f"x{k}", F, [3]) for k in range(n_scan)]
    nodes, outs = [], []
    for k in range(n_state):
        nodes.append(helper.make_node("Add", [f"s{k}", f"x{k % n_scan}"], [f"s{k}_out"]))
        outs.append(vi(f"s{k}_out", F, [3]))
    nodes.append(helper.make_node("Add", ["x0", "x0"], ["double"]))
    nodes.append(helper.make_node("Add", ["s0_out", "x0"], ["mix"]))
    return add_body("scan_body", states + xs, outs + [vi("double", F, [3]), vi("mix", F, [3])],
                    nodes)


@pytest.mark.parametrize("opset,attrs,x_shapes", [
    (9, {}, [(4, 3)]),
    (11, {"scan_input_axes": [1], "scan_input_directions": [1]}, [(3, 5)]),
    (16, {"scan_input_axes": [0, -1], "scan_input_directions": [0, 1],
          "scan_output_axes": [-1, 0], "scan_output_directions": [1, 0]}, [(4, 3), (3, 4)]),
])
def test_scan_matches_onnxruntime(opset, attrs, x_shapes):
    n_scan = len(x_shapes)
    node = helper.make_node("Scan", ["s0"] + [f"x{k}" for k in range(n_scan)],
                            ["s_final", "doubles", "mixes"], body=scan_body(1, n_scan),
                            num_scan_inputs=n_scan, **attrs)
    inputs = [vi("s0", F, [3])] + [vi(f"x{k}", F, list(s)) for k, s in enumerate(x_shapes)]
    model = model_of([node], inputs, [untyped(n) for n in ("s_final", "doubles", "mixes")],
                     opset)
    feeds = {"s0": rand(3)} | {f"x{k}": rand(*s) for k, s in enumerate(x_shapes)}
    assert_same(*run_both(model, feeds))


def test_scan_over_an_empty_axis_keeps_the_state():
    # onnxruntime cannot slice a zero-length scan axis; the body's declared output shapes
    # give the empty scan outputs.
    node = helper.make_node("Scan", ["s0", "x0"], ["s_final", "doubles", "mixes"],
                            body=scan_body(1, 1), num_scan_inputs=1)
    model = model_of([node], [vi("s0", F, [3]), vi("x0", F, [0, 3])],
                     [untyped(n) for n in ("s_final", "doubles", "mixes")], 19)
    s0 = rand(3)
    s_final, doubles, mixes = onyx.backend.prepare(model).run([s0, rand(0, 3)])
    np.testing.assert_array_equal(s_final, s0)
    assert doubles.shape == mixes.shape == (0, 3) and doubles.dtype == np.float32


@pytest.mark.parametrize("with_lens,directions", [(False, [0]), (True, [0]), (True, [1])])
def test_scan8_batched_matches_onnxruntime(with_lens, directions):
    node = helper.make_node("Scan", ["lens" if with_lens else "", "s0", "x0"],
                            ["s_final", "doubles", "mixes"], body=scan_body(1, 1),
                            num_scan_inputs=1, directions=directions)
    inputs = [vi("s0", F, [2, 3]), vi("x0", F, [2, 4, 3])]
    feeds = {"s0": rand(2, 3), "x0": rand(2, 4, 3)}
    if with_lens:
        inputs.insert(0, vi("lens", I64, [2]))
        feeds = {"lens": np.array([4, 2], np.int64)} | feeds
    model = model_of([node], inputs, [untyped(n) for n in ("s_final", "doubles", "mixes")], 8)
    got, want = run_both(model, feeds)
    if with_lens:  # past a sequence's length the spec leaves scan outputs undefined
        for k in (1, 2):
            got[k][1, 2:] = want[k][1, 2:] = 0
    assert_same(got, want)


def test_scan_rejects_mismatched_lengths():
    node = helper.make_node("Scan", ["s0", "x0", "x1"], ["s_final", "d", "m"],
                            body=scan_body(1, 2), num_scan_inputs=2)
    model = model_of([node], [vi("s0", F, [3]), vi("x0", F, [4, 3]), vi("x1", F, [5, 3])],
                     [untyped(n) for n in ("s_final", "d", "m")], 16)
    with pytest.raises(onyx.OnyxError, match="Scan.*lengths"):
        onyx.backend.prepare(model).run([rand(3), rand(4, 3), rand(5, 3)])


# ---------------------------------------------------------------------- SequenceMap
def test_sequence_map_with_a_sequence_and_a_tensor():
    body = add_body("m", [vi("a", F, None), vi("b", F, None)],
                    [vi("sum", F, None), vi("shape", I64, None)],
                    [helper.make_node("Add", ["a", "b"], ["sum"]),
                     helper.make_node("Shape", ["a"], ["shape"])])
    node = helper.make_node("SequenceMap", ["s", "t"], ["sums", "shapes"], body=body)
    model = model_of([node], [seq_vi("s"), vi("t", F, [3])],
                     [seq_vi("sums"), seq_vi("shapes", I64)], 17)
    assert_same(*run_both(model, {"s": [rand(3), rand(2, 3), rand(1, 3)], "t": rand(3)}))


# ------------------------------------------------------------------------ sequences
def seq_model(op: str, inputs, n_in_seq: int = 1, opset: int = 16, out_seq=True, **attrs):
    names = [n for n, _ in inputs]
    node = helper.make_node(op, names, ["y"], **attrs)
    ins = [seq_vi(n) if k < n_in_seq else vi(n, helper.np_dtype_to_tensor_dtype(v.dtype),
                                              v.shape)
           for k, (n, v) in enumerate(inputs)]
    return model_of([node], ins, [seq_vi("y") if out_seq else untyped("y")], opset)


SEQ = [rand(2, 3), rand(1, 3), rand(4, 3)]
SEQUENCE_CASES = [
    ("SequenceInsert", [("s", SEQ), ("t", rand(5, 3))], {}, True),
    ("SequenceInsert", [("s", SEQ), ("t", rand(5, 3)), ("p", np.array(-1, np.int64))], {},
     True),
    ("SequenceInsert", [("s", SEQ), ("t", rand(5, 3)), ("p", np.array(0, np.int32))], {},
     True),
    ("SequenceErase", [("s", SEQ)], {}, True),
    ("SequenceErase", [("s", SEQ), ("p", np.array(-3, np.int64))], {}, True),
    ("SequenceAt", [("s", SEQ), ("p", np.array(-2, np.int64))], {}, False),
    ("SequenceLength", [("s", SEQ)], {}, False),
    ("ConcatFromSequence", [("s", SEQ)], {"axis": 0}, False),
    ("ConcatFromSequence", [("s", [rand(2, 3)] * 3)], {"axis": -1, "new_axis": 1}, False),
    ("ConcatFromSequence", [("s", [rand(2, 3)] * 2)], {"axis": 1, "new_axis": 1}, False),
]


@pytest.mark.parametrize("op,inputs,attrs,out_seq", SEQUENCE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SEQUENCE_CASES)])
def test_sequence_ops_match_onnxruntime(op, inputs, attrs, out_seq):
    model = seq_model(op, inputs, out_seq=out_seq, **attrs)
    assert_same(*run_both(model, dict(inputs)))


@pytest.mark.parametrize("split,attrs", [
    (None, {}), (None, {"axis": 1, "keepdims": 0}), (np.array(2, np.int64), {}),
    (np.array([1, 4], np.int32), {"axis": -1}), (np.array(3, np.int64), {"axis": 1}),
])
def test_split_to_sequence_matches_onnxruntime(split, attrs):
    inputs = [("x", rand(4, 5))] + ([("split", split)] if split is not None else [])
    model = seq_model("SplitToSequence", inputs, n_in_seq=0, **attrs)
    assert_same(*run_both(model, dict(inputs)))


def test_split_to_sequence_refuses_a_billion_empty_parts():
    x = np.zeros((10**9, 0), np.float32)
    model = seq_model("SplitToSequence", [("x", x)], n_in_seq=0)
    with pytest.raises(onyx.OnyxError, match="SplitToSequence"):
        onyx.backend.prepare(model).run([x])


def test_sequence_construct_and_empty():
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
             helper.make_node("SequenceEmpty", [], ["e"], dtype=TensorProto.INT64),
             helper.make_node("SequenceLength", ["e"], ["n"])]
    model = model_of(nodes, [vi("a", F, [2]), vi("b", F, [3])], [seq_vi("s"), untyped("n")],
                     16)
    assert_same(*run_both(model, {"a": rand(2), "b": rand(3)}))


@pytest.mark.parametrize("op,inputs,match", [
    ("SequenceAt", [("s", SEQ), ("p", np.array(3, np.int64))], "out of range"),
    ("SequenceInsert", [("s", SEQ), ("t", np.zeros(3, np.int64))], "element type"),
    ("ConcatFromSequence", [("s", [rand(2, 3), rand(2, 4)])], "ConcatFromSequence"),
])
def test_sequence_bad_input_raises(op, inputs, match):
    model = seq_model(op, inputs, out_seq=False, **({"axis": 0} if "Concat" in op else {}))
    with pytest.raises(onyx.OnyxError, match=match):
        onyx.backend.prepare(model).run([v for _, v in inputs])


# ------------------------------------------------------------------------ optionals
def test_optional_wrap_test_and_unwrap():
    nodes = [helper.make_node("Optional", ["x"], ["o"]),
             helper.make_node("OptionalHasElement", ["o"], ["has"]),
             helper.make_node("OptionalGetElement", ["o"], ["back"]),
             helper.make_node("Optional", [], ["none"],
                              type=helper.make_tensor_type_proto(F, [2])),
             helper.make_node("OptionalHasElement", ["none"], ["has_none"])]
    model = model_of(nodes, [vi("x", F, [2])],
                     [untyped("has"), untyped("back"), untyped("has_none")], 18)
    assert_same(*run_both(model, {"x": rand(2)}))


def test_optional_get_element_of_empty_raises():
    nodes = [helper.make_node("Optional", [], ["none"], type=helper.make_tensor_type_proto(F,
                                                                                        [2])),
             helper.make_node("OptionalGetElement", ["none"], ["y"])]
    model = model_of(nodes, [], [untyped("y")], 18)
    with pytest.raises(onyx.OnyxError, match="empty optional"):
        onyx.backend.prepare(model).run([])


# --------------------------------------------------------------------------- random
def run_onyx_node(op: str, inputs: dict, opset: int = 22, **attrs):
    node = helper.make_node(op, list(inputs), ["y"], **attrs)
    ins = [vi(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in inputs.items()]
    model = model_of([node], ins, [untyped("y")], opset)
    return onyx.backend.prepare(model).run(list(inputs.values()))[0]


@pytest.mark.parametrize("op,inputs,attrs,dtype,shape", [
    ("RandomNormal", {}, {"shape": [300, 40], "mean": 2.0, "scale": 0.5}, np.float32,
     (300, 40)),
    ("RandomUniform", {}, {"shape": [2000, 6], "low": -1.0, "high": 3.0,
                           "dtype": TensorProto.DOUBLE}, np.float64, (2000, 6)),
    ("RandomNormalLike", {"x": np.zeros((100, 120), np.float16)}, {"mean": 2.0,
                                                                    "scale": 0.5},
     np.float16, (100, 120)),
    ("RandomUniformLike", {"x": np.zeros((4000, 3), np.int32)},
     {"low": -1.0, "high": 3.0, "dtype": TensorProto.FLOAT}, np.float32, (4000, 3)),
])
def test_random_generators_have_the_right_shape_dtype_and_moments(op, inputs, attrs, dtype,
                                                                  shape):
    y = run_onyx_node(op, inputs, seed=3.0, **attrs)
    assert y.dtype == dtype and y.shape == shape
    assert np.array_equal(y, run_onyx_node(op, inputs, seed=3.0, **attrs))  # seeded
    assert not np.array_equal(y, run_onyx_node(op, inputs, seed=4.0, **attrs))
    if "Normal" in op:
        assert abs(y.astype(np.float64).mean() - 2.0) < 0.05
        assert abs(y.astype(np.float64).std() - 0.5) < 0.05
    else:
        assert y.min() >= -1.0 and y.max() < 3.0 and abs(y.mean() - 1.0) < 0.05


def test_bernoulli_and_multinomial_sample_their_distributions():
    p = np.full(20000, 0.3, np.float32)
    y = run_onyx_node("Bernoulli", {"p": p}, seed=1.0, dtype=TensorProto.INT32)
    assert y.dtype == np.int32 and set(np.unique(y)) <= {0, 1} and abs(y.mean() - 0.3) < 0.02
    logits = np.log(np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]], np.float32))
    s = run_onyx_node("Multinomial", {"l": logits}, opset=7, sample_size=20000,
                      dtype=TensorProto.INT64, seed=2.0)
    assert s.dtype == np.int64 and s.shape == (2, 20000)
    np.testing.assert_allclose(np.bincount(s[0], minlength=3) / 20000, [0.2, 0.5, 0.3],
                               atol=0.02)
    assert np.all(s[1] == 0)


def test_random_rejects_huge_shapes_and_integer_outputs():
    with pytest.raises(onyx.OnyxError, match="RandomNormal"):
        run_onyx_node("RandomNormal", {}, shape=[2**40, 2**20])
    with pytest.raises(onyx.OnyxError, match="RandomUniformLike"):
        run_onyx_node("RandomUniformLike", {"x": np.zeros(3, np.int64)})

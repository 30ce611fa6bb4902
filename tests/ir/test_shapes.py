"""Shape and type inference (``onyx.ir.shapes``).

Every model of onnx's backend test data is stripped of its inferred types and typed again by
``infer_shapes``; the result must agree with onnx's own inference (``data_prop=True``) wherever
onnx gives a type, and must not contradict the types the model declares for its outputs.
Unit tests cover symbolic dims, broadcasting errors, shape-computing chains, merging with
declared types, control flow and model-local functions.
"""

from __future__ import annotations

import glob
import os

import onnx
import pytest
from onnx import TensorProto, helper

from onyx import ir
from onyx.ir.shapes import infer_shapes, shape_rule
from onyx.ir.shapes.registry import lookup
from onyx.ir.typeproto import type_from_proto
from onyx.ir.types import OptionalType, SequenceType, TensorType
from onyx.tools.node_data import ensure_node_data

ensure_node_data()
_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
MODELS = sorted(p for kind in ("node", "simple", "pytorch-converted", "pytorch-operator")
                for p in glob.glob(os.path.join(_DATA, kind, "*", "model.onnx")))

# Values where onnx's answer is wrong, so the comparison skips them.
ONNX_IS_WRONG = {
    # The body declares its sequence elements rank 0 and onnx keeps that; they are 1-D slices.
    ("node/test_loop13_seq", "seq_res"),
    # A branch that never runs (Size(size) is 5, not 4) splits 5 values into num_outputs=4:
    # invalid, so it stays untyped; onnx types it with a last chunk of -1.
    *((f"node/test_affine_grid_3d{variant}_expanded",
       f"AffineGrid_test_affine_grid_3d{variant}_expanded_function_{dim}_then")
      for variant in ("", "_align_corners") for dim in "NCHW"),
}


def _model_id(path: str) -> str:
    return "/".join(path.split(os.sep)[-3:-1])


# ----------------------------------------------------------------------------- comparison


def _contradiction(ref, ours, *, need_rank: bool) -> str | None:
    """Why ``ours`` disagrees with ``ref`` (dtype, rank, or a known dim), or None."""
    if ref is None:
        return None
    if ours is None:
        return "no type inferred"
    if type(ref) is not type(ours):
        return f"{ref} vs {ours}"
    if isinstance(ref, SequenceType | OptionalType):
        return _contradiction(ref.elem, ours.elem, need_rank=need_rank)
    if not isinstance(ref, TensorType):
        return None
    if ref.dtype != ours.dtype:
        return f"dtype: {ref} vs {ours}"
    if ref.shape is None or ours.shape is None:
        return "rank unknown" if need_rank and ref.shape is not None else None
    if len(ref.shape) != len(ours.shape):
        return f"rank: {ref} vs {ours}"
    for a, b in zip(ref.shape, ours.shape, strict=True):
        if isinstance(a, int) and isinstance(b, int) and a != b:
            return f"dims: {ref} vs {ours}"
    return None


def _values(graph: ir.Graph) -> dict[str, ir.Value]:
    out = {v.name: v for v in graph.inputs}
    out.update((o.name, o) for n in graph for o in n.outputs if o.name)
    return out


def _compare_with_onnx(gp: onnx.GraphProto, graph: ir.Graph, case: str, where: str = ""
                       ) -> list[str]:
    values, problems = _values(graph), []
    for vi in [*gp.value_info, *gp.output]:
        if not vi.HasField("type") or (case, vi.name) in ONNX_IS_WRONG:
            continue
        v = values.get(vi.name)
        why = _contradiction(type_from_proto(vi.type), v.type if v is not None else None,
                             need_rank=True)
        if why:
            problems.append(f"{where}{vi.name}: {why}")
    for node_proto, node in zip(gp.node, graph.nodes, strict=True):
        for a in node_proto.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                sub = node.attributes[a.name].value
                problems += _compare_with_onnx(a.g, sub, case, f"{where}{node.op_type}.{a.name}/")
    return problems


def _strip(proto: onnx.ModelProto) -> onnx.ModelProto:
    stripped = onnx.ModelProto()
    stripped.CopyFrom(proto)
    del stripped.graph.value_info[:]
    for o in stripped.graph.output:
        o.ClearField("type")
    return stripped


@pytest.mark.parametrize("path", MODELS, ids=_model_id)
def test_backend_model_types_agree_with_onnx(path):
    case = _model_id(path)
    original = onnx.load(path)
    stripped = _strip(original)
    reference = onnx.shape_inference.infer_shapes(stripped, data_prop=True)
    model = ir.load(stripped)
    infer_shapes(model, strict=True)  # a valid model never raises
    problems = _compare_with_onnx(reference.graph, model.graph, case)
    # The declared output types may be more precise (data-dependent sizes), never different.
    values = _values(model.graph)
    for vi in original.graph.output:
        v = values[vi.name]
        why = _contradiction(type_from_proto(vi.type), v.type, need_rank=False)
        if why:
            problems.append(f"declared output {vi.name}: {why}")
    assert not problems, "\n".join(problems)


def _with_inputs_as_constants(path: str) -> onnx.ModelProto:
    """The model with each tensor input replaced by its test data (an initializer)."""
    proto = onnx.load(path)
    data = os.path.join(os.path.dirname(path), "test_data_set_0")
    kept = []
    for i, vi in enumerate(proto.graph.input):
        file = os.path.join(data, f"input_{i}.pb")
        t = onnx.TensorProto()
        if vi.type.HasField("tensor_type") and os.path.exists(file):
            with open(file, "rb") as f:
                t.ParseFromString(f.read())
        if t.data_type != vi.type.tensor_type.elem_type or not t.data_type:
            kept.append(vi)
            continue
        t.name = vi.name
        proto.graph.initializer.append(t)
    del proto.graph.input[:]
    proto.graph.input.extend(kept)
    return proto


NODE_MODELS = [p for p in MODELS if _model_id(p).startswith("node/")]


@pytest.mark.parametrize("path", NODE_MODELS, ids=_model_id)
def test_node_model_with_constant_inputs_matches_its_outputs(path):
    # With the inputs known, value-dependent rules (Slice, Pad, Range, Resize, ...) compute
    # sizes; the declared outputs come from running the op, so they are the ground truth.
    original = _with_inputs_as_constants(path)
    model = ir.load(_strip(original))
    infer_shapes(model, strict=True)
    values = _values(model.graph)
    problems = []
    for vi in original.graph.output:
        why = _contradiction(type_from_proto(vi.type), values[vi.name].type, need_rank=False)
        if why:
            problems.append(f"{vi.name}: {why}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- unit tests

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, *, inits=(), opset=21, functions=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              functions=list(functions))
    return ir.load(proto)


def _inp(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def _out(name):
    return helper.make_empty_tensor_value_info(name)


def _type(model, name):
    return str(_values(model.graph)[name].type)


def _ints(name, values):
    return helper.make_tensor(name, I64, [len(values)], values)


def test_symbolic_batch_flows_through_matmul_reshape_concat():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),                     # [batch, 8]
        helper.make_node("Concat", ["h", "h"], ["c1"], axis=1),           # [batch, 16]
        helper.make_node("Concat", ["h", "h"], ["c0"], axis=0),           # [?, 8]
        helper.make_node("Reshape", ["h", "keep_split"], ["r"]),          # [batch, 2, 4]
        helper.make_node("Reshape", ["c1", "flat"], ["f"]),               # [batch*16] unknown
        helper.make_node("Add", ["h", "row"], ["b"]),                     # [batch, 8]
    ]
    model = _model(nodes, [_inp("x", ["batch", 4]), _inp("row", [1, 8])], [_out("b")],
                   inits=[helper.make_tensor("w", F, [4, 8], [0.0] * 32),
                          _ints("keep_split", [0, 2, -1]), _ints("flat", [-1])])
    infer_shapes(model, strict=True)
    assert _type(model, "h") == "f32[batch,8]"
    assert _type(model, "c1") == "f32[batch,16]"
    assert _type(model, "c0") == "f32[?,8]"
    assert _type(model, "r") == "f32[batch,2,4]"
    assert _type(model, "f") == "f32[?]"
    assert _type(model, "b") == "f32[batch,8]"


@pytest.mark.parametrize("a, b, expected", [
    (["N", 1], [1, 5], "f32[N,5]"),
    (["N", 3], [3], "f32[N,3]"),
    (["N"], [4], "f32[4]"),           # N must be 1 or 4: either way the result is 4
    (["N"], ["M"], "f32[?]"),
    (["N", None], [1, 1], "f32[N,?]"),
    ([2, 0], [1, 1], "f32[2,0]"),
])
def test_broadcasting_keeps_names(a, b, expected):
    model = _model([helper.make_node("Add", ["a", "b"], ["y"])], [_inp("a", a), _inp("b", b)],
                   [_out("y")])
    infer_shapes(model, strict=True)
    assert _type(model, "y") == expected


@pytest.mark.parametrize("op, a, b, shapes", [
    ("Add", [2, 3], [4], ("[2,3]", "[4]")),
    ("Mul", ["N", 3], [2, 5], ("[N,3]", "[2,5]")),
    ("MatMul", [2, 3], [4, 5], ("[2,3]", "[4,5]")),
    ("MatMul", [7, 2, 3], [6, 3, 5], ("[7,2,3]", "[6,3,5]")),
])
def test_mismatched_dims_raise_naming_node_op_and_shapes(op, a, b, shapes):
    node = helper.make_node(op, ["a", "b"], ["y"], name="bad_node")
    model = _model([node], [_inp("a", a), _inp("b", b)], [_out("y")])
    with pytest.raises(ir.ShapeError) as info:
        infer_shapes(model, strict=True)
    message = str(info.value)
    assert op in message and "bad_node" in message
    assert all(s in message for s in shapes), message
    # Without strict, the output just stays unknown.
    model = _model([node], [_inp("a", a), _inp("b", b)], [_out("y")])
    infer_shapes(model)
    assert _values(model.graph)["y"].type is None


def _shape_chain(x_shape):
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),       # scalar: dim 0
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),          # [dim 0]
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    return _model(nodes, [_inp("x", x_shape)], [_out("y")],
                  inits=[helper.make_tensor("zero", I64, [], [0]), _ints("axes0", [0]),
                         _ints("minus_one", [-1])])


@pytest.mark.parametrize("x_shape, expected", [
    ([2, 3, 4], "f32[2,12]"),
    (["batch", 3, 4], "f32[batch,12]"),
    (["batch", "seq", 4], "f32[batch,?]"),
    (["batch", 3, "batch"], "f32[batch,?]"),
])
def test_shape_gather_unsqueeze_concat_reshape_chain(x_shape, expected):
    model = _shape_chain(x_shape)
    infer_shapes(model, strict=True)
    assert _type(model, "target") == "i64[2]"
    assert _type(model, "y") == expected


def test_reshape_minus_one_cancels_names():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "start", "end"], ["lead"]),    # [batch, seq]
             helper.make_node("Concat", ["lead", "split"], ["t"], axis=0),  # [batch, seq, 2, -1]
             helper.make_node("Reshape", ["x", "t"], ["y"])]
    model = _model(nodes, [_inp("x", ["batch", "seq", 12])], [_out("y")],
                   inits=[_ints("start", [0]), _ints("end", [2]), _ints("split", [2, -1])])
    infer_shapes(model, strict=True)
    assert _type(model, "y") == "f32[batch,seq,2,6]"


def test_bad_reshape_raises_with_shapes():
    node = helper.make_node("Reshape", ["x", "t"], ["y"], name="r")
    model = _model([node], [_inp("x", [2, 3])], [_out("y")], inits=[_ints("t", [4, 2])])
    with pytest.raises(ir.ShapeError, match=r"Reshape node 'r'.*\[2,3\].*\[4,2\]"):
        infer_shapes(model, strict=True)


def test_declared_types_are_refined_never_replaced():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"])]
    graph = helper.make_graph(nodes, "g", [_inp("x", [2, 3])],
                              [helper.make_tensor_value_info("b", F, ["n", None])],
                              value_info=[helper.make_tensor_value_info("a", F, ["n", 3])])
    model = ir.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert infer_shapes(model, strict=True) == 2
    assert _type(model, "a") == "f32[2,3]" and _type(model, "b") == "f32[2,3]"
    assert [v.name for v in model.graph.value_info] == ["a"]


def test_declared_type_conflict():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [_inp("x", [2, 3])],
                              [helper.make_tensor_value_info("y", F, [2, 4])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(ir.ShapeError, match=r"\[2,4\].*\[2,3\]"):
        infer_shapes(ir.load(proto), strict=True)
    model = ir.load(proto)
    infer_shapes(model)
    assert _type(model, "y") == "f32[2,4]"  # the declared type stays


def test_new_intermediates_are_listed_in_value_info():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["b"]),
             helper.make_node("Tanh", ["b"], ["y"])]
    model = _model(nodes, [_inp("x", ["n"])], [_out("y")])
    assert infer_shapes(model) == 3
    assert [v.name for v in model.graph.value_info] == ["a", "b"]
    assert infer_shapes(model) == 0  # already typed
    proto = model.to_onnx()
    onnx.checker.check_model(proto, full_check=True)
    assert [vi.name for vi in proto.graph.value_info] == ["a", "b"]


def test_op_without_rule_gives_unknown_not_an_error():
    node = helper.make_node("NoSuchOp", ["x"], ["a"], domain="custom.domain")
    nodes = [node, helper.make_node("Relu", ["a"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_inp("x", [2])], [_out("y")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("custom.domain", 1)])
    model = ir.load(proto)
    assert infer_shapes(model, strict=True) == 0
    assert _values(model.graph)["y"].type is None


def test_rules_dispatch_on_opset():
    # Reshape took its target as an attribute before opset 5.
    old = _model([helper.make_node("Reshape", ["x"], ["y"], shape=[3, -1])], [_inp("x", [2, 6])],
                 [_out("y")], opset=4)
    new = _model([helper.make_node("Reshape", ["x", "t"], ["y"])], [_inp("x", [2, 6])],
                 [_out("y")], inits=[_ints("t", [3, -1])], opset=13)
    for model in (old, new):
        infer_shapes(model, strict=True)
        assert _type(model, "y") == "f32[3,4]"
    assert lookup("Reshape", "", 4) is not lookup("Reshape", "ai.onnx", 13)


def test_overlapping_rule_ranges_raise():
    shape_rule("TestOnlyOp", domain="test.shapes", since=1, until=5)(lambda ctx: None)
    with pytest.raises(ValueError, match="overlaps"):
        shape_rule("TestOnlyOp", domain="test.shapes", since=5)(lambda ctx: None)


def test_if_branches_are_typed_and_unioned():
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_out("t")])
    else_g = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=0)], "else",
                               [], [_out("e")])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    model = _model([node], [_inp("c", [], TensorProto.BOOL), _inp("x", ["n", 3])], [_out("y")])
    infer_shapes(model, strict=True)
    assert _type(model, "y") == "f32[?,3]"
    branch = model.graph.nodes[0].attributes["then_branch"].value
    assert str(branch.outputs[0].type) == "f32[n,3]"


def test_loop_carried_value_that_grows_is_widened():
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Concat", ["acc_in", "row"], ["acc_out"], axis=0),
         helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0)],
        "body", [_inp("i", [], I64), _inp("c_in", [], TensorProto.BOOL), _inp("acc_in", None)],
        [_out("c_out"), _out("acc_out"), _out("total")])
    node = helper.make_node("Loop", ["m", "", "acc0"], ["acc", "totals"], body=body)
    model = _model([node], [_inp("acc0", [1, 4])], [_out("acc"), _out("totals")],
                   inits=[helper.make_tensor("m", I64, [], [3]),
                          helper.make_tensor("row", F, [1, 4], [1.0] * 4)])
    infer_shapes(model, strict=True)
    assert _type(model, "acc") == "f32[?,4]"
    assert _type(model, "totals") == "f32[3]"   # trip count known, no condition


def test_scan_outputs_stack_along_the_scan_axis():
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
                              helper.make_node("Identity", ["s_out"], ["y_t"])],
                             "body", [_inp("s_in", None), _inp("x_t", None)],
                             [_out("s_out"), _out("y_t")])
    node = helper.make_node("Scan", ["s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_output_axes=[1])
    model = _model([node], [_inp("s0", ["b", 4]), _inp("xs", ["b", "t", 4])],
                   [_out("s"), _out("ys")])
    infer_shapes(model, strict=True)
    assert _type(model, "s") == "f32[b,4]"
    assert _type(model, "ys") == "f32[b,t,4]"


def test_function_calls_bind_their_input_types():
    body = [helper.make_node("Transpose", ["a"], ["t"], perm=[1, 0]),
            helper.make_node("Mul", ["t", "k"], ["r"])]
    body[0].attribute[0].ref_attr_name = "order"
    fn = helper.make_function("local", "TMul", ["a", "k"], ["r"], body,
                              [helper.make_opsetid("", 21)], attributes=["order"])
    calls = [helper.make_node("TMul", ["x", "k"], ["y1"], domain="local", order=[1, 0]),
             helper.make_node("TMul", ["z", "k"], ["y2"], domain="local", order=[1, 0])]
    graph = helper.make_graph(calls, "g", [_inp("x", [2, 3]), _inp("z", ["n", 5]),
                                          _inp("k", [1])], [_out("y1"), _out("y2")])
    proto = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 21),
                                             helper.make_opsetid("local", 1)])
    model = ir.load(proto)
    infer_shapes(model, strict=True)
    assert _type(model, "y1") == "f32[3,2]" and _type(model, "y2") == "f32[5,n]"
    function = model.functions[("local", "TMul", "")]
    assert all(o.type is None for n in function.graph for o in n.outputs)  # shared body


def test_constant_values_fold_through_arithmetic():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "last"], ["d"], axis=0),
             helper.make_node("Div", ["d", "heads"], ["hd"]),
             helper.make_node("Concat", ["lead", "heads", "hd"], ["t"], axis=0),
             helper.make_node("Reshape", ["x", "t"], ["y"]),
             helper.make_node("ConstantOfShape", ["t"], ["z"]),
             helper.make_node("Range", ["r0", "d", "r1"], ["r"])]
    model = _model(nodes, [_inp("x", [2, 12])], [_out("y"), _out("z"), _out("r")],
                   inits=[_ints("last", [1]), _ints("heads", [4]), _ints("lead", [2]),
                          helper.make_tensor("r0", I64, [], [0]),
                          helper.make_tensor("r1", I64, [], [5])])
    infer_shapes(model, strict=True)
    assert _type(model, "y") == "f32[2,4,3]"
    assert _type(model, "z") == "f32[2,4,3]"
    assert _type(model, "r") == "i64[3]"


def test_huge_constant_shapes_do_not_allocate():
    # ConstantOfShape of a giant shape is typed from the shape alone; nothing is computed.
    nodes = [helper.make_node("ConstantOfShape", ["t"], ["big"]),
             helper.make_node("Shape", ["big"], ["s"])]
    model = _model(nodes, [], [_out("s")], inits=[_ints("t", [2**40, 2**40])])
    infer_shapes(model, strict=True)
    assert _type(model, "big") == f"f32[{2**40},{2**40}]"
    assert _type(model, "s") == "i64[2]"


def test_sequence_ops():
    nodes = [helper.make_node("SequenceEmpty", [], ["e"]),
             helper.make_node("SequenceInsert", ["e", "a"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "b"], ["s2"]),
             helper.make_node("SequenceAt", ["s2", "i"], ["y"]),
             helper.make_node("SequenceLength", ["s2"], ["n"]),
             helper.make_node("ConcatFromSequence", ["s2"], ["c"], axis=1)]
    model = _model(nodes, [_inp("a", [2, 3]), _inp("b", [2, 5]), _inp("i", [], I64)],
                   [_out("y"), _out("n"), _out("c")])
    infer_shapes(model, strict=True)
    assert _type(model, "s2") == "seq<f32[2,?]>"
    assert _type(model, "y") == "f32[2,?]"
    assert _type(model, "n") == "i64[]"
    assert _type(model, "c") == "f32[2,?]"



def test_huge_declared_lengths_do_not_allocate():
    nodes = [helper.make_node("Reshape", ["x", "t"], ["y"]),
             helper.make_node("Unsqueeze", ["x", "t"], ["u"])]
    model = _model(nodes, [_inp("x", [2]), _inp("t", [10**12], I64)], [_out("y"), _out("u")])
    infer_shapes(model, strict=True)
    assert _type(model, "y") == "f32[*]" and _type(model, "u") == "f32[*]"


def test_recursive_function_stops_at_the_nesting_limit():
    fn = helper.make_function("local", "Again", ["a"], ["b"],
                              [helper.make_node("Again", ["a"], ["b"], domain="local")],
                              [helper.make_opsetid("local", 1)])
    graph = helper.make_graph([helper.make_node("Again", ["x"], ["y"], domain="local")], "g",
                              [_inp("x", [2])], [_out("y")])
    proto = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 21),
                                             helper.make_opsetid("local", 1)])
    assert infer_shapes(ir.load(proto)) == 0
    with pytest.raises(ir.ShapeError, match="nested deeper"):
        infer_shapes(ir.load(proto), strict=True)

"""Elementwise fusion: which ops are grouped, no cycles, trailing reductions, and equal outputs
(NumPy executor and onnxruntime) before and after on random inputs."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from onyx import ir
from onyx.backends.numpy.executor import Executor
from onyx.ir.order import find_cycle
from onyx.passes import optimize
from onyx.passes.fusion import FUSED_DOMAIN, ElementwiseFusionPass
from onyx.passes.pipeline import copy_model
from onyx.tools.node_data import backend_model_paths

F16, I32, I64, BOOL = TensorProto.FLOAT16, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


def node(op, ins, out, **attrs):
    return helper.make_node(op, ins, [out], **attrs)


def fuse(model: ir.Model) -> ir.Model:
    fused = copy_model(model)
    ElementwiseFusionPass().run(fused)
    fused.graph.verify()
    assert find_cycle(fused.graph) is None
    return fused


def bodies(model: ir.Model) -> dict[str, list[str]]:
    """Call name -> op types of its function body (Constant nodes left out)."""
    return {n.op_type: [b.op_type for b in model.functions[(n.domain, n.op_type, "")].graph
                        if b.op_type != "Constant"]
            for n in model.graph if n.domain == FUSED_DOMAIN}


def run_ort(model: ir.Model, feeds) -> list:
    session = ort.InferenceSession(ir.to_onnx(model).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def check_fused(kit, model: ir.Model, seed: int = 0, rtol=1e-5, atol=1e-6) -> ir.Model:
    """Fuse, then: verifies, passes the checker, same outputs in onyx and onnxruntime."""
    fused = fuse(model)
    kit.check_model(fused)
    feeds = kit.random_feeds(model, seed)
    kit.assert_same_outputs(model, fused, feeds, rtol, atol)
    expected = Executor(model).run(feeds)
    for e, g in zip(expected, run_ort(fused, feeds)):
        kit.assert_values_close(e, g, max(rtol, 1e-3), max(atol, 1e-3))
    return fused


def test_chain_becomes_one_function(kit):
    model = kit.build_model(
        [node("Mul", ["x", "y"], "a"), node("Add", ["a", "c"], "b"), node("Tanh", ["b"], "t"),
         node("LeakyRelu", ["t"], "z", alpha=0.2)],
        [("x", [4, 5]), ("y", [5])], [("z", [4, 5])], {"c": np.array([0.5], np.float32)})
    fused = check_fused(kit, model)
    assert kit.op_types(fused) == ["fused_0"]
    call = fused.graph.nodes[0]
    fn = fused.functions[(FUSED_DOMAIN, "fused_0", "")]
    assert call.domain == FUSED_DOMAIN and not call.attributes and not fn.attributes
    assert [v.name for v in call.inputs] == ["x", "y"]  # the small constant moved inside
    assert [b.op_type for b in fn.graph] == ["Constant", "Mul", "Add", "Tanh", "LeakyRelu"]
    assert fused.opset_imports[FUSED_DOMAIN] == 1


def test_value_read_outside_stays_a_function_output(kit):
    model = kit.build_model(
        [node("Exp", ["x"], "a"), node("MatMul", ["a", "w"], "m"), node("Relu", ["a"], "r"),
         node("Neg", ["r"], "n"), node("Add", ["n", "m"], "z")],
        [("x", [3, 3]), ("w", [3, 3])], [("z", [3, 3])])
    fused = check_fused(kit, model)
    # Exp->Relu->Neg is a group; Add waits for MatMul, which needs Exp's output: joining
    # Add to the first group would make a cycle through MatMul, so it stays apart.
    assert bodies(fused) == {"fused_0": ["Exp", "Relu", "Neg"]}
    call = next(n for n in fused.graph if n.domain == FUSED_DOMAIN)
    assert [o.name for o in call.outputs] == ["a", "n"]
    assert kit.op_types(fused) == ["fused_0", "MatMul", "Add"]


def test_graph_output_inside_group_is_kept(kit):
    model = kit.build_model([node("Sigmoid", ["x"], "s"), node("Mul", ["s", "x"], "y")],
                            [("x", [2, 6])], [("s", [2, 6]), ("y", [2, 6])])
    fused = check_fused(kit, model)
    assert [o.name for o in fused.graph.nodes[0].outputs] == ["s", "y"]


def test_diamond_inside_one_group(kit):
    # x -> Sub -> (Mul s s) : a value with two readers, both inside
    model = kit.build_model([node("Sub", ["x", "y"], "s"), node("Mul", ["s", "s"], "q"),
                             node("Sqrt", ["q"], "z")],
                            [("x", [8]), ("y", [8])], [("z", [8])])
    fused = check_fused(kit, model)
    assert bodies(fused) == {"fused_0": ["Sub", "Mul", "Sqrt"]}
    assert len(fused.graph.nodes[0].outputs) == 1


def test_cycle_through_outside_node_is_refused(kit):
    # a -> Shape/Reshape (outside) -> b, and a -> b directly: fusing a's and b's ops would
    # need the group both before and after the Reshape.
    model = kit.build_model(
        [node("Exp", ["x"], "a"), node("Transpose", ["a"], "t", perm=[1, 0]),
         node("Relu", ["a"], "r"), node("Add", ["r", "t"], "z")],
        [("x", [4, 4])], [("z", [4, 4])])
    fused = check_fused(kit, model)
    for body in bodies(fused).values():
        assert not ({"Exp", "Add"} <= set(body))


def test_single_ops_are_not_fused(kit):
    model = kit.build_model([node("Relu", ["x"], "r"), node("MatMul", ["r", "w"], "m"),
                             node("Exp", ["m"], "z")],
                            [("x", [2, 2]), ("w", [2, 2])], [("z", [2, 2])])
    fused = fuse(model)
    assert kit.op_types(fused) == ["Relu", "MatMul", "Exp"] and not fused.functions


def test_trailing_reduction_joins_the_group(kit):
    model = kit.build_model(
        [node("Sub", ["x", "y"], "d"), node("Mul", ["d", "d"], "s"),
         node("ReduceSum", ["s", "axes"], "z", keepdims=1)],
        [("x", [4, 6]), ("y", [6])], [("z", [4, 1])], {"axes": np.array([1], np.int64)})
    fused = check_fused(kit, model)
    assert bodies(fused) == {"fused_0": ["Sub", "Mul", "ReduceSum"]}
    fn = fused.functions[(FUSED_DOMAIN, "fused_0", "")]
    assert fn.graph.nodes[-1].op_type == "ReduceSum" and len(fn.graph.outputs) == 1


def test_reduction_not_joined_when_group_has_other_outputs(kit):
    model = kit.build_model(
        [node("Exp", ["x"], "e"), node("Neg", ["e"], "n"),
         node("ReduceMax", ["n"], "m", axes=[0], keepdims=0), node("Add", ["e", "e"], "z")],
        [("x", [3, 4])], [("m", [4]), ("z", [3, 4])], opset=17)
    fused = check_fused(kit, model)
    assert all("ReduceMax" not in b for b in bodies(fused).values())


def test_nothing_joins_after_a_reduction(kit):
    model = kit.build_model(
        [node("Exp", ["x"], "e"), node("ReduceMean", ["e"], "m", axes=[1], keepdims=1),
         node("Sub", ["x", "m"], "d"), node("Abs", ["d"], "z")],
        [("x", [3, 4])], [("z", [3, 4])], opset=17)
    fused = check_fused(kit, model)
    assert sorted(bodies(fused).values()) == [["Exp", "ReduceMean"], ["Sub", "Abs"]]


CASES = {
    "broadcast": ([node("Add", ["x", "y"], "a"), node("Mul", ["a", "y"], "b"),
                   node("Div", ["b", "x"], "z")],
                  [("x", [3, 1, 5]), ("y", [4, 1])], [("z", [3, 4, 5])]),
    "float16": ([node("Mul", ["x", "y"], "a"), node("Sigmoid", ["a"], "b"),
                 node("Sub", ["b", "y"], "z")],
                [("x", [4, 8], F16), ("y", [8], F16)], [("z", [4, 8], F16)]),
    "int": ([node("Add", ["x", "y"], "a"), node("Mul", ["a", "a"], "b"),
             node("Sub", ["b", "y"], "c"), node("Abs", ["c"], "z")],
            [("x", [5, 3], I32), ("y", [3], I32)], [("z", [5, 3], I32)]),
    "where_cast": ([node("Greater", ["x", "y"], "g"), node("Cast", ["x"], "h", to=F16),
                    node("Cast", ["y"], "k", to=F16), node("Where", ["g", "h", "k"], "w"),
                    node("Cast", ["g"], "z", to=I64), node("Neg", ["w"], "nw")],
                   [("x", [3, 5]), ("y", [5])], [("nw", [3, 5], F16), ("z", [3, 5], I64)]),
    "clip_pow": ([node("Clip", ["x", "lo", "hi"], "c"), node("Pow", ["c", "two"], "p"),
                  node("Erf", ["p"], "z")],
                 [("x", [6, 2])], [("z", [6, 2])]),
}
CONSTS = {"clip_pow": {"lo": np.float32(-0.5), "hi": np.float32(0.7), "two": np.float32(2)}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outputs_onyx_and_onnxruntime(kit, case):
    nodes, ins, outs = CASES[case]
    model = kit.build_model(nodes, ins, outs, CONSTS.get(case, {}))
    fused = check_fused(kit, model, rtol=1e-3 if case == "float16" else 1e-5)
    assert len(fused.graph) < len(model.graph)
    assert all(n.domain == FUSED_DOMAIN for n in fused.graph)


def test_names_stay_unique_when_run_again(kit):
    model = kit.build_model([node("Exp", ["x"], "a"), node("Neg", ["a"], "b"),
                             node("MatMul", ["b", "x"], "m"), node("Abs", ["m"], "c"),
                             node("Sqrt", ["c"], "z")],
                            [("x", [2, 2])], [("z", [2, 2])])
    once = fuse(model)
    assert sorted(bodies(once)) == ["fused_0", "fused_1"]
    again = copy_model(once)
    assert ElementwiseFusionPass().run(again) is False  # nothing left to group
    kit.check_model(again)


def test_level2_pipeline_fuses_and_plans(kit):
    model = kit.build_model([node("MatMul", ["x", "w"], "m"), node("Add", ["m", "b"], "a"),
                             node("Relu", ["a"], "r"), node("Mul", ["r", "r"], "z")],
                            [("x", [4, 3]), ("w", [3, 5]), ("b", [5])], [("z", [4, 5])])
    optimized, report = optimize(model, level=2)
    assert any(n.domain == FUSED_DOMAIN for n in optimized.graph)
    names = [r.name for r in report.records]
    assert names.index("fusion") < names.index("memory_plan")
    assert any("buffers" in n for r in report.records if r.name == "memory_plan"
               for n in r.notes)
    kit.assert_same_outputs(model, optimized, kit.random_feeds(model))


# A few backend models that level 2 fuses, also run by onnxruntime after fusion.
BACKEND_SAMPLE = ("test_celu_expanded", "test_softsign_example_expanded_ver18",
                  "test_hardswish_expanded", "test_thresholdedrelu_expanded_ver18")


def _backend_path(name: str) -> str | None:
    for p in backend_model_paths():
        if os.path.basename(os.path.dirname(p)) == name:
            return p
    return None


@pytest.mark.parametrize("name", BACKEND_SAMPLE)
def test_fused_backend_model_runs_in_onnxruntime(kit, name):
    path = _backend_path(name)
    assert path is not None, f"backend model {name} not found"
    model = ir.load(path)
    optimized, _ = optimize(model, level=2)
    assert any(n.domain == FUSED_DOMAIN for n in optimized.graph), name
    onnx.checker.check_model(ir.to_onnx(optimized))
    feeds = kit.random_feeds(model, 1)
    expected = Executor(model).run(feeds)
    for e, g in zip(expected, run_ort(optimized, feeds)):
        kit.assert_values_close(e, g, 1e-5, 1e-6)

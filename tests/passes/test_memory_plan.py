"""Memory planning: lifetimes, buffer reuse and the peak figures on hand-built graphs, checked
against hand computations; executor results with planning on."""

from __future__ import annotations

import numpy as np
from onnx import helper

from onyx import ir
from onyx.backends.numpy.executor import Executor
from onyx.passes import optimize
from onyx.passes.infra import run_pipeline
from onyx.passes.memory_plan import MemoryPlanningPass, lifetimes, plan_memory

F = ir.DType.FLOAT


def _graph(spec, inputs):
    """``spec``: (op, input names, output name, shape); every value float32."""
    g = ir.Graph(name="g")
    values = {name: g.add_input(name, ir.tensor(F, shape)) for name, shape in inputs}
    for op, ins, out, shape in spec:
        n = g.append(ir.Node(op, [values[i] for i in ins], outputs=[out]))
        n.outputs[0].type = None if shape is None else ir.tensor(F, shape)
        values[out] = n.outputs[0]
    return g, values


# Softmax/MatMul stand for ops that cannot write over their input; elementwise ops can.
def test_chain_lifetimes_and_reuse():
    g, v = _graph([("Softmax", ["x"], "a", (10,)), ("Softmax", ["a"], "b", (10,)),
                   ("Softmax", ["b"], "c", (10,)), ("Softmax", ["c"], "d", (10,))],
                  [("x", (10,))])
    g.outputs.append(v["d"])
    spans = {lt.value.name: (lt.start, lt.end) for lt in lifetimes(g)}
    assert spans == {"a": (0, 1), "b": (1, 2), "c": (2, 3), "d": (3, 4)}
    plan = plan_memory(g)
    # a->buf0, b->buf1 (a still read at step 1), c->buf0, d->buf1
    assert [plan.buffer_of[v[n]] for n in "abcd"] == [0, 1, 0, 1]
    assert plan.num_buffers == 2
    assert (plan.planned_bytes, plan.unplanned_bytes, plan.live_peak_bytes) == (80, 160, 80)


def test_elementwise_chain_writes_in_place():
    g, v = _graph([("Exp", ["x"], "a", (10,)), ("Neg", ["a"], "b", (10,)),
                   ("Softmax", ["b"], "c", (10,)), ("Relu", ["c"], "d", (10,))],
                  [("x", (10,))])
    g.outputs.append(v["d"])
    plan = plan_memory(g)
    # Neg writes over a; Softmax needs a second buffer; Relu writes over c
    assert [plan.buffer_of[v[n]] for n in "abcd"] == [0, 0, 1, 1]
    assert plan.planned_bytes == 80 and plan.unplanned_bytes == 160


def test_diamond_peak_by_hand():
    # a(40 B) read by b and c (step 2); b(40 B), c(400 B) read by d(400 B, output)
    g, v = _graph([("Softmax", ["x"], "a", (10,)), ("Softmax", ["a"], "b", (10,)),
                   ("MatMul", ["a", "y"], "c", (10, 10)), ("MatMul", ["b", "c"], "d", (10, 10))],
                  [("x", (10,)), ("y", (10, 10))])
    g.outputs.append(v["d"])
    plan = plan_memory(g)
    # step 0: a | 1: a b | 2: a b c | 3: b c d -> live peak 40 + 400 + 400 at step 3
    assert plan.live_peak_bytes == 840
    # a freed after step 2: d (400 B) does not fit it exactly -> new buffer
    assert plan.num_buffers == 4 and plan.planned_bytes == 880
    assert plan.unplanned_bytes == 880


def test_best_fit_takes_a_larger_dead_buffer():
    g, v = _graph([("MatMul", ["x", "y"], "a", (10, 10)), ("ReduceSum", ["a"], "s", (10,)),
                   ("Softmax", ["s"], "e", (10,)), ("Softmax", ["e"], "z", (10,))],
                  [("x", (10, 10)), ("y", (10,))])
    g.outputs.append(v["z"])
    exact, fit = plan_memory(g), plan_memory(g, best_fit=True)
    assert exact.num_buffers == 3      # a (400), s (40), e (40); z reuses s's
    assert fit.num_buffers == 2        # e goes into a's dead 400-byte buffer
    assert fit.buffer_of[v["e"]] == fit.buffer_of[v["a"]]


def test_unknown_sizes_are_listed_and_measured_sizes_used():
    g, v = _graph([("Softmax", ["x"], "a", None), ("Softmax", ["a"], "b", None)],
                  [("x", ("n",))])
    g.outputs.append(v["b"])
    plan = plan_memory(g)
    assert plan.num_buffers == 0 and len(plan.unknown) == 2
    measured = plan_memory(g, {v["a"]: 64, v["b"]: 64})
    assert measured.num_buffers == 2 and not measured.unknown


def test_pass_changes_nothing_and_notes_figures():
    g, v = _graph([("Softmax", ["x"], "a", (4,)), ("Softmax", ["a"], "b", (4,))],
                  [("x", (4,))])
    g.outputs.append(v["b"])
    p = MemoryPlanningPass()
    report = run_pipeline(ir.Model(g), [p])
    assert not report.records[0].changed and len(g) == 2
    assert p.plan.report()["buffers"] == 2
    assert "2 buffers" in report.records[0].notes[0]


def test_executor_results_unchanged_with_planning(kit):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["m2"]),
             helper.make_node("Add", ["m2", "x2"], ["a"]), helper.make_node("Tanh", ["a"], ["t"]),
             helper.make_node("Mul", ["t", "a"], ["z"])]
    rng = np.random.default_rng(0)
    model = kit.build_model(nodes, [("x", [8, 6]), ("x2", [8, 6])], [("z", [8, 6])],
                            {"w": rng.standard_normal((6, 6)).astype(np.float32),
                             "w2": rng.standard_normal((6, 6)).astype(np.float32)})
    optimized, _ = optimize(model, level=2)
    feeds = kit.random_feeds(model)
    kit.assert_same_outputs(model, optimized, feeds, rtol=0, atol=0)
    ex = Executor(optimized)
    ex.run(feeds)
    report = ex.memory_report()
    assert report["planned_bytes"] <= report["unplanned_bytes"]
    assert report["buffers"] >= 1 and report["unknown_size"] == 0

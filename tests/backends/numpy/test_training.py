"""Dropout and the ai.onnx.preview.training optimizers (Adagrad, Adam, Momentum).

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import onyx.backend
from onyx.ir.errors import OnyxError
from onyx.testing import assert_same, random_array, run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(0)
TRAINING = "ai.onnx.preview.training"


def rand(*shape, dtype=np.float32):
    return random_array(rng, *shape, dtype=dtype)


def case(name, op, inputs, opset=18, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


def make_training_model(op, inputs, attrs, n_out):
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], domain=TRAINING,
                            **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype),
                                                  x.shape) for n, x in zip(names, inputs)]
    outputs = [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_out)]
    graph = helper.make_graph([node], op.lower(), graph_inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                   helper.make_opsetid(TRAINING, 1)])


def _optimizer_cases():
    r, t0, t5 = np.array(0.1, np.float32), np.array(0, np.int64), np.array(5, np.int64)
    x, g, v, h = rand(3, 2), rand(3, 2), rand(3, 2), rand(3, 2) ** 2
    x2, g2, v2, h2 = rand(4), rand(4), rand(4), rand(4) ** 2
    for t in (t0, t5):
        n = int(t)
        yield pytest.param("Adagrad", [r, t, x, g, h], dict(decay_factor=0.1, epsilon=1e-5,
                                                           norm_coefficient=1e-3), 2,
                           id=f"adagrad-t{n}")
        yield pytest.param("Adagrad", [r, t, x, x2, g, g2, h, h2], {}, 4,
                           id=f"adagrad-multi-t{n}")
        yield pytest.param("Adam", [r, t, x, g, v, h], dict(alpha=0.95, beta=0.1, epsilon=1e-7,
                                                           norm_coefficient=1e-3), 3,
                           id=f"adam-t{n}")
        yield pytest.param("Adam", [r, t, x, x2, g, g2, v, v2, h, h2],
                           dict(norm_coefficient_post=0.01), 6, id=f"adam-multi-t{n}")
        for mode in ("standard", "nesterov"):
            attrs = dict(alpha=0.9, beta=0.5, mode=mode, norm_coefficient=0.01)
            yield pytest.param("Momentum", [r, t, x, g, v], attrs, 2, id=f"{mode}-t{n}")
            yield pytest.param("Momentum", [r, t, x, x2, g, g2, v, v2], attrs, 4,
                               id=f"{mode}-multi-t{n}")
    yield pytest.param("Adam", [r.astype(np.float64), t5] + [a.astype(np.float64)
                                                             for a in (x, g, v, h)], {}, 3,
                       id="adam-f64")


@pytest.mark.parametrize("op,inputs,attrs,n_out", list(_optimizer_cases()))
def test_optimizers_against_reference(op, inputs, attrs, n_out):
    """onnxruntime has no ai.onnx.preview.training kernels: onnx.reference is the oracle."""
    model = make_training_model(op, inputs, attrs, n_out)
    ours = onyx.backend.prepare(model).run(inputs)
    ref = ReferenceEvaluator(model).run(None, {f"x{i}": x for i, x in enumerate(inputs)})
    assert len(ours) == len(ref) == n_out
    for a, b in zip(ours, ref):
        assert_same(a, np.asarray(b).astype(inputs[2].dtype))


DROPOUT_CASES = [
    case("opset7", "Dropout", [rand(3, 4)], opset=7, ratio=0.3),
    case("opset10", "Dropout", [rand(3, 4)], opset=10),
    case("opset12-no-ratio", "Dropout", [rand(3, 4)], opset=12, n_out=2),
    case("opset13-ratio-not-training", "Dropout", [rand(3, 4), np.array(0.4, np.float32)],
         opset=13, n_out=2),
    case("opset22-training-false", "Dropout", [rand(3, 4), np.array(0.4, np.float32),
                                               np.array(False)], opset=22, n_out=2),
    case("opset22-ratio0", "Dropout", [rand(3, 4), np.array(0.0, np.float32),
                                       np.array(True)], opset=22, n_out=2),
    case("opset22-f16", "Dropout", [rand(3, 4, dtype=np.float16)], opset=22),
    case("opset22-f64", "Dropout", [rand(3, 4, dtype=np.float64)], opset=22, n_out=2),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", DROPOUT_CASES)
def test_dropout_inference(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))
    ref = run_oracle(model, inputs, oracle)
    for a, b in zip(ours, ref):
        assert_same(a, b)


@pytest.mark.parametrize("opset,mask_dtype", [(7, np.float32), (10, np.bool_)])
def test_dropout_legacy_mask_keeps_everything(opset, mask_dtype):
    """Opsets 7-11 run in test mode: Y = X and the mask keeps every element (onnxruntime's
    mask there is all zeros, which contradicts Y = X * mask)."""
    x = rand(3, 4)
    y, mask = onyx.backend.prepare(make_model("Dropout", [x], {}, opset, 2)).run([x])
    np.testing.assert_array_equal(y, x)
    assert mask.dtype == mask_dtype and (mask == 1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_dropout_training(dtype):
    x = rand(200, 50, dtype=dtype)
    inputs = [x, np.array(0.25, np.float32), np.array(True)]
    model = make_model("Dropout", inputs, {"seed": 7}, 22, n_out=2)
    y, mask = onyx.backend.prepare(model).run(inputs)
    assert y.dtype == dtype and mask.dtype == np.bool_ and mask.shape == x.shape
    assert abs(mask.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[mask].astype(np.float64),
                               (x[mask].astype(np.float64) / 0.75), rtol=2e-3)
    assert (y[~mask] == 0).all()
    y2, mask2 = onyx.backend.prepare(model).run(inputs)  # same seed, same mask
    np.testing.assert_array_equal(mask, mask2)


def test_dropout_unseeded_masks_differ():
    x = rand(100, 100)
    inputs = [x, np.array(0.5, np.float32), np.array(True)]
    model = make_model("Dropout", inputs, {}, 13, n_out=2)
    rep = onyx.backend.prepare(model)
    assert not np.array_equal(rep.run(inputs)[1], rep.run(inputs)[1])


def test_dropout_legacy_is_test():
    """Opsets 1-6: is_test=1 copies; the default is_test=0 is training mode (mask has x's
    type)."""
    x = rand(40, 40)
    y, mask = onyx.backend.prepare(make_model("Dropout", [x], {"is_test": 1}, 6, 2)).run([x])
    np.testing.assert_array_equal(y, x)
    assert mask.dtype == np.float32 and (mask == 1).all()
    y, mask = onyx.backend.prepare(make_model("Dropout", [x], {"ratio": 0.5}, 6, 2)).run([x])
    assert 0.4 < mask.mean() < 0.6
    np.testing.assert_allclose(y, x * mask * 2, rtol=1e-6)


BAD = [
    case("dropout-ratio", "Dropout", [rand(3), np.array(1.0, np.float32), np.array(True)],
         opset=13),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run([x for x in inputs if x is not None])


@pytest.mark.parametrize("op,inputs,attrs,n_out", [
    ("Adagrad", [np.array(0.1, np.float32), np.array(0), rand(3), rand(3)], {}, 1),
    ("Adam", [np.array(0.1, np.float32), np.array(0), rand(3), rand(3), rand(2), rand(3)],
     {}, 3),
    ("Momentum", [np.array(0.1, np.float32), np.array(0), rand(3), rand(3), rand(3)],
     {"alpha": 0.9, "beta": 0.1, "norm_coefficient": 0.0}, 2),
    ("Momentum", [np.array(0.1, np.float32), np.array(0), rand(3), rand(3), rand(3)],
     {"alpha": 0.9, "beta": 0.1, "norm_coefficient": 0.0, "mode": "heavy"}, 2),
    ("Adagrad", [rand(2), np.array(0), rand(3), rand(3), rand(3)], {}, 2),
], ids=["adagrad-arity", "adam-state-shape", "momentum-no-mode", "momentum-bad-mode",
        "adagrad-vector-rate"])
def test_optimizer_bad_input_raises(op, inputs, attrs, n_out):
    model = make_training_model(op, inputs, attrs, n_out)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run(inputs)

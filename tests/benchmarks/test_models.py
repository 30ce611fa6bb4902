"""The benchmark models are valid, reproducible, and computed alike by onyx, onnxruntime and torch.

Run from the repository root (``python -m pytest``) so that the ``benchmarks`` package imports.
"""

import numpy as np
import onnx
import onnxruntime
import pytest

import onyx.backend
from benchmarks import models

# Float32 sums in a different order differ by a few ulps; atol covers outputs near zero.
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module", params=models.NAMES)
def case(request) -> models.BenchCase:
    return models.build(request.param, seed=0)


def run_onnxruntime(case: models.BenchCase) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(case.model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, case.inputs)


def test_model_is_valid_and_seeded(case):
    onnx.checker.check_model(case.model, full_check=True)
    assert case.model.opset_import[0].version >= 17
    again = models.build(case.name, seed=0)
    assert again.sha256 == case.sha256
    for name, x in case.inputs.items():
        np.testing.assert_array_equal(again.inputs[name], x)
    assert models.build(case.name, seed=1).sha256 != case.sha256


EXPECTED_OPS = {
    "mlp": {"Gemm", "Relu"},
    "cnn": {"Conv", "Relu", "MaxPool", "Flatten", "Gemm"},
    "transformer": {"MatMul", "Add", "Mul", "Reshape", "Transpose", "Softmax",
                    "LayerNormalization", "Relu"},
}


def test_model_uses_the_ops_it_describes(case):
    assert {n.op_type for n in case.model.graph.node} == EXPECTED_OPS[case.name]


def test_onyx_matches_onnxruntime(case):
    expected = run_onnxruntime(case)
    got = onyx.backend.prepare(case.model).run(list(case.inputs.values()))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


def torch_encoder_layer(model: onnx.ModelProto):
    """torch.nn.TransformerEncoderLayer holding the ONNX model's weights (MatMul ones are (in, out),
    torch keeps (out, in); torch packs q, k, v into one in_proj)."""
    torch = pytest.importorskip("torch")
    w = {k: torch.tensor(v) for k, v in models.initializers(model).items()}
    state = {
        "self_attn.in_proj_weight": torch.cat([w[f"attn.{p}_proj.weight_t"].T for p in "qkv"]),
        "self_attn.in_proj_bias": torch.cat([w[f"attn.{p}_proj.bias"] for p in "qkv"]),
        "self_attn.out_proj.weight": w["attn.out_proj.weight_t"].T,
        "self_attn.out_proj.bias": w["attn.out_proj.bias"],
    }
    for name in ("linear1", "linear2"):
        state[f"{name}.weight"] = w[f"{name}.weight_t"].T
        state[f"{name}.bias"] = w[f"{name}.bias"]
    for name in ("norm1", "norm2"):
        state[f"{name}.weight"] = w[f"{name}.weight"]
        state[f"{name}.bias"] = w[f"{name}.bias"]
    layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=4, dim_feedforward=1024,
                                             dropout=0.0, batch_first=True)
    layer.load_state_dict(state, strict=True)
    return layer.eval()


def test_transformer_matches_torch():
    torch = pytest.importorskip("torch")
    case = models.build("transformer", seed=0)
    layer = torch_encoder_layer(case.model)
    with torch.inference_mode():
        expected = layer(torch.from_numpy(case.inputs["x"].copy())).numpy()
    np.testing.assert_allclose(run_onnxruntime(case)[0], expected, rtol=RTOL, atol=ATOL)
    got = onyx.backend.prepare(case.model).run([case.inputs["x"]])[0]
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)

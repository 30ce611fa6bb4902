"""The example programs: each runs as a script, and what it computes is right.

Every script under ``examples/`` runs in a subprocess as a user would start it
(``python examples/<name>.py``); then the seed ports are imported and their ``main`` checked
(learned weights, gradients, accuracy) with sizes small enough for CI.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import onyx

pytest.importorskip("sklearn")  # the digits data set of the examples

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> a line its output must contain
SCRIPTS = {
    "seed_tensors.py": "a * b matches np.multiply: True",
    "seed_variables_gradients.py": "x.grad == 2 * x / 4: True",
    "seed_module.py": "child: Sigmoid()",
    "seed_dataloader.py": "test images seen in one pass: 359",
    "seed_optimizer.py": "step 19",
    "seed_linear_regression.py": "Learned weights:",
    "seed_save_load.py": "restored model gives the same outputs: True",
    "digits_cnn.py": "test accuracy",
    "run_onnx_model.py": "",
}


def example(name: str):
    return importlib.import_module(f"examples.{name}")


def test_every_example_is_listed():
    found = {p.name for p in EXAMPLES.glob("*.py")} - {"digits.py"}  # digits.py is a module
    assert found == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_runs(script, tmp_path):
    args = [sys.executable, str(EXAMPLES / script)]
    if script == "digits_cnn.py":
        args += ["--epochs", "3"]
    if script == "run_onnx_model.py":
        args += ["--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert SCRIPTS[script] in proc.stdout


def test_tensors():
    out = example("seed_tensors").main()
    assert out["matrix"].shape == (2, 3) and out["matrix"].dtype == onyx.float32
    assert out["vector"].dtype == onyx.int64
    np.testing.assert_allclose(out["product"].numpy(), out["numpy_product"], rtol=1e-6)


def test_variables_gradients():
    out = example("seed_variables_gradients").main()
    assert out["scalar"].tolist() == [1.0] and out["v"].shape == (3, 4)
    x = out["x"].detach().numpy()
    np.testing.assert_allclose(out["grad"].numpy(), x / 2, rtol=1e-6)
    assert out["z"].item() == pytest.approx(float(np.mean(x ** 2)), rel=1e-6)


def test_module_children():
    out = example("seed_module").main()
    assert [type(c).__name__ for c in out["children"]] == ["Linear", "Sigmoid"]
    assert out["output"].shape == (4, 3)


def test_dataloader_normalizes_to_minus_one_one():
    out = example("seed_dataloader").main(num_workers=2)
    images, labels = out["images"], out["labels"]
    assert images.shape == (100, 1, 8, 8) and images.dtype == onyx.float32
    assert labels.shape == (100,) and labels.dtype == onyx.int64
    assert images.min().item() == pytest.approx(-1.0) and images.max().item() == pytest.approx(1.0)
    assert out["test_seen"] == out["test_size"]


def test_optimizer_lowers_loss():
    losses = example("seed_optimizer").main(steps=10)["losses"]
    assert losses[-1] < losses[0]


def test_linear_regression_learns_the_weights():
    module = example("seed_linear_regression")
    out = module.main()
    np.testing.assert_allclose(out["weights"], module.TRUE_WEIGHTS, atol=0.02)
    assert out["bias"] == pytest.approx(module.TRUE_BIAS, abs=0.02)


def test_save_load_round_trip(tmp_path):
    out = example("seed_save_load").main(str(tmp_path))
    assert out["same_outputs"]
    assert out["loss_resumed"] == pytest.approx(out["loss_uninterrupted"], rel=1e-6)
    assert out["whole_model"].startswith("refused")
    assert (tmp_path / "model.onyx").is_file() and (tmp_path / "checkpoint.onyx").is_file()


def test_digits_cnn_reaches_95_percent():
    out = example("digits_cnn").main(epochs=8, seed=1, verbose=False)
    assert out["accuracy"] >= 0.95, out
    assert len(out["losses"]) == 8 and out["losses"][-1] < out["losses"][0]

"""Random draws inside a compiled function become ONNX random ops: a fresh draw per call."""

from __future__ import annotations

import numpy as np
import pytest

import onyx


def _fresh_draws(fn, x):
    compiled = onyx.compile(fn)
    runs = [compiled(x).numpy() for _ in range(3)]  # the first call is the tracing run
    assert compiled.num_graphs == 1
    assert not np.array_equal(runs[1], runs[2])
    return runs[2], compiled


@pytest.mark.parametrize("draw, mean, std", [
    (lambda x: onyx.randn(*x.shape), 0.0, 1.0),
    (lambda x: onyx.rand(*x.shape), 0.5, (1 / 12) ** 0.5),
    (lambda x: onyx.randn_like(x), 0.0, 1.0),
    (lambda x: onyx.rand_like(x), 0.5, (1 / 12) ** 0.5),
], ids=["randn", "rand", "randn_like", "rand_like"])
def test_draws_are_fresh_and_distributed(draw, mean, std):
    x = onyx.zeros(200, 500)
    values, _ = _fresh_draws(lambda t: t + draw(t), x)
    assert values.dtype == np.float32 and values.shape == (200, 500)
    assert abs(values.mean() - mean) < 0.01 and abs(values.std() - std) < 0.01
    ops = {n.op_type for n in onyx.compile.trace(lambda t: t + draw(t), (x,)).model.graph}
    assert ops & {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike"}


def test_like_draws_follow_a_dynamic_batch():
    compiled = onyx.compile(lambda x: x * onyx.rand_like(x), dynamic=True)
    for batch in (3, 5, 9):
        out = compiled(onyx.ones(batch, 4))
        assert out.shape == (batch, 4)
    assert compiled.num_graphs == 1


def test_uniform_values_stay_below_one():
    values, _ = _fresh_draws(lambda t: t + onyx.rand(*t.shape), onyx.zeros(100, 100))
    assert values.min() >= 0.0 and values.max() < 1.0


def test_draws_without_a_graph_op_still_break():
    with pytest.raises(onyx.OnyxError, match="random draw"):
        onyx.compile(lambda x: x + onyx.randperm(4).float())(onyx.zeros(4))

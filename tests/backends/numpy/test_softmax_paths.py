"""Softmax's two float32 paths (exp(x) when every |x| is small, exp(x - max) otherwise)
agree with a float64 reference, and large, NaN and infinite inputs keep the shifted form."""

from __future__ import annotations

import numpy as np
import pytest

from onyx.backends.numpy.kernels import softmax as k

rng = np.random.default_rng(0)


def reference(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("scale", [1.0, 20.0, 59.0, 1e4, -1e4])
@pytest.mark.parametrize("axis", [-1, 1])
def test_matches_float64_reference(scale, axis):
    x = (rng.standard_normal((3, 17, 33)) * abs(scale) + (scale if scale < 0 else 0))
    x = x.astype(np.float32)
    got = k.softmax(x, axis=axis)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    np.testing.assert_allclose(got, reference(x, axis), rtol=2e-6, atol=1e-7)


def test_rows_far_below_zero_do_not_underflow():
    # exp(-200) is 0 in float32: only the shifted form gets these rows right.
    x = np.full((2, 5), -200.0, np.float32)
    x[:, 0] = -199.0
    np.testing.assert_allclose(k.softmax(x), reference(x, -1), rtol=1e-6)


def test_nan_and_inf_propagate_as_before():
    x = np.array([[np.inf, 1.0, 0.0], [np.nan, 1.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
    got = k.softmax(x)
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all()
    np.testing.assert_allclose(got[2], reference(x[2:], -1)[0], rtol=1e-6)


def test_empty_input():
    assert k.softmax(np.zeros((0, 4), np.float32)).shape == (0, 4)

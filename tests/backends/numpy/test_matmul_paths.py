"""MatMul's one-product path for (..., K) @ (K, N) gives NumPy's result on every layout.

The kernel multiplies all leading rows in one 2-D product when the left operand's leading
axes are a permutation of a contiguous layout; other layouts take NumPy's batched matmul.
"""

from __future__ import annotations

import numpy as np
import pytest

from onyx.backends.numpy.kernels import matmul as k
from onyx.ir.errors import ShapeError

rng = np.random.default_rng(0)


def layouts():
    base = rng.standard_normal((4, 5, 6, 8)).astype(np.float32)
    yield "contiguous", base
    yield "seq-first view", base.transpose(1, 0, 2, 3)
    yield "all leading permuted", base.transpose(2, 0, 1, 3)
    yield "sliced (not a permutation of contiguous)", base[:, ::2]
    yield "broadcast leading axis", np.broadcast_to(base[:1], base.shape)
    yield "last axis strided", base.transpose(0, 1, 3, 2)[..., :6, :].swapaxes(-1, -2)


@pytest.mark.parametrize("name,a", list(layouts()), ids=[n for n, _ in layouts()])
@pytest.mark.parametrize("transposed_b", [False, True])
def test_matches_numpy(name, a, transposed_b):
    b = rng.standard_normal((3, a.shape[-1])).astype(np.float32).T if transposed_b else \
        rng.standard_normal((a.shape[-1], 3)).astype(np.float32)
    got = k.matmul(a, b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_permuted_input_gives_permuted_layout_without_copying_a():
    a = rng.standard_normal((8, 16, 4)).astype(np.float32).transpose(1, 0, 2)
    out = k.matmul(a, np.eye(4, dtype=np.float32))
    np.testing.assert_array_equal(out, a)
    assert out.strides[0] < out.strides[1]  # same memory order as a


def test_inner_dimension_mismatch_still_raises():
    with pytest.raises(ShapeError, match="MatMul"):
        k.matmul(np.zeros((2, 3, 4), np.float32), np.zeros((5, 2), np.float32))

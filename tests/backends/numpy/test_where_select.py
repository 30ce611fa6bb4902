"""Where's branch-free path for large tensors equals np.where bit for bit.

Large inputs (at least ``_BITWISE_SELECT_MIN`` elements) select through the values' bit
patterns; every dtype it takes, every broadcast shape and every special float must come out
exactly as ``np.where`` gives them.
"""

from __future__ import annotations

import numpy as np
import pytest

from onyx.backends.numpy.kernels import logical
from onyx.ir.errors import ShapeError

rng = np.random.default_rng(0)
N = logical._BITWISE_SELECT_MIN


def specials(dtype, shape):
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    if np.dtype(dtype).kind == "f":
        flat = x.reshape(-1)
        values = [np.nan, np.inf, -np.inf, -0.0, 0.0][:flat.size]
        flat[:len(values)] = values
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int8, np.int16,
                                   np.int32, np.int64, np.uint8, np.uint64])
@pytest.mark.parametrize("shapes", [((4, N), (4, N), (4, N)), ((4, N), (4, N), ()),
                                    ((1, N), (4, 1), (4, N)), ((4, N), (), (N,))],
                         ids=["same", "scalar-y", "broadcast-cond", "scalar-x"])
def test_matches_numpy_where_bitwise(dtype, shapes):
    cs, xs, ys = shapes
    cond = rng.standard_normal(cs) > 0
    x, y = specials(dtype, xs), specials(dtype, ys)
    got = logical.where(cond, x, y)
    expected = np.where(cond, x, y)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_non_contiguous_operands_and_int_condition():
    x = specials(np.float32, (N, 8)).T
    y = specials(np.float32, (8, N))[:, ::-1]
    cond = (rng.standard_normal((8, N)) > 0).astype(np.int64)
    assert logical.where(cond, x, y).tobytes() == np.where(cond != 0, x, y).tobytes()


def test_bad_broadcast_raises_shape_error():
    with pytest.raises(ShapeError):
        logical.where(np.ones((3, N), bool), np.ones((2, N), np.float32),
                      np.ones((3, N), np.float32))

"""The Conv kernel's two im2col layouts compute the same convolution.

``conv`` picks ``correlate_flat`` (stride 1, many column rows) or ``correlate`` (everything
else); both are checked here against a direct sum over window taps, on shapes that send each
configuration (1-D/2-D/3-D, groups, dilations, asymmetric pads, bias) down each path.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onyx.backends.numpy.kernels import conv as k

rng = np.random.default_rng(0)


def direct(x, w, b, pads, dilations, strides, group):
    """Cross-correlation as an explicit sum over kernel taps, in float64."""
    r = x.ndim - 2
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pads[i], pads[i + r])
                                                          for i in range(r)])
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    out = [(xp.shape[2 + i] - (w.shape[2 + i] - 1) * dilations[i] - 1) // strides[i] + 1
           for i in range(r)]
    y = np.zeros((n, m, *out))
    mg = m // group
    for taps in itertools.product(*(range(s) for s in w.shape[2:])):
        index = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                      for t, d, o, s in zip(taps, dilations, out, strides))
        view = xp[(slice(None), slice(None)) + index]
        for gi in range(group):
            wt = w[(slice(gi * mg, (gi + 1) * mg), slice(None)) + taps].astype(np.float64)
            y[:, gi * mg:(gi + 1) * mg] += np.einsum("mc,nc...->nm...", wt,
                                                     view[:, gi * cg:(gi + 1) * cg])
    return y + b.reshape((-1,) + (1,) * r)


CASES = [  # x shape, w shape, pads, dilations, strides, group
    ((2, 3, 9), (4, 3, 3), [1, 2], [1], [1], 1),
    ((2, 4, 7, 6), (2, 4, 3, 3), [1, 1, 1, 1], [1, 1], [1, 1], 1),
    ((1, 6, 8, 5), (4, 3, 2, 3), [0, 1, 2, 0], [2, 1], [1, 1], 2),
    ((2, 1, 6, 6), (16, 1, 3, 3), [1, 1, 1, 1], [1, 1], [1, 1], 1),
    ((2, 5, 9, 8), (3, 5, 3, 3), [1, 1, 1, 1], [1, 1], [2, 1], 1),
    ((1, 2, 4, 5, 6), (3, 2, 2, 3, 2), [1, 0, 1, 0, 1, 1], [1, 2, 1], [1, 1, 1], 1),
    ((3, 8, 5, 5), (8, 1, 3, 3), [1, 1, 1, 1], [1, 1], [1, 1], 8),
]


@pytest.mark.parametrize("xs,ws,pads,dil,strides,group", CASES)
def test_conv_matches_direct_sum(xs, ws, pads, dil, strides, group):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    got = k.conv(x, w, b, pads=pads, dilations=dil, strides=strides, group=group)
    expected = direct(x, w, b, pads, dil, strides, group)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_both_paths_are_exercised():
    taken = set()
    for xs, ws, pads, dil, strides, _ in CASES:
        x, w = np.zeros(xs, np.float32), np.zeros(ws, np.float32)
        g = k.window_geometry("Conv", xs[2:], kernel_shape=ws[2:], strides=strides,
                              dilations=dil, pads=pads)
        taken.add(k.flat_columns_pay_off(x, w, g))
    assert taken == {True, False}


def test_flat_path_matches_general_path_exactly_shaped():
    x = rng.standard_normal((2, 6, 7, 9)).astype(np.float32)
    w = rng.standard_normal((4, 6, 3, 3)).astype(np.float32)
    g = k.window_geometry("Conv", x.shape[2:], kernel_shape=[3, 3], pads=[1, 0, 1, 2])
    flat = k.correlate_flat(x, w, g, 1)
    general = k.correlate(k.pad_spatial(x, g, 0), w, g, 1)
    assert flat.shape == general.shape == (2, 4, 7, 9)
    assert flat.flags.c_contiguous
    np.testing.assert_allclose(flat, general, rtol=1e-5, atol=1e-5)

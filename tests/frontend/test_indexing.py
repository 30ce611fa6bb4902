"""``tensor[key]`` and ``tensor[key] = value`` against PyTorch: values, shapes, gradients, views
and errors, for every kind of key (ints, slices, None, ..., int tensors, lists, masks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import onyx

X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 7 - 8


def _keys(m):
    """Keys spelled with library ``m``'s tensors (the key lists are parallel)."""
    t = m.tensor
    return [
        0, -1, (1, 2), (0, -1, 2, -3), slice(None), slice(1, None), slice(None, None, 2),
        (slice(None), slice(1, 3)), (Ellipsis, 1), (0, Ellipsis, slice(None, None, 2)),
        None, (None, 0, None), (slice(None), None, slice(1, 2)), (Ellipsis, None),
        (slice(-2, None), slice(-100, 100), slice(3, 1)), (1, slice(None), slice(0, 4, 3)),
        t([1, 0, 1]), [1, 0], (slice(None), t([2, 0])), (slice(None), [0, 2], [1, 3]),
        (t([[0], [1]]), t([1, 2])), (0, slice(None), [0, 1]), ([0, 1], slice(None), 0),
        (slice(None), [0, 1], slice(None), [2, 3]), (Ellipsis, t([4, 0, -1])),
        t(X[0, 0, 0, 0] > 0), t(X[..., 0] > -8), (0, t(X[0, :, :, 0] > -8)),
        (slice(None), t([True, False, True])), t(X > -7), True, False, (0, True),
        t(1), (t(1), t(0)), (t([-1, -2]),), (slice(None), t([[1, 0], [2, 2]]), slice(1, 3)),
        t([True, False]), (Ellipsis, t([True, False, True, True, False])), (0, ..., ...),
        t(np.array([1, 0], dtype=np.int32)),
    ]


N_KEYS = len(_keys(torch))


def _pair(requires_grad=True):
    return (onyx.tensor(X, requires_grad=requires_grad),
            torch.tensor(X, requires_grad=requires_grad))


@pytest.mark.parametrize("k", range(N_KEYS))
def test_getitem_matches_torch(k):
    ox, tx = _pair()
    o = ox[_keys(onyx)[k]]
    t = tx[_keys(torch)[k]]
    assert tuple(o.shape) == tuple(t.shape)
    np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy())
    w = np.random.default_rng(k).standard_normal(tuple(t.shape)).astype(np.float32)
    (o * onyx.tensor(w)).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("k", range(N_KEYS))
def test_setitem_matches_torch(k):
    ox, tx = onyx.tensor(X), torch.tensor(X)
    shape = tuple(tx[_keys(torch)[k]].shape)
    value = np.random.default_rng(k).standard_normal(shape).astype(np.float32)
    ox[_keys(onyx)[k]] = onyx.tensor(value)
    tx[_keys(torch)[k]] = torch.tensor(value)
    np.testing.assert_allclose(ox.numpy(), tx.numpy())
    ox[_keys(onyx)[k]] = 1.5
    tx[_keys(torch)[k]] = 1.5
    np.testing.assert_allclose(ox.numpy(), tx.numpy())


@pytest.mark.parametrize("k", [0, 3, 7, 17, 19, 26])
def test_setitem_gradients_reach_both_sides(k):
    o_base, t_base = _pair()
    shape = tuple(torch.tensor(X)[_keys(torch)[k]].shape)
    v = np.random.default_rng(k).standard_normal(shape).astype(np.float32)
    ov, tv = onyx.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    ox, tx = o_base * 2, t_base * 2
    ox[_keys(onyx)[k]] = ov * 3
    tx[_keys(torch)[k]] = tv * 3
    w = np.random.default_rng(1).standard_normal(X.shape).astype(np.float32)
    (ox * onyx.tensor(w)).sum().backward()
    (tx * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(o_base.grad.numpy(), t_base.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(ov.grad.numpy(), tv.grad.numpy(), atol=1e-6)


def test_setitem_broadcasts_and_casts():
    o, t = onyx.zeros(3, 4, dtype=onyx.int64), torch.zeros(3, 4, dtype=torch.int64)
    o[1] = onyx.tensor([1.7, 2.2, 3.9, -4.5])
    t[1] = torch.tensor([1.7, 2.2, 3.9, -4.5])
    o[:, 0] = 9
    t[:, 0] = 9
    o[2:] = onyx.ones(1, 1, 4) * 5
    t[2:] = torch.ones(1, 1, 4) * 5
    np.testing.assert_array_equal(o.numpy(), t.numpy())
    o[o > 3] = 0
    t[t > 3] = 0
    np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_basic_indexing_gives_views():
    x = onyx.zeros(3, 4)
    row = x[1]
    row[2] = 5.0
    x[0, ::2] += 1
    col = x[:, 3]
    col.fill_(-1)
    expected = torch.zeros(3, 4)
    expected[1, 2] = 5.0
    expected[0, ::2] += 1
    expected[:, 3] = -1
    np.testing.assert_array_equal(x.numpy(), expected.numpy())
    assert row._version is x._version
    picked = x[[0, 1]]   # advanced indexing copies
    picked.zero_()
    np.testing.assert_array_equal(x.numpy(), expected.numpy())


def test_augmented_assignment_on_index():
    o, t = onyx.tensor(X.copy()), torch.tensor(X.copy())
    o[0, [1, 2]] *= 2
    t[0, [1, 2]] *= 2
    o[..., 1] -= 3
    t[..., 1] -= 3
    np.testing.assert_allclose(o.numpy(), t.numpy())


ERRORS = [
    lambda m, x: x[5],
    lambda m, x: x[0, 0, 0, 0, 0],
    lambda m, x: x[1.5],
    lambda m, x: x[::-1],
    lambda m, x: x[m.tensor([7])],
    lambda m, x: x[:, m.tensor([True, False])],
    lambda m, x: x[m.tensor([1.0])],
    lambda m, x: x["a"],
    lambda m, x: x[[0, 1], [0, 1, 2]],
    lambda m, x: x[0, 0, -6],
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_index_errors_match_torch_kind(k):
    with pytest.raises(Exception) as want:
        ERRORS[k](torch, torch.tensor(X))
    with pytest.raises(Exception) as got:
        ERRORS[k](onyx, onyx.tensor(X))
    for kind in (IndexError, ValueError, TypeError):
        if isinstance(want.value, kind):
            assert isinstance(got.value, kind), repr(got.value)
            return
    assert isinstance(got.value, onyx.OnyxError), repr(got.value)


def test_setitem_errors():
    x = onyx.zeros(3, 4)
    with pytest.raises(onyx.OnyxError, match="shape mismatch"):
        x[0] = onyx.ones(3)
    leaf = onyx.zeros(3, requires_grad=True)
    with pytest.raises(onyx.OnyxError, match="leaf Variable"):
        leaf[0] = 1.0
    with onyx.no_grad():
        leaf[0] = 1.0
    assert leaf[0].item() == 1.0


def test_index_put():
    for accumulate in (False, True):
        o, t = onyx.zeros(3, 4), torch.zeros(3, 4)
        idx_o = (onyx.tensor([0, 2, 0]), onyx.tensor([1, 3, 1]))
        idx_t = (torch.tensor([0, 2, 0]), torch.tensor([1, 3, 1]))
        o.index_put_(idx_o, onyx.tensor([1.0, 2.0, 3.0]), accumulate=accumulate)
        t.index_put_(idx_t, torch.tensor([1.0, 2.0, 3.0]), accumulate=accumulate)
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    out = onyx.index_put(onyx.zeros(2), (onyx.tensor([1]),), onyx.tensor(4.0))
    assert out.tolist() == [0.0, 4.0]

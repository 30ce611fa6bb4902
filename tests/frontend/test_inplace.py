"""In-place ops against PyTorch: values, autograd through them (views included), the version
counter and torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import onyx

A = np.linspace(-1.5, 1.5, 12, dtype=np.float32).reshape(3, 4)
POS = np.linspace(0.5, 2.0, 12, dtype=np.float32).reshape(3, 4)
OTHER = np.linspace(0.7, -0.9, 12, dtype=np.float32).reshape(3, 4)

# name, args built from the library (so tensors are the library's), input array
METHODS = [
    ("add_", lambda m: (m.tensor(OTHER),), A), ("add_", lambda m: (2.0,), A),
    ("sub_", lambda m: (m.tensor(OTHER[0]),), A), ("mul_", lambda m: (m.tensor(OTHER),), A),
    ("div_", lambda m: (m.tensor(POS),), A), ("pow_", lambda m: (2,), A),
    ("neg_", lambda m: (), A), ("abs_", lambda m: (), A), ("exp_", lambda m: (), A),
    ("log_", lambda m: (), POS), ("sqrt_", lambda m: (), POS), ("rsqrt_", lambda m: (), POS),
    ("sin_", lambda m: (), A), ("tanh_", lambda m: (), A), ("sigmoid_", lambda m: (), A),
    ("relu_", lambda m: (), A), ("floor_", lambda m: (), A), ("round_", lambda m: (), A),
    ("trunc_", lambda m: (), A), ("frac_", lambda m: (), A), ("reciprocal_", lambda m: (), POS),
    ("square_", lambda m: (), A), ("clamp_", lambda m: (-0.5, 0.5), A),
    ("clamp_min_", lambda m: (0.1,), A), ("clamp_max_", lambda m: (0.1,), A),
    ("clip_", lambda m: (-1, 1), A), ("lerp_", lambda m: (m.tensor(OTHER), 0.25), A),
    ("addcmul_", lambda m: (m.tensor(OTHER), m.tensor(POS)), A),
    ("addcdiv_", lambda m: (m.tensor(OTHER), m.tensor(POS)), A),
    ("zero_", lambda m: (), A), ("fill_", lambda m: (2.5,), A),
    ("copy_", lambda m: (m.tensor(OTHER[1]),), A),
    ("masked_fill_", lambda m: (m.tensor(A > 0), -3.0), A),
    ("index_fill_", lambda m: (1, m.tensor([0, 2]), 7.0), A),
    ("scatter_", lambda m: (1, m.tensor([[0], [3], [1]]), m.tensor(OTHER)), A),
    ("scatter_add_", lambda m: (0, m.tensor([[0, 1, 2, 0]]), m.tensor(OTHER)), A),
    ("eq_", lambda m: (m.tensor(A),), A), ("lt_", lambda m: (0.0,), A),
    ("nan_to_num_", lambda m: (), A), ("fmod_", lambda m: (0.4,), A),
    ("remainder_", lambda m: (0.4,), A), ("floor_divide_", lambda m: (0.4,), A),
    ("logical_not_", lambda m: (), A), ("expm1_", lambda m: (), A), ("erf_", lambda m: (), A),
]


@pytest.mark.parametrize("k", range(len(METHODS)), ids=[f"{m[0]}{i}" for i, m in
                                                         enumerate(METHODS)])
def test_method_matches_torch(k):
    name, args, data = METHODS[k]
    o, t = onyx.tensor(data.copy()), torch.tensor(data.copy())
    ro = getattr(o, name)(*args(onyx))
    rt = getattr(t, name)(*args(torch))
    assert ro is o and rt is t
    assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(o.numpy(), t.numpy(), atol=1e-6, rtol=1e-5)


GRAD_METHODS = [k for k, (name, _, _) in enumerate(METHODS)
                if name not in ("eq_", "lt_", "logical_not_", "floor_divide_")]


@pytest.mark.parametrize("k", GRAD_METHODS, ids=[METHODS[k][0] + str(k) for k in GRAD_METHODS])
def test_gradient_through_inplace_matches_torch(k):
    name, args, data = METHODS[k]
    lo, lt = onyx.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    yo, yt = lo * 1.5, lt * 1.5
    getattr(yo, name)(*args(onyx))
    getattr(yt, name)(*args(torch))
    w = np.random.default_rng(k).standard_normal(data.shape).astype(np.float32)
    (yo * onyx.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(lo.grad.numpy(), lt.grad.numpy(), atol=1e-5, rtol=1e-4)


def test_inplace_saves_the_old_value_it_needs():
    got = []
    for m in (onyx, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        w = m.tensor([3.0, 4.0], requires_grad=True)
        y = a * 1
        y.mul_(w)      # d/dw needs y's value from before the write
        y.sum().backward()
        got.append((a.grad.numpy(), w.grad.numpy()))
    for o, t in zip(*got):
        np.testing.assert_allclose(o, t)
    # x.mul_(x) reads the value it replaces; onyx keeps it (torch refuses), so the gradient
    # is the one of x * x
    a = onyx.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    y.mul_(y)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 4.0])


def test_version_counter_error():
    for m in (onyx, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.add_(1)
        with pytest.raises((onyx.OnyxError, RuntimeError), match="modified by an inplace|in-place"):
            y.sum().backward()
    # a view shares the counter: changing the base invalidates what the view saved
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    base = x * 1
    v = base[0:1]
    z = v * v
    base.add_(1)
    assert v._version.value == base._version.value == 1
    with pytest.raises(onyx.OnyxError, match="in-place"):
        z.sum().backward()


def test_leaf_errors_and_no_grad():
    x = onyx.ones(3, requires_grad=True)
    with pytest.raises(onyx.OnyxError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(onyx.OnyxError, match="view of a leaf Variable"):
        x[0:2].mul_(2)
    with pytest.raises(onyx.OnyxError, match="leaf Variable"):
        x += 1
    with onyx.no_grad():
        x.add_(1)
        x[0:2].mul_(2)
    np.testing.assert_allclose(x.detach().numpy(), [4.0, 4.0, 2.0])
    assert x.is_leaf and x.grad_fn is None


@pytest.mark.parametrize("fn", [
    lambda m: m.tensor([1, 2]).add_(1.5),
    lambda m: m.tensor([1, 2]).div_(2),
    lambda m: m.tensor([True]).add_(1),
    lambda m: m.ones(3).add_(m.ones(2, 3)),
    lambda m: m.ones(3, 1).expand(3, 4).add_(1),
    lambda m: m.tensor([1, 2]).exp_(),
], ids=["int_add_float", "int_div", "bool_add_int", "broadcast_shape", "expanded", "int_exp"])
def test_inplace_errors_match_torch(fn):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(onyx.OnyxError):
        fn(onyx)


def test_views_see_inplace_changes():
    for m in (onyx, torch):
        x = m.zeros(3, 4)
        x.t()[1].fill_(2.0)
        x.view(-1)[:3].add_(1)
        x[2].unsqueeze(0).mul_(0)
        x.narrow(1, 3, 1).sub_(5)
        d = x.diagonal()
        d += 10
        for part in x.split(2, 1):
            part[0] += 0.5
        if m is onyx:
            got = x.numpy().copy()
        else:
            np.testing.assert_allclose(got, x.numpy())


def test_gradient_through_inplace_on_views():
    results = []
    for m in (onyx, torch):
        a = m.tensor(A, requires_grad=True)
        w = m.tensor(OTHER[0], requires_grad=True)
        x = a * 2
        x[1].mul_(w)           # in-place on a view: rebases x
        x.t()[0].add_(3)       # view of a transpose
        x[:, 1:3] = w[:2]      # assignment into a slice
        y = x[0]
        y.exp_()               # in-place on a view whose base is then read
        (x * m.tensor(POS)).sum().backward()
        results.append((x.detach().numpy(), a.grad.numpy(), w.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_iadd_keeps_identity_and_views():
    x = onyx.zeros(2, 3)
    row = x[0]
    before = id(x)
    x += 1
    x *= onyx.tensor([1.0, 2.0, 3.0])
    assert id(x) == before
    np.testing.assert_allclose(row.numpy(), [1.0, 2.0, 3.0])


def test_zero_and_fill_give_zero_gradient_to_history():
    for m in (onyx, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        s = m.tensor(3.0, requires_grad=True)
        y = a * 2
        y.zero_()
        z = a * 1
        z.fill_(s)
        (y.sum() + (z * m.tensor([1.0, 2.0])).sum()).backward()
        if m is onyx:
            got = (a.grad.numpy(), s.grad.numpy())
        else:
            np.testing.assert_allclose(got[0], a.grad.numpy())
            np.testing.assert_allclose(got[1], s.grad.numpy())


def test_copy_broadcasts_and_differentiates_into_src():
    results = []
    for m in (onyx, torch):
        src = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        dst = m.zeros(2, 3, dtype=m.float64)
        dst.copy_(src)
        (dst * 2).sum().backward()
        results.append((dst.detach().numpy(), src.grad.numpy(), str(dst.dtype)))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])


def test_shape_changing_inplace():
    for m in (onyx, torch):
        x = m.arange(6.0).reshape(2, 3)
        x.unsqueeze_(0)
        shapes = [tuple(x.shape)]
        x.squeeze_()
        x.t_()
        shapes.append(tuple(x.shape))
        x.transpose_(0, 1)
        shapes.append(tuple(x.shape))
        if m is onyx:
            got = shapes, x.numpy().copy()
        else:
            assert got[0] == shapes
            np.testing.assert_allclose(got[1], x.numpy())


def test_random_inplace_fills():
    onyx.manual_seed(0)
    x = onyx.empty(1000)
    x.uniform_(-2, 3)
    assert x.min().item() >= -2 and x.max().item() < 3
    x.normal_(5, 0.1)
    assert abs(x.mean().item() - 5) < 0.05
    x.bernoulli_(0.3)
    assert set(np.unique(x.numpy())) <= {0.0, 1.0}
    n = onyx.zeros(100, dtype=onyx.int64).random_(0, 4)
    assert n.dtype is onyx.int64 and n.max().item() < 4
    x.exponential_()
    assert x.min().item() >= 0
    p = onyx.zeros(3, requires_grad=True)
    with onyx.no_grad():
        p.normal_()
    assert p.is_leaf and p.requires_grad


def test_fill_diagonal():
    for wrap in (False, True):
        o, t = onyx.zeros(7, 3), torch.zeros(7, 3)
        o.fill_diagonal_(2.0, wrap=wrap)
        t.fill_diagonal_(2.0, wrap=wrap)
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_uses_before_an_inplace_op_keep_the_old_history():
    grads = []
    for m in (onyx, torch):
        a = m.ones(2, requires_grad=True)
        y = a * 2
        z = y + 1          # Add saves nothing, so no version error can catch a wrong route
        y.mul_(3)
        (z.sum() + y.sum()).backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])

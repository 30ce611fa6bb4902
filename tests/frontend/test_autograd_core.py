"""Eager tensors and autograd against PyTorch on the same inputs."""

import numpy as np
import pytest
import torch
from onyx.autograd import Variable

import onyx


def _pair(shape, seed=0, requires_grad=True):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (onyx.tensor(x, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def _close(a, b, atol=1e-5, rtol=1e-4):
    if a is None or b is None:
        assert a is None and b is None, (a, b)
        return
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=rtol)


FUNCS = {
    "mul_add": lambda m, x, y: (x * y + x).sum(),
    "broadcast_sub_div": lambda m, x, y: ((x - y[0]) / (y.abs() + 1)).mean(),
    "exp_log": lambda m, x, y: (m.exp(x) * 2 + 1).log().sum(),
    "matmul": lambda m, x, y: (x @ y.T).tanh().sum(),
    "pow_sqrt": lambda m, x, y: ((x ** 2 + 1).sqrt() * y.sigmoid()).sum(),
    "reshape_transpose": lambda m, x, y: (x.reshape(3, 4).t() * y.view(4, 3)).mean(dim=0).sum(),
    "relu_mean_keepdim": lambda m, x, y: (x.relu() - y.mean(dim=1, keepdim=True)).sum(),
    "scalar_ops": lambda m, x, y: (2 - x * 3 + 1 / (y * y + 1) - y / 2).sum(),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_value_and_gradient_match_torch(name):
    f = FUNCS[name]
    ox, tx = _pair((4, 3), 0)
    oy, ty = _pair((4, 3), 1)
    out, tout = f(onyx, ox, oy), f(torch, tx, ty)
    _close(out, tout)
    out.backward()
    tout.backward()
    _close(ox.grad, tx.grad)
    _close(oy.grad, ty.grad)


def test_second_derivative_with_create_graph():
    ox, tx = _pair((5,), 3)
    g, = onyx.autograd.grad((ox.exp() * 2 + 1).log().mean(), ox, create_graph=True)
    tg, = torch.autograd.grad((tx.exp() * 2 + 1).log().mean(), tx, create_graph=True)
    _close(g, tg)
    gg, = onyx.autograd.grad(g.sum(), ox)
    tgg, = torch.autograd.grad(tg.sum(), tx)
    _close(gg, tgg)


def test_grad_accumulates_and_retain_graph():
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(onyx.OnyxError, match="second time"):
        y.backward()


def test_no_grad_and_detach_record_nothing():
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    with onyx.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not x.detach().requires_grad
    z = x * 2
    assert z.grad_fn is not None and not z.is_leaf


def test_retain_grad_and_hooks():
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])


def test_grad_of_unused_input():
    x = onyx.tensor([1.0], requires_grad=True)
    y = onyx.tensor([1.0], requires_grad=True)
    with pytest.raises(onyx.OnyxError, match="allow_unused"):
        onyx.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = onyx.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.item() == 2.0


def test_non_scalar_backward_needs_a_gradient():
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(onyx.OnyxError, match="scalar outputs"):
        y.backward()
    y.backward(onyx.tensor([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])


def test_variable_from_the_seed_documents():
    scalar = Variable(onyx.FloatTensor([1.0])) if hasattr(onyx, "FloatTensor") else \
        Variable(onyx.tensor([1.0]))
    assert scalar.shape == (1,) and scalar.dtype is onyx.float32
    x = onyx.randn(2, 2, requires_grad=True) if hasattr(onyx, "randn") else \
        onyx.tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    z = (x ** 2).mean()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), x.detach().numpy() / 2, rtol=1e-6)


@pytest.mark.parametrize("a,b", [
    (onyx.tensor([1, 2]), 2.5), (onyx.tensor([1, 2], dtype=onyx.int8), onyx.tensor(5)),
    (onyx.tensor([1.0], dtype=onyx.float16), onyx.tensor([1], dtype=onyx.int64)),
    (onyx.tensor(1.0, dtype=onyx.float64), onyx.tensor([1], dtype=onyx.int32)),
    (onyx.tensor([True]), 3), (onyx.tensor([1], dtype=onyx.uint8), onyx.tensor([1],
                                                                               dtype=onyx.int8)),
])
def test_type_promotion_matches_torch(a, b):
    def to_torch(v):
        if isinstance(v, onyx.Tensor):
            return torch.tensor(v.numpy())
        return v
    expected = torch.result_type(to_torch(a), to_torch(b))
    assert onyx.result_type(a, b).name == str(expected).removeprefix("torch.")
    assert (a + b).dtype.name == str((to_torch(a) + to_torch(b)).dtype).removeprefix("torch.")

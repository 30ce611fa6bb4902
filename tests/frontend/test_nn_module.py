"""The nn.Module API against torch's: traversal order and names, state_dict round trips and
strict-mode errors, train/eval, hooks, apply, zero_grad, deepcopy, and repr strings equal to
torch's; and the seed tutorials' models (``MyModule``, the linear regression) train."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import onyx
import onyx.nn as onn
import onyx.nn.functional as OF


def _net(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.ReLU(),
                                      nn.Linear(4, 2))
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
            self.extra = nn.ParameterDict({"scale": nn.Parameter(
                (torch if nn is torch.nn else onyx).ones(2))})

        def forward(self, x):
            x = self.head(self.bn(self.conv(x)))
            for b in self.blocks:
                x = b(x)
            return x * self.extra["scale"]
    return Net()


def _names(pairs):
    return [(n, tuple(t.shape)) for n, t in pairs]


def test_traversal_matches_torch():
    t, o = _net(torch.nn), _net(onn)
    assert _names(o.named_parameters()) == _names(t.named_parameters())
    assert _names(o.named_buffers()) == _names(t.named_buffers())
    assert [n for n, _ in o.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in o.named_children()] == [n for n, _ in t.named_children()]
    assert list(o.state_dict()) == list(t.state_dict())
    assert len(list(o.parameters(recurse=False))) == 0
    assert [type(m).__name__ for m in o.modules()] == [type(m).__name__ for m in t.modules()]


def test_state_dict_round_trip_with_torch():
    t, o = _net(torch.nn), _net(onn)
    o.load_state_dict({k: onyx.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 4, 4)).astype(np.float32)
    t.eval(), o.eval()
    np.testing.assert_allclose(o(onyx.from_numpy(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    back = {k: torch.from_numpy(v.numpy().copy()) for k, v in o.state_dict().items()}
    t.load_state_dict(back)
    assert o.state_dict()["bn.num_batches_tracked"].dtype == onyx.int64


def test_state_dict_values_are_detached_and_keep_vars():
    m = onn.Linear(2, 3)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    sd["weight"].numpy()[...] = 7.0  # the same storage, as in torch
    assert np.all(m.weight.detach().numpy() == 7.0)


def test_load_state_dict_strict_errors():
    m = onn.Linear(2, 3)
    with pytest.raises(onyx.OnyxError, match='Missing key\\(s\\) in state_dict: "bias"'):
        m.load_state_dict({"weight": onyx.zeros(3, 2)})
    with pytest.raises(onyx.OnyxError, match='Unexpected key\\(s\\) in state_dict: "extra"'):
        m.load_state_dict({"weight": onyx.zeros(3, 2), "bias": onyx.zeros(3),
                           "extra": onyx.zeros(1)})
    with pytest.raises(onyx.OnyxError, match="size mismatch for weight"):
        m.load_state_dict({"weight": onyx.zeros(2, 3), "bias": onyx.zeros(3)})
    result = m.load_state_dict({"weight": onyx.ones(3, 2), "other": onyx.zeros(1)},
                               strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert np.all(m.weight.detach().numpy() == 1)


def test_train_eval_propagate_and_change_behaviour():
    m = onn.Sequential(onn.Linear(4, 4), onn.Dropout(0.5), onn.BatchNorm1d(4))
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m
    assert not any(c.training for c in m.modules())
    x = onyx.randn(8, 4)
    np.testing.assert_array_equal(m(x).detach().numpy(), m(x).detach().numpy())
    m.train()
    assert all(c.training for c in m.modules())
    before = m[2].running_mean.numpy().copy()
    m(x)
    assert not np.array_equal(m[2].running_mean.numpy(), before)
    assert m[2].num_batches_tracked.item() == 1
    with pytest.raises(ValueError):
        m.train("yes")


def test_forward_hooks_and_handles():
    m = onn.Linear(2, 2)
    seen = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: seen.append(out.shape) or out + 1)
    out = m(onyx.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy() + 1 + 0 * out
                               .detach().numpy(), rtol=1e-6)
    assert seen == [onyx.Size([3, 2])]
    pre.remove()
    post.remove()
    np.testing.assert_allclose(m(onyx.ones(1, 2)).detach().numpy(),
                               (m.weight.sum(1) + m.bias).detach().numpy()[None], rtol=1e-6)
    assert len(seen) == 1


def test_apply_zero_grad_requires_grad():
    m = onn.Sequential(onn.Linear(2, 3), onn.Linear(3, 1))

    def init_weights(mod):
        if isinstance(mod, onn.Linear):
            onn.init.constant_(mod.weight, 0.5)
            onn.init.zeros_(mod.bias)
    assert m.apply(init_weights) is m
    assert all(np.all(p.detach().numpy() == 0.5) for n, p in m.named_parameters()
               if n.endswith("weight"))
    m(onyx.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_deepcopy_gives_independent_parameters():
    m = onn.Sequential(onn.Linear(2, 2), onn.BatchNorm1d(2))
    c = copy.deepcopy(m)
    assert all(isinstance(p, onn.Parameter) for p in c.parameters())
    assert all(a is not b for a, b in zip(m.parameters(), c.parameters()))
    onn.init.zeros_(c[0].weight)
    assert m[0].weight.detach().numpy().any()
    enc = onn.TransformerEncoder(onn.TransformerEncoderLayer(4, 2, 8), 2)
    w0, w1 = (layer.linear1.weight for layer in enc.layers)
    assert w0 is not w1 and np.array_equal(w0.detach().numpy(), w1.detach().numpy())


def test_module_registration_rules():
    m = onn.Module()
    m.w = onn.Parameter(onyx.zeros(2))
    m.register_buffer("stat", onyx.ones(2))
    m.register_buffer("tmp", onyx.ones(1), persistent=False)
    m.sub = onn.Linear(1, 1)
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert list(m.state_dict()) == ["w", "stat", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError):
        m.w = onyx.zeros(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    del m.sub
    assert not list(m.children())
    with pytest.raises(AttributeError):
        _ = m.missing


def test_shared_parameters_are_listed_once():
    emb = onn.Embedding(10, 4)
    head = onn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    m = onn.Sequential(emb, head)
    assert len(list(m.parameters())) == 1
    out = m(onyx.tensor([1, 2]))
    out.sum().backward()
    assert emb.weight.grad is not None


# ------------------------------------------------------------------------------ repr
REPRS = [
    lambda nn: nn.Linear(2, 3, bias=False),
    lambda nn: nn.Bilinear(2, 3, 4),
    lambda nn: nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, bias=False,
                         padding_mode="reflect"),
    lambda nn: nn.Conv1d(3, 6, 3, padding="same", groups=3),
    lambda nn: nn.ConvTranspose2d(3, 4, 3, 2, 1, output_padding=1),
    lambda nn: nn.MaxPool2d(2),
    lambda nn: nn.MaxPool1d(3, 2, 1, ceil_mode=True),
    lambda nn: nn.AvgPool1d(3),
    lambda nn: nn.AvgPool2d((2, 3), 1, 1),
    lambda nn: nn.AdaptiveAvgPool2d((None, 3)),
    lambda nn: nn.BatchNorm2d(3),
    lambda nn: nn.BatchNorm1d(3, momentum=None, affine=False),
    lambda nn: nn.LayerNorm((4, 5), elementwise_affine=False),
    lambda nn: nn.GroupNorm(2, 4),
    lambda nn: nn.Dropout(),
    lambda nn: nn.Embedding(10, 3, padding_idx=0, max_norm=1.0),
    lambda nn: nn.ReLU(inplace=True),
    lambda nn: nn.LeakyReLU(),
    lambda nn: nn.GELU("tanh"),
    lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.Softplus(),
    lambda nn: nn.Hardtanh(),
    lambda nn: nn.ReLU6(),
    lambda nn: nn.PReLU(3),
    lambda nn: nn.LSTM(3, 4, 2, batch_first=True, dropout=0.1, bidirectional=True),
    lambda nn: nn.GRU(3, 4, bias=False),
    lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"),
    lambda nn: nn.MultiheadAttention(8, 2),
    lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2),
    lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1))),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]),
    lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
    lambda nn: nn.Flatten(),
]


@pytest.mark.parametrize("build", REPRS, ids=lambda b: repr(b(onn)).split("(")[0])
def test_repr_equals_torch(build):
    assert repr(build(onn)) == repr(build(torch.nn))


def test_constructor_errors_match_torch():
    for build in (lambda nn: nn.Conv2d(3, 4, 3, groups=2),
                  lambda nn: nn.Conv2d(2, 4, 3, stride=2, padding="same"),
                  lambda nn: nn.GroupNorm(3, 4),
                  lambda nn: nn.MultiheadAttention(6, 4),
                  lambda nn: nn.Dropout(1.5)):
        with pytest.raises((ValueError, AssertionError)):
            build(torch.nn)
        with pytest.raises((ValueError, AssertionError)):
            build(onn)


def test_shape_errors_are_clear():
    with pytest.raises(onyx.OnyxError, match="expected input\\[2, 5, 8, 8\\] to have 3 channels"):
        onn.Conv2d(3, 4, 3)(onyx.randn(2, 5, 8, 8))
    with pytest.raises(onyx.OnyxError, match="cannot be multiplied"):
        onn.Linear(3, 4)(onyx.randn(2, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        onn.BatchNorm2d(3)(onyx.randn(2, 3))
    with pytest.raises(onyx.OnyxError, match="normalized_shape"):
        onn.LayerNorm(4)(onyx.randn(2, 5))
    with pytest.raises(onyx.OnyxError, match="input_size"):
        onn.LSTM(3, 4)(onyx.randn(5, 2, 6))


# ------------------------------------------------------------------------------ seeds
class MyModule(onn.Module):
    """The module of the first seed tutorial, with onyx in place of torch."""

    def __init__(self):
        super().__init__()
        self.linear1 = onn.Linear(2, 3)
        self.sigmoid = onn.Sigmoid()

    def forward(self, x):
        out = self.linear1(x)
        return self.sigmoid(out)


def test_seed_my_module():
    m = MyModule()
    assert [n for n, _ in m.named_children()] == ["linear1", "sigmoid"]
    assert repr(m) == ("MyModule(\n  (linear1): Linear(in_features=2, out_features=3, "
                       "bias=True)\n  (sigmoid): Sigmoid()\n)")
    x = onyx.randn(5, 2)
    y = m(x)
    assert tuple(y.shape) == (5, 3)
    w, b = m.linear1.weight.detach().numpy(), m.linear1.bias.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), 1 / (1 + np.exp(-(x.numpy() @ w.T + b))),
                               rtol=1e-5)
    loss = onn.MSELoss()(y, onyx.zeros(5, 3))
    loss.backward()
    assert m.linear1.weight.grad.shape == (3, 2)
    assert y.grad_fn is not None


def test_seed_linear_regression_trains():
    """The second seed's example: Linear(2, 1) + MSELoss + Adam learn y = x1 + x2 - 1 exactly
    enough (the data is that plane)."""
    onyx.manual_seed(0)
    inputs = onyx.tensor([[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])
    labels = onyx.tensor([[1.0], [2.0], [3.0]])
    model = onn.Linear(2, 1)
    loss_fn = onn.MSELoss()
    optimizer = onyx.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        loss = loss_fn(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3


def test_small_classifier_learns():
    """An MLP with the usual pieces (BatchNorm, Dropout, CrossEntropyLoss, SGD) fits a toy
    problem: end-to-end check that the layers' gradients point the right way."""
    onyx.manual_seed(1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    model = onn.Sequential(onn.Linear(4, 16), onn.BatchNorm1d(16), onn.ReLU(),
                           onn.Dropout(0.1), onn.Linear(16, 3))
    opt = onyx.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    xs, ys = onyx.from_numpy(x), onyx.from_numpy(y)
    for _ in range(60):
        loss = OF.cross_entropy(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    acc = (model(xs).argmax(1) == ys).float().mean().item()
    assert acc > 0.9 and math.isfinite(loss.item())


def test_onyx_nn_import_paths():
    import onyx.nn.functional as F1
    import onyx.nn.init as I1
    import onyx.nn.utils as U1
    from onyx.nn import functional as F2
    assert F1 is F2 and F1.relu is OF.relu
    assert I1.kaiming_uniform_ is onn.init.kaiming_uniform_
    assert U1.clip_grad_norm_ is onn.utils.clip_grad_norm_
    assert onn.Module is onyx.frontend.nn.module.Module


@pytest.mark.parametrize("build,shape", [
    (lambda: onn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, batch_first=True), (2, 5, 8)),
    (lambda: onn.MultiheadAttention(8, 2, dropout=0.3), (5, 2, 8)),
    (lambda: onn.LSTM(8, 6, num_layers=3, dropout=0.5), (5, 2, 8)),
], ids=["encoder-layer", "mha", "lstm"])
def test_stochastic_layers_train_vs_eval(build, shape):
    m = build()
    x = onyx.randn(*shape, requires_grad=True)

    def run():
        out = m(x, x, x) if isinstance(m, onn.MultiheadAttention) else m(x)
        return out[0] if isinstance(out, tuple) else out
    a, b = run(), run()
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    a.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in m.parameters())
    m.eval()
    np.testing.assert_array_equal(run().detach().numpy(), run().detach().numpy())

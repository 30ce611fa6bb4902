"""onyx.nn.functional against torch.nn.functional (values and gradients of every float
argument), plus the random ops (dropout), ``onyx.nn.init`` and ``onyx.nn.utils``."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import onyx
import onyx.nn as onn
import onyx.nn.functional as OF
import onyx.nn.init as oinit
import onyx.nn.utils as outils

OUT_TOL = dict(rtol=1e-4, atol=1e-5)
GRAD_TOL = dict(rtol=1e-3, atol=1e-4)


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def R(*shape, scale: float = 1.0) -> np.ndarray:
    return (_rng("R", shape, scale).standard_normal(shape) * scale).astype(np.float32)


def P(*shape) -> np.ndarray:
    return _rng("P", shape).uniform(0.5, 2.0, shape).astype(np.float32)


def Ix(high: int, *shape) -> np.ndarray:
    return _rng("I", high, shape).integers(0, high, shape).astype(np.int64)


class Const:
    """An argument passed as a tensor that does not require grad."""

    def __init__(self, value):
        self.value = np.asarray(value)


@dataclass
class Fn:
    """``call(F, *tensors)`` runs with torch.nn.functional and with onyx.nn.functional."""
    name: str
    call: Callable
    inputs: list
    grad: bool = True

    def __str__(self) -> str:
        return self.name


def _bn_train(F, x, w, b, rm, rv):
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2)
    return out, rm, rv


FUNCTIONS: list[Fn] = [
    Fn("linear", lambda F, x, w, b: F.linear(x, w, b), [R(3, 5), R(4, 5), R(4)]),
    Fn("linear-nobias-3d", lambda F, x, w: F.linear(x, w), [R(2, 3, 5), R(4, 5)]),
    Fn("bilinear", lambda F, a, b, w, c: F.bilinear(a, b, w, c),
       [R(2, 3, 4), R(2, 3, 5), R(6, 4, 5), R(6)]),
    Fn("conv1d", lambda F, x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [
        R(2, 3, 9), R(4, 3, 3), R(4)]),
    Fn("conv2d", lambda F, x, w: F.conv2d(x, w, None, 1, "same", 2, 2),
       [R(2, 4, 7, 6), R(6, 2, 3, 2)]),
    Fn("conv3d", lambda F, x, w: F.conv3d(x, w, padding=(0, 1, 1)),
       [R(1, 2, 3, 4, 5), R(3, 2, 2, 3, 3)]),
    Fn("conv_transpose1d", lambda F, x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1),
       [R(2, 3, 5), R(3, 4, 3), R(4)]),
    Fn("conv_transpose2d", lambda F, x, w: F.conv_transpose2d(x, w, None, (2, 1), (1, 0), 0,
                                                              2, (1, 2)),
       [R(1, 4, 4, 5), R(4, 3, 3, 2)]),
    Fn("max_pool1d", lambda F, x: F.max_pool1d(x, 3, 2, 1, return_indices=True),
       [R(2, 3, 11)]),
    Fn("max_pool2d", lambda F, x: F.max_pool2d(x, (3, 2), (2, 1), (1, 0), ceil_mode=True),
       [R(2, 3, 9, 7)]),
    Fn("max_pool2d-indices", lambda F, x: F.max_pool2d(x, 2, return_indices=True),
       [R(2, 3, 6, 6)]),
    Fn("avg_pool1d", lambda F, x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True,
                                               count_include_pad=False), [R(2, 3, 11)]),
    Fn("avg_pool2d", lambda F, x: F.avg_pool2d(x, 3, 2, 1), [R(2, 3, 9, 7)]),
    Fn("avg_pool2d-divisor-ceil", lambda F, x: F.avg_pool2d(x, 3, 2, 1, True, True, 5),
       [R(2, 3, 8, 7)]),
    Fn("adaptive_avg_pool1d", lambda F, x: F.adaptive_avg_pool1d(x, 4), [R(2, 3, 10)]),
    Fn("adaptive_avg_pool2d", lambda F, x: F.adaptive_avg_pool2d(x, (4, 3)), [R(2, 3, 9, 7)]),
    Fn("batch_norm-train", _bn_train, [R(4, 3, 5), R(3), R(3), Const(R(3)), Const(P(3))]),
    Fn("batch_norm-eval", lambda F, x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b),
       [R(4, 3, 5), R(3), R(3), Const(R(3)), Const(P(3))]),
    Fn("batch_norm-nostats", lambda F, x: F.batch_norm(x, None, None, training=True),
       [R(4, 3, 2, 2)]),
    Fn("layer_norm", lambda F, x, w, b: F.layer_norm(x, (3, 4), w, b, 1e-3),
       [R(2, 3, 4), R(3, 4), R(3, 4)]),
    Fn("group_norm", lambda F, x, w, b: F.group_norm(x, 3, w, b), [R(2, 6, 5), R(6), R(6)]),
    Fn("instance_norm", lambda F, x: F.instance_norm(x), [R(2, 3, 5, 4)]),
    Fn("local_response_norm", lambda F, x: F.local_response_norm(x, 5, 1e-2, 0.6, 2.0),
       [R(2, 7, 3)]),
    Fn("embedding", lambda F, i, w: F.embedding(i, w, padding_idx=1),
       [Const(np.array([[0, 1, 3], [1, 2, 3]])), R(4, 5)]),
    Fn("one_hot", lambda F, i: F.one_hot(i, 5), [Const(Ix(5, 2, 3))]),
    Fn("one_hot-infer", lambda F, i: F.one_hot(i), [Const(np.array([0, 3, 1]))]),
    Fn("relu", lambda F, x: F.relu(x), [R(3, 4)]),
    Fn("leaky_relu", lambda F, x: F.leaky_relu(x, 0.3), [R(3, 4)]),
    Fn("elu", lambda F, x: F.elu(x, 0.5), [R(3, 4)]),
    Fn("gelu", lambda F, x: F.gelu(x), [R(3, 4)]),
    Fn("gelu-tanh", lambda F, x: F.gelu(x, approximate="tanh"), [R(3, 4)]),
    Fn("silu", lambda F, x: F.silu(x), [R(3, 4)]),
    Fn("sigmoid", lambda F, x: F.sigmoid(x), [R(3, 4)]),
    Fn("tanh", lambda F, x: F.tanh(x), [R(3, 4)]),
    Fn("softmax", lambda F, x: F.softmax(x, dim=0), [R(3, 4)]),
    Fn("softmax-dtype", lambda F, x: F.softmax(x, -1, dtype=torch.float64 if F is TF else
                                               onyx.float64), [R(3, 4)]),
    Fn("log_softmax", lambda F, x: F.log_softmax(x, dim=-1), [R(3, 4)]),
    Fn("softplus", lambda F, x: F.softplus(x, 0.5, 3.0), [R(3, 4, scale=5)]),
    Fn("hardtanh", lambda F, x: F.hardtanh(x, -0.3, 0.6), [R(3, 4)]),
    Fn("relu6", lambda F, x: F.relu6(x), [R(3, 4, scale=5)]),
    Fn("mish", lambda F, x: F.mish(x), [R(3, 4)]),
    Fn("prelu", lambda F, x, w: F.prelu(x, w), [R(2, 3, 4), R(3)]),
    Fn("glu", lambda F, x: F.glu(x, 1), [R(2, 6, 3)]),
    Fn("logsigmoid", lambda F, x: F.logsigmoid(x), [R(3, 4)]),
    Fn("softmin", lambda F, x: F.softmin(x, 1), [R(3, 4)]),
    Fn("pad-constant", lambda F, x: F.pad(x, (1, 2, 0, 1), value=2.5), [R(2, 3, 4)]),
    Fn("pad-negative", lambda F, x: F.pad(x, (-1, 2)), [R(2, 3, 4)]),
    Fn("pad-reflect", lambda F, x: F.pad(x, (2, 1, 1, 1), mode="reflect"), [R(2, 3, 4, 4)]),
    Fn("pad-replicate", lambda F, x: F.pad(x, (2, 1), mode="replicate"), [R(2, 3, 4)]),
    Fn("pad-circular", lambda F, x: F.pad(x, (1, 2, 2, 0), mode="circular"),
       [R(1, 2, 4, 4)]),
    Fn("normalize", lambda F, x: F.normalize(x), [R(3, 4, 2)]),
    Fn("normalize-p1", lambda F, x: F.normalize(x, p=1.0, dim=-1), [R(3, 4)]),
    Fn("cosine_similarity", lambda F, a, b: F.cosine_similarity(a, b), [R(3, 4), R(3, 4)]),
    Fn("cosine_similarity-broadcast", lambda F, a, b: F.cosine_similarity(a, b, dim=-1),
       [R(2, 3, 4), R(3, 4)]),
    Fn("pairwise_distance", lambda F, a, b: F.pairwise_distance(a, b), [R(3, 4), R(3, 4)]),
    Fn("sdpa", lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v),
       [R(2, 3, 4, 8), R(2, 3, 5, 8), R(2, 3, 5, 6)]),
    Fn("sdpa-causal-scale", lambda F, q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=0.3), [R(2, 4, 8), R(2, 4, 8), R(2, 4, 8)]),
    Fn("sdpa-bool-mask", lambda F, q, k, v, m: F.scaled_dot_product_attention(
        q, k, v, attn_mask=m), [R(2, 4, 8), R(2, 5, 8), R(2, 5, 8),
                                Const(np.tril(np.ones((4, 5), bool)) | np.eye(4, 5, 1, bool))]),
    Fn("sdpa-float-mask", lambda F, q, k, v, m: F.scaled_dot_product_attention(
        q, k, v, attn_mask=m), [R(2, 4, 8), R(2, 5, 8), R(2, 5, 8), R(4, 5)]),
    Fn("sdpa-gqa", lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                     enable_gqa=True),
       [R(1, 4, 3, 8), R(1, 2, 5, 8), R(1, 2, 5, 8)]),
    Fn("interpolate-nearest-size", lambda F, x: F.interpolate(x, size=(7, 3)),
       [R(2, 3, 4, 5)]),
    Fn("interpolate-nearest-scale", lambda F, x: F.interpolate(x, scale_factor=1.7),
       [R(2, 3, 4, 5)]),
    Fn("interpolate-nearest-1d", lambda F, x: F.interpolate(x, scale_factor=0.5),
       [R(2, 3, 9)]),
    Fn("interpolate-nearest-exact", lambda F, x: F.interpolate(x, size=(7, 3),
                                                               mode="nearest-exact"),
       [R(2, 3, 4, 5)]),
    Fn("interpolate-bilinear", lambda F, x: F.interpolate(x, size=(7, 9), mode="bilinear"),
       [R(2, 3, 4, 5)]),
    Fn("interpolate-bilinear-scale", lambda F, x: F.interpolate(
        x, scale_factor=(1.5, 0.6), mode="bilinear"), [R(2, 3, 4, 5)]),
    Fn("interpolate-bilinear-corners", lambda F, x: F.interpolate(
        x, size=(3, 8), mode="bilinear", align_corners=True), [R(2, 3, 4, 5)]),
    Fn("interpolate-bilinear-recompute", lambda F, x: F.interpolate(
        x, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True), [R(2, 3, 4, 5)]),
    Fn("interpolate-linear", lambda F, x: F.interpolate(x, size=7, mode="linear"),
       [R(2, 3, 4)]),
    Fn("interpolate-trilinear", lambda F, x: F.interpolate(x, scale_factor=2,
                                                           mode="trilinear"),
       [R(1, 2, 2, 3, 2)]),
    Fn("interpolate-bicubic", lambda F, x: F.interpolate(x, size=(6, 7), mode="bicubic"),
       [R(1, 2, 4, 5)]),
    Fn("interpolate-area", lambda F, x: F.interpolate(x, size=(3, 2), mode="area"),
       [R(1, 2, 7, 5)]),
    Fn("pixel_shuffle", lambda F, x: F.pixel_shuffle(x, 3), [R(1, 18, 2, 3)]),
    Fn("pixel_unshuffle", lambda F, x: F.pixel_unshuffle(x, 2), [R(2, 3, 4, 6)]),
    Fn("unfold", lambda F, x: F.unfold(x, 3, padding=1, stride=2), [R(2, 3, 5, 6)]),
    Fn("fold", lambda F, x: F.fold(x, (4, 4), 2), [R(2, 8, 9)]),
    Fn("adaptive_max_pool2d", lambda F, x: F.adaptive_max_pool2d(x, (3, 2), True),
       [R(2, 3, 7, 5)]),
    Fn("margin_ranking_loss", lambda F, a, b, t: F.margin_ranking_loss(a, b, t, 0.2),
       [R(5), R(5), Const(np.sign(R(5)))]),
    Fn("gaussian_nll_loss", lambda F, x, t, v: F.gaussian_nll_loss(x, t, v), [R(3, 4), R(3, 4),
                                                                             P(3, 4)]),
    Fn("dropout-eval", lambda F, x: F.dropout(x, 0.4, training=False), [R(3, 4)]),
    Fn("mse_loss", lambda F, a, b: F.mse_loss(a, b), [R(3, 4), R(3, 4)]),
    Fn("l1_loss-sum", lambda F, a, b: F.l1_loss(a, b, reduction="sum"), [R(3, 4), R(3, 4)]),
    Fn("smooth_l1_loss", lambda F, a, b: F.smooth_l1_loss(a, b, beta=0.5), [R(3, 4), R(3, 4)]),
    Fn("huber_loss", lambda F, a, b: F.huber_loss(a, b, delta=0.5), [R(3, 4), R(3, 4)]),
    Fn("cross_entropy", lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.1),
       [R(4, 5), Const(Ix(5, 4))]),
    Fn("nll_loss", lambda F, x, t: F.nll_loss(x, t, reduction="none"), [R(4, 5),
                                                                       Const(Ix(5, 4))]),
    Fn("binary_cross_entropy", lambda F, x, t: F.binary_cross_entropy(x, t),
       [Const(P(3, 4) / 2.5), R(3, 4).clip(0.05, 0.95)]),
    Fn("binary_cross_entropy_with_logits", lambda F, x, t, p: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=p), [R(3, 4), P(3, 4) / 2.5, Const(P(4))]),
    Fn("kl_div", lambda F, x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
       [R(3, 4), R(3, 4)]),
]


def _tensors(lib, inputs) -> list:
    out = []
    for a in inputs:
        const = isinstance(a, Const)
        arr = np.array(a.value if const else a)
        t = torch.from_numpy(arr) if lib is torch else onyx.from_numpy(arr)
        if not const and t.is_floating_point():
            t.requires_grad_(True)
        out.append(t)
    return out


def _flat(out) -> list:
    return [t for o in out for t in _flat(o)] if isinstance(out, tuple | list) else [out]


@pytest.mark.parametrize("case", FUNCTIONS, ids=str)
def test_function_matches_torch(case: Fn):
    t_in, o_in = _tensors(torch, case.inputs), _tensors(onyx, case.inputs)
    t_out, o_out = _flat(case.call(TF, *t_in)), _flat(case.call(OF, *o_in))
    assert len(t_out) == len(o_out)
    for i, (t, o) in enumerate(zip(t_out, o_out)):
        assert tuple(o.shape) == tuple(t.shape), f"output {i}"
        assert o.dtype.name == str(t.dtype).split(".")[-1], f"output {i} dtype"
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), **OUT_TOL,
                                   err_msg=f"output {i}")
    diff = [(t, o) for t, o in zip(t_out, o_out) if t.requires_grad and t.grad_fn is not None]
    if not case.grad or not diff:
        return
    cots = [_rng("cot", i).standard_normal(tuple(t.shape)).astype(np.float32)
            for i, (t, _) in enumerate(diff)]
    sum((t * torch.from_numpy(c).to(t.dtype)).sum() for (t, _), c in zip(diff, cots)).backward()
    sum((o * onyx.from_numpy(c).to(o.dtype)).sum() for (_, o), c in zip(diff, cots)).backward()
    for i, (t, o) in enumerate(zip(t_in, o_in)):
        if t.grad is not None:
            assert o.grad is not None, f"no gradient for argument {i}"
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), **GRAD_TOL,
                                       err_msg=f"grad of argument {i}")


def test_functional_names_match_torch():
    for name in OF.__all__:
        assert hasattr(TF, name), name


# ------------------------------------------------------------------------------ dropout
def test_dropout_masks_scales_and_reseeds():
    x = onyx.ones(200, 50, requires_grad=True)
    onyx.manual_seed(3)
    y = OF.dropout(x, 0.3)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # same mask, same scale
    onyx.manual_seed(3)
    np.testing.assert_array_equal(OF.dropout(x, 0.3).detach().numpy(), y.detach().numpy())


def test_dropout_edges_and_channels():
    x = onyx.randn(4, 6, 3, 3)
    assert OF.dropout(x, 0.5, training=False) is x
    assert not OF.dropout(x, 1.0).detach().numpy().any()
    np.testing.assert_array_equal(OF.dropout(x, 0.0).numpy(), x.numpy())
    y = OF.dropout2d(x, 0.5).numpy()
    per_channel = (y != 0).reshape(4, 6, 9)
    assert (per_channel.all(-1) | ~per_channel.any(-1)).all()  # whole channels dropped
    with pytest.raises(onyx.OnyxError, match="between 0 and 1"):
        OF.dropout(x, 1.5)
    drop = onn.Dropout(0.5)
    assert drop.eval()(x) is x


def test_dropout_inplace_keeps_autograd():
    x = onyx.randn(5, 5, requires_grad=True)
    y = x * 1
    out = OF.dropout(y, 0.5, inplace=True)
    assert out is y
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)


def test_gumbel_softmax_and_rrelu_sample():
    logits = onyx.randn(6, 5, requires_grad=True)
    soft = OF.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1, rtol=1e-5)
    hard = OF.gumbel_softmax(logits, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values)) <= {0.0, 1.0} and np.all(values.sum(1) == 1)
    (hard * onyx.arange(5.0)).sum().backward()
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0
    x = -onyx.rand(50, 50) - 0.1
    slopes = OF.rrelu(x, 0.1, 0.3, training=True).numpy() / x.numpy()
    assert slopes.min() >= 0.1 and slopes.max() < 0.3 and slopes.std() > 0.03
    np.testing.assert_allclose(OF.rrelu(x).numpy(), x.numpy() * (1 / 8 + 1 / 3) / 2, rtol=1e-6)


# ------------------------------------------------------------------------------ init
def test_calculate_gain_matches_torch():
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                  ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert oinit.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError):
        oinit.calculate_gain("swish")


@pytest.mark.parametrize("name,args,check", [
    ("uniform_", (-2.0, 3.0), lambda a: a.min() >= -2 and a.max() < 3),
    ("normal_", (1.0, 0.5), lambda a: abs(a.mean() - 1) < 0.05 and abs(a.std() - 0.5) < 0.05),
    ("trunc_normal_", (0.0, 1.0, -0.5, 1.0), lambda a: a.min() >= -0.5 and a.max() <= 1.0),
    ("constant_", (0.3,), lambda a: np.allclose(a, 0.3)),
    ("ones_", (), lambda a: np.all(a == 1)),
    ("zeros_", (), lambda a: np.all(a == 0)),
    ("xavier_uniform_", (), lambda a: np.abs(a).max() <= math.sqrt(6 / (40 + 60))),
    ("xavier_normal_", (2.0,), lambda a: abs(a.std() - 2 * math.sqrt(2 / 100)) < 0.02),
    ("kaiming_uniform_", (), lambda a: np.abs(a).max() <= math.sqrt(3) * math.sqrt(2 / 1.0001)
     / math.sqrt(60)),
    ("kaiming_normal_", (0, "fan_out", "relu"),
     lambda a: abs(a.std() - math.sqrt(2 / 40)) < 0.02),
])
def test_initializers(name, args, check):
    w = onn.Parameter(onyx.empty(40, 60))
    out = getattr(oinit, name)(w, *args)
    assert out is w and w.requires_grad and w.grad_fn is None
    assert check(w.detach().numpy())


def test_structured_initializers():
    w = oinit.eye_(onyx.empty(3, 5))
    np.testing.assert_array_equal(w.numpy(), np.eye(3, 5))
    q = oinit.orthogonal_(onyx.empty(4, 6), gain=2.0).numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)
    q = oinit.orthogonal_(onyx.empty(6, 2, 2)).numpy().reshape(6, 4)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    d = oinit.dirac_(onyx.empty(2, 2, 3, 3))
    x = onyx.randn(1, 2, 5, 5)
    np.testing.assert_allclose(OF.conv2d(x, d, padding=1).numpy(), x.numpy(), atol=1e-6)
    with pytest.raises(ValueError):
        oinit.xavier_uniform_(onyx.empty(3))


def test_init_uses_default_generator_and_generator_argument():
    onyx.manual_seed(11)
    a = oinit.normal_(onyx.empty(5)).numpy().copy()
    onyx.manual_seed(11)
    np.testing.assert_array_equal(oinit.normal_(onyx.empty(5)).numpy(), a)
    g1, g2 = onyx.Generator().manual_seed(4), onyx.Generator().manual_seed(4)
    np.testing.assert_array_equal(oinit.uniform_(onyx.empty(5), generator=g1).numpy(),
                                  oinit.uniform_(onyx.empty(5), generator=g2).numpy())


def test_layer_default_init_scales_like_torch():
    """Default initializations follow torch's formulas (checked through their bounds)."""
    lin = onn.Linear(50, 30)
    bound = 1 / math.sqrt(50)
    assert np.abs(lin.weight.detach().numpy()).max() <= bound
    assert np.abs(lin.weight.detach().numpy()).max() > 0.9 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    conv = onn.Conv2d(4, 8, 3)
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / math.sqrt(36)
    emb = onn.Embedding(1000, 8, padding_idx=3)
    assert abs(emb.weight.detach().numpy().std() - 1) < 0.05
    assert not emb.weight.detach().numpy()[3].any()
    lstm = onn.LSTM(4, 16)
    assert all(np.abs(p.detach().numpy()).max() <= 0.25 for p in lstm.parameters())
    bn = onn.BatchNorm1d(3)
    assert np.all(bn.weight.detach().numpy() == 1) and np.all(bn.bias.detach().numpy() == 0)
    mha = onn.MultiheadAttention(8, 2)
    assert not mha.in_proj_bias.detach().numpy().any()
    assert np.abs(mha.in_proj_weight.detach().numpy()).max() <= math.sqrt(6 / (8 + 24))
    assert onn.PReLU().weight.item() == pytest.approx(0.25)


# ------------------------------------------------------------------------------ utils
def _grads_pair():
    arrays = [R(3, 4), R(5)]
    t = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    o = [onn.Parameter(onyx.from_numpy(a.copy())) for a in arrays]
    for i, (tp, op) in enumerate(zip(t, o)):
        g = R(*arrays[i].shape, scale=3.0)
        tp.grad, op.grad = torch.from_numpy(g.copy()), onyx.from_numpy(g.copy())
    return t, o


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    t, o = _grads_pair()
    tn = torch.nn.utils.clip_grad_norm_(t, 1.5, norm_type)
    on = outils.clip_grad_norm_(o, 1.5, norm_type)
    np.testing.assert_allclose(on.item(), tn.item(), rtol=1e-5)
    for tp, op in zip(t, o):
        np.testing.assert_allclose(op.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_nonfinite_and_small():
    _, o = _grads_pair()
    o[0].grad = onyx.tensor([[float("inf")] * 4] * 3)
    with pytest.raises(onyx.OnyxError, match="non-finite"):
        outils.clip_grad_norm_(o, 1.0, error_if_nonfinite=True)
    _, o = _grads_pair()
    before = [p.grad.numpy().copy() for p in o]
    outils.clip_grad_norm_(o, 1e6)  # already small: untouched
    for p, b in zip(o, before):
        np.testing.assert_allclose(p.grad.numpy(), b, rtol=1e-6)
    assert outils.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch():
    t, o = _grads_pair()
    torch.nn.utils.clip_grad_value_(t, 0.8)
    outils.clip_grad_value_(o, 0.8)
    for tp, op in zip(t, o):
        np.testing.assert_array_equal(op.grad.numpy(), tp.grad.numpy())


def test_parameters_vector_round_trip():
    m = onn.Sequential(onn.Linear(3, 4), onn.Linear(4, 2))
    vec = outils.parameters_to_vector(m.parameters())
    assert tuple(vec.shape) == (3 * 4 + 4 + 4 * 2 + 2,)
    ref = torch.nn.utils.parameters_to_vector(
        [torch.from_numpy(p.detach().numpy()) for p in m.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), ref.numpy())
    new = onyx.arange(vec.numel(), dtype=onyx.float32)
    outils.vector_to_parameters(new, m.parameters())
    np.testing.assert_array_equal(outils.parameters_to_vector(m.parameters()).detach().numpy(),
                                  new.numpy())
    assert all(p.requires_grad and p.is_leaf for p in m.parameters())

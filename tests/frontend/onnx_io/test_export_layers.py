"""Every layer of ``onyx.nn`` exported with ``onyx.onnx.export``: the file passes the full
onnx checker and onnxruntime gives onyx's eager outputs."""

from __future__ import annotations

import inspect

import numpy as np
import onnx
import pytest

import onyx
from onyx import nn

ort = pytest.importorskip("onnxruntime")


def r(*shape):
    return onyx.randn(*shape)


def two(shape):
    return lambda: (r(*shape), r(*shape))


def cls_target(n=4, c=3):
    return lambda: (r(n, c), onyx.randint(0, c, (n,)))


def prob_pair(*shape):
    return lambda: (onyx.sigmoid(r(*shape)), onyx.rand(*shape))


def seq(shape):
    return lambda: (r(*shape),)


IMG1, IMG2, IMG3 = seq((2, 3, 8)), seq((2, 3, 8, 8)), seq((2, 3, 4, 6, 6))
VEC = seq((4, 6))

# class name -> (factory, example inputs, tolerance)
LAYERS = {
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(4), IMG1),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((4, 2)), IMG2),
    "AdaptiveAvgPool3d": (lambda: nn.AdaptiveAvgPool3d(2), IMG3),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(4), IMG1),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d((4, 2)), IMG2),
    "AdaptiveMaxPool3d": (lambda: nn.AdaptiveMaxPool3d(2), IMG3),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.3), VEC),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), IMG1),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), IMG2),
    "AvgPool3d": (lambda: nn.AvgPool3d(2), IMG3),
    "BCELoss": (nn.BCELoss, prob_pair(4, 3)),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, two((4, 3))),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), IMG1),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), IMG2),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(3), IMG3),
    "Bilinear": (lambda: nn.Bilinear(6, 5, 4), lambda: (r(4, 6), r(4, 5))),
    "CELU": (nn.CELU, VEC),
    "CircularPad1d": (lambda: nn.CircularPad1d(2), IMG1),
    "CircularPad2d": (lambda: nn.CircularPad2d(1), IMG2),
    "CircularPad3d": (lambda: nn.CircularPad3d(1), IMG3),
    "ConstantPad1d": (lambda: nn.ConstantPad1d(2, 0.5), IMG1),
    "ConstantPad2d": (lambda: nn.ConstantPad2d((1, 2, 0, 1), 1.5), IMG2),
    "ConstantPad3d": (lambda: nn.ConstantPad3d(1, 0.0), IMG3),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3, padding=1), IMG1),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), IMG2),
    "Conv3d": (lambda: nn.Conv3d(3, 2, 3), IMG3),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(3, 4, 3, stride=2), IMG1),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1), IMG2),
    "ConvTranspose3d": (lambda: nn.ConvTranspose3d(3, 2, 2), IMG3),
    "CosineEmbeddingLoss": (nn.CosineEmbeddingLoss,
                            lambda: (r(4, 5), r(4, 5), onyx.tensor([1.0, -1.0, 1.0, -1.0]))),
    "CosineSimilarity": (nn.CosineSimilarity, two((4, 5))),
    "CrossEntropyLoss": (nn.CrossEntropyLoss, cls_target()),
    "Dropout": (nn.Dropout, VEC),
    "Dropout1d": (nn.Dropout1d, IMG1),
    "Dropout2d": (nn.Dropout2d, IMG2),
    "Dropout3d": (nn.Dropout3d, IMG3),
    "ELU": (nn.ELU, VEC),
    "Embedding": (lambda: nn.Embedding(10, 4), lambda: (onyx.tensor([[1, 2], [9, 0]]),)),
    "Flatten": (nn.Flatten, IMG2),
    "Fold": (lambda: nn.Fold((4, 5), 2), seq((2, 12, 12))),
    "GELU": (nn.GELU, VEC),
    "GLU": (nn.GLU, VEC),
    "GRU": (lambda: nn.GRU(6, 5, batch_first=True), seq((2, 3, 6))),
    "GRUCell": (lambda: nn.GRUCell(6, 5), VEC),
    "GaussianNLLLoss": (nn.GaussianNLLLoss,
                        lambda: (r(4, 3), r(4, 3), onyx.rand(4, 3) + 0.1)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), seq((2, 4, 5))),
    "Hardshrink": (nn.Hardshrink, VEC),
    "Hardsigmoid": (nn.Hardsigmoid, VEC),
    "Hardswish": (nn.Hardswish, VEC),
    "Hardtanh": (nn.Hardtanh, VEC),
    "HingeEmbeddingLoss": (nn.HingeEmbeddingLoss,
                           lambda: (r(4, 3), onyx.tensor([[1.0, -1.0, 1.0]] * 4))),
    "HuberLoss": (nn.HuberLoss, two((4, 3))),
    "Identity": (nn.Identity, VEC),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3), IMG1),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3, affine=True), IMG2),
    "InstanceNorm3d": (lambda: nn.InstanceNorm3d(3), IMG3),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean"),
                  lambda: (onyx.log_softmax(r(4, 3), 1), onyx.softmax(r(4, 3), 1))),
    "L1Loss": (nn.L1Loss, two((4, 3))),
    "LSTM": (lambda: nn.LSTM(6, 5, num_layers=2), seq((3, 2, 6))),
    "LSTMCell": (lambda: nn.LSTMCell(6, 5), VEC),
    "LayerNorm": (lambda: nn.LayerNorm(6), VEC),
    "LeakyReLU": (nn.LeakyReLU, VEC),
    "Linear": (lambda: nn.Linear(6, 3), VEC),
    "LocalResponseNorm": (lambda: nn.LocalResponseNorm(3), IMG2),
    "LogSigmoid": (nn.LogSigmoid, VEC),
    "LogSoftmax": (lambda: nn.LogSoftmax(1), VEC),
    "MSELoss": (nn.MSELoss, two((4, 3))),
    "MarginRankingLoss": (nn.MarginRankingLoss,
                          lambda: (r(4), r(4), onyx.tensor([1.0, -1.0, 1.0, 1.0]))),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), IMG1),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), IMG2),
    "MaxPool3d": (lambda: nn.MaxPool3d(2), IMG3),
    "Mish": (nn.Mish, VEC),
    "ModuleDict": (lambda: _Wrap(nn.ModuleDict({"a": nn.Linear(6, 3)})), VEC),
    "ModuleList": (lambda: _Wrap(nn.ModuleList([nn.Linear(6, 3)])), VEC),
    "MultiLabelSoftMarginLoss": (nn.MultiLabelSoftMarginLoss,
                                 lambda: (r(4, 3), onyx.randint(0, 2, (4, 3)).float())),
    "MultiMarginLoss": (nn.MultiMarginLoss, cls_target()),
    "MultiheadAttention": (lambda: _Attention(nn.MultiheadAttention(8, 2)), seq((5, 2, 8))),
    "NLLLoss": (nn.NLLLoss, cls_target()),
    "PReLU": (nn.PReLU, VEC),
    "ParameterDict": (lambda: _Params(nn.ParameterDict({"w": nn.Parameter(r(6))})), VEC),
    "ParameterList": (lambda: _Params(nn.ParameterList([nn.Parameter(r(6))])), VEC),
    "PairwiseDistance": (nn.PairwiseDistance, two((4, 5))),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), seq((1, 8, 3, 3))),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), seq((1, 2, 4, 4))),
    "PoissonNLLLoss": (nn.PoissonNLLLoss, lambda: (r(4, 3), onyx.rand(4, 3) * 3)),
    "RMSNorm": (lambda: nn.RMSNorm(6), VEC),
    "RNN": (lambda: nn.RNN(6, 5, bidirectional=True), seq((3, 2, 6))),
    "RNNCell": (lambda: nn.RNNCell(6, 5), VEC),
    "RReLU": (nn.RReLU, VEC),
    "ReLU": (nn.ReLU, VEC),
    "ReLU6": (nn.ReLU6, VEC),
    "ReflectionPad1d": (lambda: nn.ReflectionPad1d(2), IMG1),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(1), IMG2),
    "ReflectionPad3d": (lambda: nn.ReflectionPad3d(1), IMG3),
    "ReplicationPad1d": (lambda: nn.ReplicationPad1d(2), IMG1),
    "ReplicationPad2d": (lambda: nn.ReplicationPad2d(1), IMG2),
    "ReplicationPad3d": (lambda: nn.ReplicationPad3d(1), IMG3),
    "SELU": (nn.SELU, VEC),
    "Sequential": (lambda: nn.Sequential(nn.Linear(6, 4), nn.Tanh()), VEC),
    "SiLU": (nn.SiLU, VEC),
    "Sigmoid": (nn.Sigmoid, VEC),
    "SmoothL1Loss": (nn.SmoothL1Loss, two((4, 3))),
    "SoftMarginLoss": (nn.SoftMarginLoss,
                       lambda: (r(4, 3), onyx.tensor([[1.0, -1.0, 1.0]] * 4))),
    "Softmax": (lambda: nn.Softmax(-1), VEC),
    "Softmax2d": (nn.Softmax2d, IMG2),
    "Softmin": (lambda: nn.Softmin(1), VEC),
    "Softplus": (nn.Softplus, VEC),
    "Softshrink": (nn.Softshrink, VEC),
    "Softsign": (nn.Softsign, VEC),
    "Tanh": (nn.Tanh, VEC),
    "Tanhshrink": (nn.Tanhshrink, VEC),
    "Threshold": (lambda: nn.Threshold(0.1, 20.0), VEC),
    "Transformer": (lambda: nn.Transformer(8, 2, 1, 1, 16, dropout=0.0),
                    lambda: (r(5, 2, 8), r(4, 2, 8))),
    "TransformerDecoder": (lambda: nn.TransformerDecoder(
        nn.TransformerDecoderLayer(8, 2, 16), 2), lambda: (r(4, 2, 8), r(5, 2, 8))),
    "TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(8, 2, 16),
                                lambda: (r(4, 2, 8), r(5, 2, 8))),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16), 2), seq((5, 2, 8))),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                seq((2, 5, 8))),
    "TripletMarginLoss": (nn.TripletMarginLoss, lambda: (r(4, 5), r(4, 5), r(4, 5))),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 3)), VEC),
    "Unfold": (lambda: nn.Unfold(2, stride=2), IMG2),
    "Upsample": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), IMG2),
    "ZeroPad1d": (lambda: nn.ZeroPad1d(2), IMG1),
    "ZeroPad2d": (lambda: nn.ZeroPad2d(1), IMG2),
    "ZeroPad3d": (lambda: nn.ZeroPad3d(1), IMG3),
}
# abstract bases: nothing to call
NOT_LAYERS = {"Module": "the base class", "RNNBase": "abstract base of RNN/LSTM/GRU",
              "RNNCellBase": "abstract base of the cells"}


class _Wrap(nn.Module):
    """A container is exported through a module that uses it."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        layer = self.inner["a"] if isinstance(self.inner, nn.ModuleDict) else self.inner[0]
        return layer(x)


class _Params(nn.Module):
    def __init__(self, params):
        super().__init__()
        self.params = params

    def forward(self, x):
        w = self.params["w"] if isinstance(self.params, nn.ParameterDict) else self.params[0]
        return x * w


class _Attention(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        return self.mha(x, x, x)[0]


def _module_classes() -> set[str]:
    return {n for n in nn.__all__
            if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)}


def test_the_table_covers_every_layer():
    assert _module_classes() == set(LAYERS) | set(NOT_LAYERS)


def _leaves(out):
    if isinstance(out, tuple | list):
        return [t for o in out for t in _leaves(o)]
    return [out]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_and_runs_in_onnxruntime(name, tmp_path):
    onyx.manual_seed(0)
    factory, make_inputs = LAYERS[name]
    layer = factory().eval()
    inputs = make_inputs()
    path = tmp_path / f"{name}.onnx"
    onyx.onnx.export(layer, inputs, str(path))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    with onyx.no_grad():
        expected = [t.numpy() for t in _leaves(layer(*inputs))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)

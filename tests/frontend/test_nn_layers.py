"""Every onyx.nn layer against torch.nn: the same constructor call on both sides, torch's
weights copied in through ``state_dict`` + NumPy, the same inputs; outputs, input gradients
and parameter gradients must agree (and running buffers, where a layer keeps them)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import onyx
import onyx.nn as onn

OUT_TOL = dict(rtol=1e-4, atol=1e-5)
GRAD_TOL = dict(rtol=1e-3, atol=1e-4)


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def R(*shape, scale: float = 1.0) -> np.ndarray:
    """Deterministic float32 normal samples."""
    return (_rng("R", shape, scale).standard_normal(shape) * scale).astype(np.float32)


def Ix(high: int, *shape) -> np.ndarray:
    return _rng("I", high, shape).integers(0, high, shape).astype(np.int64)


def Mask(*shape, p: float = 0.3) -> np.ndarray:
    m = _rng("M", shape, p).random(shape) < p
    m[..., 0] = False  # never mask a whole row: softmax over nothing is nan in both
    return m


@dataclass
class L:
    """A layer case: ``build(nn)`` is called with ``torch.nn`` and with ``onyx.nn``."""
    name: str
    build: Callable
    inputs: list
    train: bool = True
    call: Callable | None = None        # call(module, inputs, lib) -> outputs (default m(*x))
    grad: bool = True
    repeat: int = 1                     # forward passes (running stats accumulate)
    tol: dict = field(default_factory=lambda: OUT_TOL)

    def __str__(self) -> str:
        return self.name


def _mha_call(m, x, lib, **kw):
    q, k, v, kpm = x
    return m(q, k, v, key_padding_mask=kpm, **kw)


def _mha_mask(m, x, lib):
    q, mask = x
    return m(q, q, q, attn_mask=mask, average_attn_weights=False)


def _enc_call(m, x, lib):
    src, kpm = x
    return m(src, src_key_padding_mask=kpm)


def _enc_causal(m, x, lib):
    (src,) = x
    mask = torch.triu(torch.full((5, 5), float("-inf")), 1) if lib is torch else \
        onn.Transformer.generate_square_subsequent_mask(5)
    return m(src, mask=mask)


def _dec_call(m, x, lib):
    tgt, mem = x
    return m(tgt, mem)


def _rnn_with_state(m, x, lib):
    return m(x[0], x[1])


def _lstm_with_state(m, x, lib):
    return m(x[0], (x[1], x[2]))


def _bilinear(m, x, lib):
    return m(x[0], x[1])


def _conv_t_size(m, x, lib):
    return m(x[0], output_size=[9, 10])


LAYERS: list[L] = [
    # linear family
    L("Linear", lambda nn: nn.Linear(5, 4), [R(3, 5)]),
    L("Linear-3d-nobias", lambda nn: nn.Linear(5, 4, bias=False), [R(2, 3, 5)]),
    L("Linear-1d", lambda nn: nn.Linear(5, 4), [R(5)]),
    L("Bilinear", lambda nn: nn.Bilinear(3, 4, 5), [R(6, 3), R(6, 4)], call=_bilinear),
    L("Identity", lambda nn: nn.Identity(3, x=1), [R(2, 3)]),
    L("Flatten", lambda nn: nn.Flatten(), [R(2, 3, 4, 5)]),
    L("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=-1), [R(3, 4), R(3, 4)],
      call=_bilinear),
    L("PairwiseDistance", lambda nn: nn.PairwiseDistance(p=1.5, keepdim=True),
      [R(3, 4), R(3, 4)], call=_bilinear),
    L("Flatten-range", lambda nn: nn.Flatten(0, 2), [R(2, 3, 4, 5)]),
    L("Unflatten", lambda nn: nn.Unflatten(1, (2, 6)), [R(3, 12)]),
    # convolutions
    L("Conv1d", lambda nn: nn.Conv1d(3, 4, 3), [R(2, 3, 9)]),
    L("Conv1d-strided", lambda nn: nn.Conv1d(4, 6, 4, stride=2, padding=1, dilation=2,
                                              groups=2), [R(2, 4, 13)]),
    L("Conv1d-unbatched", lambda nn: nn.Conv1d(3, 2, 3, padding="same"), [R(3, 8)]),
    L("Conv2d", lambda nn: nn.Conv2d(3, 4, 3, padding=1), [R(2, 3, 6, 7)]),
    L("Conv2d-asym", lambda nn: nn.Conv2d(2, 4, (2, 3), stride=(2, 1), padding=(1, 0),
                                           dilation=(1, 2), bias=False), [R(2, 2, 7, 8)]),
    L("Conv2d-same-even", lambda nn: nn.Conv2d(2, 3, 4, padding="same", dilation=2),
      [R(1, 2, 9, 8)]),
    L("Conv2d-valid", lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), [R(1, 2, 5, 5)]),
    L("Conv2d-depthwise", lambda nn: nn.Conv2d(4, 8, 3, groups=4), [R(2, 4, 5, 5)]),
    L("Conv2d-reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
      [R(2, 2, 5, 6)]),
    L("Conv2d-replicate", lambda nn: nn.Conv2d(2, 3, 3, padding=(2, 1),
                                                padding_mode="replicate"), [R(1, 2, 5, 6)]),
    L("Conv2d-circular", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
      [R(1, 2, 5, 6)]),
    L("Conv3d", lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1),
      [R(2, 2, 4, 5, 4)]),
    L("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1,
                                                        output_padding=1), [R(2, 3, 5)]),
    L("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                        output_padding=(1, 0), groups=2,
                                                        dilation=1), [R(2, 4, 4, 5)]),
    L("ConvTranspose2d-dilated", lambda nn: nn.ConvTranspose2d(2, 3, 2, dilation=2,
                                                                bias=False), [R(1, 2, 3, 4)]),
    L("ConvTranspose2d-output_size", lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2,
                                                                    padding=1),
      [R(1, 2, 5, 5)], call=_conv_t_size),
    # pooling
    L("MaxPool1d", lambda nn: nn.MaxPool1d(3, 2, 1), [R(2, 3, 10)]),
    L("MaxPool2d", lambda nn: nn.MaxPool2d(2), [R(2, 3, 6, 8)]),
    L("MaxPool2d-ceil", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), [R(2, 2, 8, 7)]),
    L("MaxPool2d-dilated", lambda nn: nn.MaxPool2d((2, 3), (1, 2), dilation=(2, 1)),
      [R(1, 2, 7, 9)]),
    L("MaxPool2d-indices", lambda nn: nn.MaxPool2d(2, return_indices=True), [R(2, 3, 6, 5)]),
    L("MaxPool1d-indices", lambda nn: nn.MaxPool1d(3, 2, 1, return_indices=True),
      [R(2, 3, 9)]),
    L("MaxPool2d-unbatched", lambda nn: nn.MaxPool2d(2), [R(3, 6, 6)]),
    L("AvgPool1d", lambda nn: nn.AvgPool1d(3, 2, 1), [R(2, 3, 10)]),
    L("AvgPool1d-exclude-ceil", lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True,
                                                         count_include_pad=False),
      [R(2, 3, 10)]),
    L("AvgPool2d", lambda nn: nn.AvgPool2d(2), [R(2, 3, 6, 8)]),
    L("AvgPool2d-pad", lambda nn: nn.AvgPool2d(3, 2, 1), [R(2, 2, 7, 6)]),
    L("AvgPool2d-exclude", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
      [R(2, 2, 7, 6)]),
    L("AvgPool2d-ceil", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True), [R(2, 2, 8, 6)]),
    L("AvgPool2d-divisor", lambda nn: nn.AvgPool2d(3, 2, 1, divisor_override=4),
      [R(2, 2, 7, 6)]),
    L("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(3), [R(2, 3, 10)]),
    L("AdaptiveAvgPool2d-even", lambda nn: nn.AdaptiveAvgPool2d((2, 4)), [R(2, 3, 6, 8)]),
    L("AdaptiveAvgPool2d-uneven", lambda nn: nn.AdaptiveAvgPool2d((3, 5)), [R(2, 3, 7, 9)]),
    L("AdaptiveAvgPool2d-global", lambda nn: nn.AdaptiveAvgPool2d(1), [R(2, 3, 5, 4)]),
    L("AdaptiveAvgPool2d-none", lambda nn: nn.AdaptiveAvgPool2d((None, 3)), [R(2, 3, 5, 7)]),
    L("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(4, return_indices=True),
      [R(2, 3, 10)]),
    L("AdaptiveMaxPool2d-uneven", lambda nn: nn.AdaptiveMaxPool2d((3, 4)), [R(2, 3, 7, 9)]),
    L("AdaptiveMaxPool2d-indices", lambda nn: nn.AdaptiveMaxPool2d((2, 5), True),
      [R(2, 3, 5, 7)]),
    L("AdaptiveMaxPool2d-global", lambda nn: nn.AdaptiveMaxPool2d(1), [R(2, 3, 5, 7)]),
    L("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d((2, 3, 2), True),
      [R(1, 2, 5, 4, 3)]),
    # normalization
    L("BatchNorm1d", lambda nn: nn.BatchNorm1d(4), [R(8, 4)], repeat=2),
    L("BatchNorm1d-3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), [R(4, 3, 5)], repeat=2),
    L("BatchNorm2d", lambda nn: nn.BatchNorm2d(3), [R(2, 3, 4, 5)], repeat=3),
    L("BatchNorm2d-cumulative", lambda nn: nn.BatchNorm2d(3, momentum=None), [R(2, 3, 4, 4)],
      repeat=3),
    L("BatchNorm2d-eval", lambda nn: nn.BatchNorm2d(3), [R(2, 3, 4, 5)], train=False),
    L("BatchNorm2d-noaffine", lambda nn: nn.BatchNorm2d(3, affine=False), [R(2, 3, 4, 5)]),
    L("BatchNorm2d-nostats", lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
      [R(2, 3, 4, 5)]),
    L("BatchNorm2d-nostats-eval", lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
      [R(2, 3, 4, 5)], train=False),
    L("BatchNorm3d", lambda nn: nn.BatchNorm3d(2), [R(2, 2, 3, 3, 3)]),
    L("LayerNorm", lambda nn: nn.LayerNorm(6), [R(3, 4, 6)]),
    L("LayerNorm-2d", lambda nn: nn.LayerNorm((4, 6), eps=1e-3), [R(3, 4, 6)]),
    L("LayerNorm-nobias", lambda nn: nn.LayerNorm(6, bias=False), [R(3, 6)]),
    L("LayerNorm-noaffine", lambda nn: nn.LayerNorm(6, elementwise_affine=False), [R(3, 6)]),
    L("GroupNorm", lambda nn: nn.GroupNorm(2, 6), [R(2, 6, 4, 3)]),
    L("GroupNorm-1d", lambda nn: nn.GroupNorm(3, 6, affine=False), [R(4, 6, 5)]),
    L("GroupNorm-2d-input", lambda nn: nn.GroupNorm(2, 4), [R(3, 4)]),
    L("InstanceNorm2d", lambda nn: nn.InstanceNorm2d(3, affine=True), [R(2, 3, 4, 5)]),
    L("InstanceNorm1d-stats", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True),
      [R(2, 3, 6)], repeat=2),
    L("RMSNorm", lambda nn: nn.RMSNorm(6), [R(3, 6)]),
    L("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3), [R(2, 5, 4, 4)]),
    # dropout (in training mode with p=0 and in eval mode: deterministic)
    L("Dropout-eval", lambda nn: nn.Dropout(0.5), [R(3, 4)], train=False),
    L("Dropout-p0", lambda nn: nn.Dropout(0.0), [R(3, 4)]),
    L("Dropout2d-eval", lambda nn: nn.Dropout2d(0.3), [R(2, 3, 4, 4)], train=False),
    # embedding
    L("Embedding", lambda nn: nn.Embedding(10, 4), [Ix(10, 3, 5)]),
    L("Embedding-padding", lambda nn: nn.Embedding(10, 4, padding_idx=2),
      [np.array([[2, 1, 2, 5], [0, 2, 9, 9]])]),
    L("Embedding-negative-padding", lambda nn: nn.Embedding(6, 3, padding_idx=-1),
      [np.array([5, 1, 5, 0])]),
    # activations
    L("ReLU", lambda nn: nn.ReLU(), [R(3, 4)]),
    L("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), [R(3, 4)]),
    L("ELU", lambda nn: nn.ELU(0.7), [R(3, 4)]),
    L("CELU", lambda nn: nn.CELU(1.3), [R(3, 4)]),
    L("SELU", lambda nn: nn.SELU(), [R(3, 4)]),
    L("GELU", lambda nn: nn.GELU(), [R(3, 4)]),
    L("GELU-tanh", lambda nn: nn.GELU("tanh"), [R(3, 4)]),
    L("SiLU", lambda nn: nn.SiLU(), [R(3, 4)]),
    L("Mish", lambda nn: nn.Mish(), [R(3, 4)]),
    L("Sigmoid", lambda nn: nn.Sigmoid(), [R(3, 4)]),
    L("Tanh", lambda nn: nn.Tanh(), [R(3, 4)]),
    L("Softmax", lambda nn: nn.Softmax(dim=1), [R(3, 4, 2)]),
    L("Softmax-last", lambda nn: nn.Softmax(-1), [R(3, 4)]),
    L("LogSoftmax", lambda nn: nn.LogSoftmax(dim=1), [R(3, 4, 2)]),
    L("Softmin", lambda nn: nn.Softmin(dim=0), [R(3, 4)]),
    L("Softmax2d", lambda nn: nn.Softmax2d(), [R(2, 3, 2, 2)]),
    L("Softplus", lambda nn: nn.Softplus(), [R(3, 4, scale=10)]),
    L("Softplus-beta", lambda nn: nn.Softplus(beta=2.0, threshold=5.0), [R(3, 4, scale=4)]),
    L("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.7), [R(3, 4)]),
    L("ReLU6", lambda nn: nn.ReLU6(), [R(3, 4, scale=5)]),
    L("Hardswish", lambda nn: nn.Hardswish(), [R(3, 4, scale=3)]),
    L("Hardsigmoid", lambda nn: nn.Hardsigmoid(), [R(3, 4, scale=3)]),
    L("PReLU", lambda nn: nn.PReLU(), [R(2, 3, 4)]),
    L("PReLU-channels", lambda nn: nn.PReLU(3, init=0.1), [R(2, 3, 4)]),
    L("Threshold", lambda nn: nn.Threshold(0.1, 20.0), [R(3, 4)]),
    L("Hardshrink", lambda nn: nn.Hardshrink(0.3), [R(3, 4)]),
    L("Softshrink", lambda nn: nn.Softshrink(0.3), [R(3, 4)]),
    L("Softsign", lambda nn: nn.Softsign(), [R(3, 4)]),
    L("LogSigmoid", lambda nn: nn.LogSigmoid(), [R(3, 4, scale=10)]),
    L("Tanhshrink", lambda nn: nn.Tanhshrink(), [R(3, 4)]),
    L("GLU", lambda nn: nn.GLU(), [R(3, 4)]),
    # attention and transformers (dropout 0 so training mode is deterministic)
    L("MultiheadAttention", lambda nn: nn.MultiheadAttention(8, 2),
      [R(5, 3, 8), R(6, 3, 8), R(6, 3, 8), None], call=_mha_call),
    L("MultiheadAttention-batch_first-kpm", lambda nn: nn.MultiheadAttention(
        8, 4, batch_first=True), [R(3, 5, 8), R(3, 4, 8), R(3, 4, 8), Mask(3, 4)],
      call=_mha_call),
    L("MultiheadAttention-per-head", lambda nn: nn.MultiheadAttention(6, 3),
      [R(4, 2, 6), R(4, 2, 6), R(4, 2, 6), None],
      call=lambda m, x, lib: _mha_call(m, x, lib, average_attn_weights=False)),
    L("MultiheadAttention-no-weights", lambda nn: nn.MultiheadAttention(6, 2, bias=False),
      [R(4, 2, 6), R(4, 2, 6), R(4, 2, 6), Mask(2, 4)],
      call=lambda m, x, lib: _mha_call(m, x, lib, need_weights=False)),
    L("MultiheadAttention-kdim", lambda nn: nn.MultiheadAttention(8, 2, kdim=5, vdim=3),
      [R(4, 2, 8), R(6, 2, 5), R(6, 2, 3), None], call=_mha_call),
    L("MultiheadAttention-bias_kv", lambda nn: nn.MultiheadAttention(
        6, 2, add_bias_kv=True, add_zero_attn=True), [R(4, 2, 6), R(4, 2, 6), R(4, 2, 6),
                                                      Mask(2, 4)], call=_mha_call),
    L("MultiheadAttention-attn_mask", lambda nn: nn.MultiheadAttention(6, 2),
      [R(4, 2, 6), Mask(4, 4)], call=_mha_mask),
    L("MultiheadAttention-unbatched", lambda nn: nn.MultiheadAttention(6, 2),
      [R(4, 6), R(5, 6), R(5, 6), None], call=_mha_call),
    L("TransformerEncoderLayer", lambda nn: nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0), [R(5, 3, 8), None], call=_enc_call),
    L("TransformerEncoderLayer-norm_first-gelu", lambda nn: nn.TransformerEncoderLayer(
        8, 2, 16, 0.0, activation="gelu", batch_first=True, norm_first=True),
      [R(3, 5, 8), Mask(3, 5)], call=_enc_call),
    L("TransformerEncoder", lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(
        8, 2, 16, 0.0, batch_first=True), 2, norm=nn.LayerNorm(8)),
      [R(2, 5, 8), Mask(2, 5)], call=_enc_call),
    L("TransformerEncoder-causal", lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, 0.0), 2), [R(5, 2, 8)], call=_enc_causal),
    L("TransformerDecoderLayer", lambda nn: nn.TransformerDecoderLayer(
        8, 2, 16, 0.0, batch_first=True), [R(2, 4, 8), R(2, 5, 8)], call=_dec_call),
    # recurrent
    L("RNN", lambda nn: nn.RNN(4, 5), [R(6, 3, 4)]),
    L("RNN-relu-2layer-bidir", lambda nn: nn.RNN(4, 5, 2, nonlinearity="relu",
                                                 bidirectional=True), [R(6, 3, 4)]),
    L("RNN-h0-batch_first", lambda nn: nn.RNN(4, 5, batch_first=True, bias=False),
      [R(3, 6, 4), R(1, 3, 5)], call=_rnn_with_state),
    L("LSTM", lambda nn: nn.LSTM(4, 5), [R(6, 3, 4)]),
    L("LSTM-2layer-bidir-batch_first", lambda nn: nn.LSTM(4, 5, num_layers=2,
                                                          batch_first=True,
                                                          bidirectional=True),
      [R(3, 6, 4)]),
    L("LSTM-state", lambda nn: nn.LSTM(4, 5, 2), [R(6, 3, 4), R(2, 3, 5), R(2, 3, 5)],
      call=_lstm_with_state),
    L("LSTM-proj", lambda nn: nn.LSTM(4, 5, proj_size=3, bidirectional=True), [R(6, 3, 4)]),
    L("LSTM-unbatched", lambda nn: nn.LSTM(4, 5), [R(6, 4)]),
    L("GRU", lambda nn: nn.GRU(4, 5), [R(6, 3, 4)]),
    L("GRU-2layer-bidir", lambda nn: nn.GRU(4, 5, 2, bidirectional=True, batch_first=True),
      [R(3, 6, 4)]),
    L("GRU-h0", lambda nn: nn.GRU(4, 5), [R(6, 3, 4), R(1, 3, 5)], call=_rnn_with_state),
    L("RNN-dropout-eval", lambda nn: nn.LSTM(4, 5, 3, dropout=0.5), [R(6, 3, 4)], train=False),
    L("RNNCell", lambda nn: nn.RNNCell(4, 5), [R(3, 4), R(3, 5)], call=_rnn_with_state),
    L("LSTMCell", lambda nn: nn.LSTMCell(4, 5), [R(3, 4), R(3, 5), R(3, 5)],
      call=lambda m, x, lib: m(x[0], (x[1], x[2]))),
    L("GRUCell", lambda nn: nn.GRUCell(4, 5), [R(3, 4)]),
    # resampling and padding
    L("Upsample-nearest", lambda nn: nn.Upsample(scale_factor=2), [R(2, 3, 4, 5)]),
    L("Upsample-bilinear", lambda nn: nn.Upsample(size=(7, 9), mode="bilinear"),
      [R(2, 3, 4, 5)]),
    L("Upsample-bilinear-corners", lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear",
                                                          align_corners=True),
      [R(2, 3, 4, 5)]),
    L("PixelShuffle", lambda nn: nn.PixelShuffle(2), [R(2, 8, 3, 4)]),
    L("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), [R(2, 2, 4, 6)]),
    L("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 1)), [R(2, 3, 4, 4)]),
    L("ConstantPad1d", lambda nn: nn.ConstantPad1d(2, 3.5), [R(2, 3, 4)]),
    L("ReflectionPad2d", lambda nn: nn.ReflectionPad2d(2), [R(2, 3, 4, 4)]),
    L("ReplicationPad1d", lambda nn: nn.ReplicationPad1d((1, 3)), [R(2, 3, 4)]),
    L("CircularPad2d", lambda nn: nn.CircularPad2d(1), [R(2, 3, 4, 4)]),
    L("Embedding-max_norm", lambda nn: nn.Embedding(6, 4, max_norm=1.0),
      [np.array([[0, 2, 2], [5, 1, 0]])]),
    L("MaxPool3d", lambda nn: nn.MaxPool3d(2, 1, 1), [R(1, 2, 3, 4, 3)]),
    L("AvgPool3d", lambda nn: nn.AvgPool3d((2, 2, 3), count_include_pad=False, padding=1),
      [R(1, 2, 3, 4, 3)]),
    L("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d((2, 3, 1)), [R(1, 2, 5, 4, 3)]),
    L("ConvTranspose3d", lambda nn: nn.ConvTranspose3d(2, 3, 2, stride=2), [R(1, 2, 2, 3, 2)]),
    L("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(2), [R(2, 2, 3, 3, 2)]),
    L("Dropout1d-eval", lambda nn: nn.Dropout1d(0.3), [R(2, 3, 4)], train=False),
    L("Dropout3d-eval", lambda nn: nn.Dropout3d(0.3), [R(2, 3, 2, 2, 2)], train=False),
    L("AlphaDropout-eval", lambda nn: nn.AlphaDropout(0.3), [R(2, 3)], train=False),
    L("TransformerDecoder", lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(
        8, 2, 16, 0.0, norm_first=True), 2, nn.LayerNorm(8)), [R(4, 2, 8), R(5, 2, 8)],
      call=_dec_call),
    L("Transformer", lambda nn: nn.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True),
      [R(2, 5, 8), R(2, 4, 8)], call=_dec_call),
    L("ZeroPad1d", lambda nn: nn.ZeroPad1d((2, 0)), [R(2, 3, 4)]),
    L("ZeroPad3d", lambda nn: nn.ZeroPad3d(1), [R(1, 2, 2, 2, 2)]),
    L("ConstantPad2d", lambda nn: nn.ConstantPad2d((1, 0, 2, 1), -1.0), [R(2, 3, 4)]),
    L("ConstantPad3d", lambda nn: nn.ConstantPad3d(1, 0.5), [R(1, 2, 2, 2, 2)]),
    L("ReflectionPad1d", lambda nn: nn.ReflectionPad1d(2), [R(2, 3, 4)]),
    L("ReflectionPad3d", lambda nn: nn.ReflectionPad3d(1), [R(1, 2, 3, 3, 3)]),
    L("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((0, 1, 2, 0)), [R(2, 3, 4, 4)]),
    L("ReplicationPad3d", lambda nn: nn.ReplicationPad3d(1), [R(1, 2, 2, 3, 2)]),
    L("CircularPad1d", lambda nn: nn.CircularPad1d(1), [R(2, 3, 4)]),
    L("CircularPad3d", lambda nn: nn.CircularPad3d(1), [R(1, 2, 2, 3, 2)]),
    L("Unfold", lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
      [R(2, 3, 5, 6)]),
    L("Unfold-unbatched", lambda nn: nn.Unfold(2), [R(3, 4, 4)]),
    L("Fold", lambda nn: nn.Fold((4, 5), 2, padding=(1, 0), stride=(1, 2)), [R(2, 12, 10)]),
    L("RReLU-eval", lambda nn: nn.RReLU(0.1, 0.3), [R(3, 4)], train=False),
    # containers
    L("Sequential-inplace-relu", lambda nn: nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(inplace=True), nn.Conv2d(3, 2, 1),
        nn.Hardtanh(-0.5, 0.5, inplace=True), nn.Conv2d(2, 2, 1),
        nn.LeakyReLU(0.1, inplace=True)),
      [R(2, 2, 6, 6)]),
    L("Sequential", lambda nn: nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                             nn.MaxPool2d(2), nn.Flatten(),
                                             nn.Linear(64, 3)), [R(2, 2, 10, 10)]),
]


# ------------------------------------------------------------------------------- harness
def _to_torch(a):
    if a is None:
        return None
    t = torch.from_numpy(np.array(a))
    return t.requires_grad_(True) if t.is_floating_point() else t


def _to_onyx(a):
    if a is None:
        return None
    t = onyx.from_numpy(np.array(a))
    return t.requires_grad_(True) if t.is_floating_point() else t


def _flat(out) -> list:
    if out is None:
        return []
    if isinstance(out, tuple | list):
        return [t for o in out for t in _flat(o)]
    return [out]


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _copy_state(src: torch.nn.Module, dst: onn.Module) -> None:
    state = {k: onyx.from_numpy(v.detach().numpy().copy()) for k, v in src.state_dict().items()}
    assert list(state) == list(dst.state_dict()), "state_dict keys differ from torch's"
    dst.load_state_dict(state)


def _run(case: L, lib, module, arrays):
    to = _to_torch if lib is torch else _to_onyx
    inputs = [to(a) for a in arrays]
    out = None
    for _ in range(case.repeat):
        out = case.call(module, inputs, lib) if case.call else module(*inputs)
    return inputs, _flat(out)


def _cotangents(outs) -> list:
    return [_rng("cot", i, tuple(o.shape)).standard_normal(tuple(o.shape)).astype(np.float32)
            for i, o in enumerate(outs)]


# float64 runs check the formulas themselves: differences there are not rounding noise
F64_OUT_TOL = dict(rtol=1e-7, atol=1e-9)
F64_GRAD_TOL = dict(rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", LAYERS, ids=str)
def test_layer_matches_torch(case: L, dtype: str):
    torch.manual_seed(0)
    t_mod, o_mod = case.build(torch.nn), case.build(onn)
    _copy_state(t_mod, o_mod)
    arrays = case.inputs
    out_tol, grad_tol = case.tol, GRAD_TOL
    if dtype == "float64":
        t_mod.double(), o_mod.double()
        arrays = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == np.float32
                  else a for a in arrays]
        out_tol, grad_tol = F64_OUT_TOL, F64_GRAD_TOL
    t_mod.train(case.train)
    o_mod.train(case.train)
    t_in, t_out = _run(case, torch, t_mod, arrays)
    o_in, o_out = _run(case, onyx, o_mod, arrays)
    _compare_outputs(t_mod, o_mod, t_out, o_out, out_tol)
    if case.grad:
        _compare_gradients(t_mod, o_mod, t_in, o_in, t_out, o_out, grad_tol)


def _compare_outputs(t_mod, o_mod, t_out, o_out, tol) -> None:
    assert len(t_out) == len(o_out)
    for i, (t, o) in enumerate(zip(t_out, o_out)):
        assert tuple(t.shape) == tuple(o.shape), f"output {i} shape"
        assert str(t.dtype).split(".")[-1] == o.dtype.name, f"output {i} dtype"
        np.testing.assert_allclose(_np(o), _np(t), **tol, err_msg=f"output {i}")
    for (name, tb), (_, ob) in zip(t_mod.named_buffers(), o_mod.named_buffers()):
        np.testing.assert_allclose(_np(ob), _np(tb), **tol, err_msg=f"buffer {name}")


def _compare_gradients(t_mod, o_mod, t_in, o_in, t_out, o_out, tol) -> None:
    pairs = [(t, o) for t, o in zip(t_out, o_out) if t.is_floating_point() and t.requires_grad]
    if not pairs:
        return
    cots = _cotangents([t for t, _ in pairs])
    sum(((t * torch.from_numpy(c).to(t.dtype)).sum()
         for (t, _), c in zip(pairs, cots))).backward()
    sum(((o * onyx.from_numpy(c).to(o.dtype)).sum()
         for (_, o), c in zip(pairs, cots))).backward()
    for i, (t, o) in enumerate(zip(t_in, o_in)):
        if t is not None and t.requires_grad:
            assert (o.grad is None) == (t.grad is None), f"input {i} grad presence"
            if t.grad is not None:
                np.testing.assert_allclose(_np(o.grad), _np(t.grad), **tol,
                                           err_msg=f"grad of input {i}")
    o_params = dict(o_mod.named_parameters())
    for name, tp in t_mod.named_parameters():
        op = o_params[name]
        if tp.grad is None:
            assert op.grad is None or not np.any(_np(op.grad)), f"grad of {name}"
            continue
        assert op.grad is not None, f"no grad for parameter {name}"
        np.testing.assert_allclose(_np(op.grad), _np(tp.grad), **tol,
                                   err_msg=f"grad of {name}")


def test_every_layer_has_a_case():
    """Each public layer class is built by at least one case above."""
    covered = {type(m).__name__ for case in LAYERS for m in case.build(onn).modules()}
    layers = {n for n in onn.__all__ if isinstance(getattr(onn, n), type) and
              issubclass(getattr(onn, n), onn.Module) and not n.endswith("Loss")}
    skipped = {"Module", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
               "RNNBase", "RNNCellBase"}
    assert layers - covered - skipped == set()

"""Shape rules for signal and text processing: DFT, STFT, the string ops, TfIdfVectorizer
and ImageDecoder.
"""

from __future__ import annotations

from onyx.ir.dtypes import DType
from onyx.ir.shapes.dims import known, normalize_axis
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import broadcast_inputs


@shape_rule("DFT")
def _dft(ctx: InferenceContext):
    x, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if x is None:
        return tensor(dtype, None)
    onesided, inverse = bool(ctx.attr("onesided", 0)), bool(ctx.attr("inverse", 0))
    irfft = onesided and inverse  # complex half spectrum in, full real signal out
    out = list(x[:-1]) + [1 if irfft else 2]
    if ctx.opset >= 20:
        axis = ctx.input_scalar(2) if ctx.has_input(2) else -2
    else:
        axis = ctx.attr("axis", 1)
    if axis is None:
        if onesided or ctx.has_input(1):
            out[:-1] = [None] * (len(out) - 1)
        return tensor(dtype, tuple(out))
    # The axis counts the trailing real/imaginary dim as part of the rank.
    axis = normalize_axis(int(axis), len(x))
    if ctx.has_input(1):
        n = ctx.input_scalar(1)
        n = None if n is None else int(n)
    else:
        n = x[axis] if not irfft else 2 * (x[axis] - 1) if known(x[axis]) else None
    if onesided and not inverse:
        n = n // 2 + 1 if known(n) else None
    out[axis] = n
    return tensor(dtype, tuple(out))


@shape_rule("STFT")
def _stft(ctx: InferenceContext):
    x, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    step = ctx.input_scalar(1)
    length = ctx.input_scalar(3) if ctx.has_input(3) else None
    window = ctx.input_shape(2)
    if length is None and window is not None and len(window) == 1:
        length = window[0]
    batch = x[0] if x is not None and x else None
    frames = bins = None
    if known(length):
        length = int(length)
        bins = length // 2 + 1 if ctx.attr("onesided", 1) else length
        if x is not None and len(x) >= 2 and known(x[1]) and step:
            frames = (x[1] - length) // int(step) + 1
    return tensor(dtype, (batch, frames, bins, 2))


@shape_rule("StringNormalizer")
def _string_normalizer(ctx: InferenceContext):
    x = ctx.input_shape(0)
    if x is None:
        return tensor(DType.STRING, None)
    # Stopwords drop an unknown number of strings.
    last = x[-1] if not ctx.attr("stopwords") and x else None
    return tensor(DType.STRING, tuple(x[:-1]) + (last,))


@shape_rule("StringConcat")
def _string_concat(ctx: InferenceContext):
    return tensor(DType.STRING, broadcast_inputs(ctx, (0, 1)))


@shape_rule("StringSplit")
def _string_split(ctx: InferenceContext):
    x = ctx.input_shape(0)
    return [tensor(DType.STRING, None if x is None else tuple(x) + (None,)),
            tensor(DType.INT64, x)]


@shape_rule("RegexFullMatch")
def _regex_full_match(ctx: InferenceContext):
    return tensor(DType.BOOL, ctx.input_shape(0))


@shape_rule("TfIdfVectorizer")
def _tfidf(ctx: InferenceContext):
    x = ctx.input_shape(0)
    indexes = ctx.attr("ngram_indexes") or []
    size = max(indexes) + 1 if indexes else None
    if x is None:
        return tensor(DType.FLOAT, None)
    return tensor(DType.FLOAT, (size,) if len(x) <= 1 else (x[0], size))


@shape_rule("ImageDecoder")
def _image_decoder(ctx: InferenceContext):
    fmt = ctx.attr("pixel_format", "RGB")
    channels = 1 if fmt in ("Grayscale", b"Grayscale") else 3
    return tensor(DType.UINT8, (None, None, channels))

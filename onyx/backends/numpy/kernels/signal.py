"""Signal-processing kernels: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow,
MelWeightMatrix.

ONNX has no complex dtype: a complex tensor is a real tensor whose last dimension is 2 (real,
imaginary); a real signal has a last dimension of 1. Transforms run through ``np.fft``, in
double precision for float64 input and in single precision otherwise (float16 and bfloat16 are
widened), then go back to the input dtype.

Window and filter-bank sizes come from input *values*, so they are checked with
``check_elements`` before anything is allocated.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import bits_of, int_scalar
from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements


# ------------------------------------------------------------------ complex <-> ONNX layout
def _to_complex(x: np.ndarray, what: str) -> tuple[np.ndarray, bool]:
    """``x[..., 0] + 1j * x[..., 1]`` (or the real part alone); also whether ``x`` was real."""
    if x.ndim < 1 or x.shape[-1] not in (1, 2):
        raise ShapeError(f"{what} must end in a dimension of 1 (real) or 2 (complex), got "
                         f"shape {list(x.shape)}")
    work = np.float64 if x.dtype == np.float64 else np.float32
    parts = x.astype(work, copy=False)
    if x.shape[-1] == 1:
        return parts[..., 0], True
    return parts[..., 0] + 1j * parts[..., 1], False


def _from_complex(y: np.ndarray, dtype) -> np.ndarray:
    return np.stack([y.real, y.imag], axis=-1).astype(dtype)


def _fft_length(dft_length, default: int) -> int:
    n = default if dft_length is None else int_scalar(dft_length, "dft_length")
    if n < 1:
        what = "dft_length" if dft_length is not None else "the signal length along axis"
        raise ShapeError(f"{what} must give a transform length of at least 1, got {n}")
    return n


# ------------------------------------------------------------------ DFT
def _dft(x: np.ndarray, dft_length, axis: int, inverse: int, onesided: int) -> np.ndarray:
    x = np.asarray(x)
    rank = x.ndim
    if rank < 2:
        raise ShapeError(f"input must have rank >= 2 (signal dims + complex dim), got shape "
                         f"{list(x.shape)}")
    if not (-rank <= axis <= -2 or 0 <= axis <= rank - 2):
        raise ShapeError(f"axis {axis} is out of range for input shape {list(x.shape)} "
                         f"(valid: {-rank}..-2 or 0..{rank - 2}; the last dim holds the "
                         f"complex parts)")
    axis = axis + rank if axis < 0 else axis
    signal, real = _to_complex(x, "input")
    dim = x.shape[axis]
    if onesided and not inverse and not real:
        raise ShapeError(f"a one-sided forward DFT needs real input (last dim 1), got shape "
                         f"{list(x.shape)}")
    if onesided and inverse:
        if real:
            raise ShapeError(f"a one-sided inverse DFT needs complex input (last dim 2), got "
                             f"shape {list(x.shape)}")
        n = _fft_length(dft_length, 2 * (dim - 1))
        out_shape = list(x.shape[:-1]) + [1]
        out_shape[axis] = n
        check_elements(out_shape, bits_of(x.dtype), "DFT output")
        return np.fft.irfft(signal, n=n, axis=axis)[..., None].astype(x.dtype)
    n = _fft_length(dft_length, dim)
    out_shape = list(x.shape[:-1]) + [2]
    out_shape[axis] = n // 2 + 1 if onesided else n
    check_elements(out_shape, bits_of(x.dtype), "DFT output")
    if inverse:
        y = np.fft.ifft(signal, n=n, axis=axis)
    elif onesided:
        y = np.fft.rfft(signal, n=n, axis=axis)
    else:
        y = np.fft.fft(signal, n=n, axis=axis)
    return _from_complex(y, x.dtype)


@kernel("DFT", since=17, until=19)
def dft_v17(input, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return _dft(input, dft_length, int(axis), inverse, onesided)


@kernel("DFT", since=20)
def dft(input, dft_length=None, axis=None, *, inverse=0, onesided=0):
    ax = -2 if axis is None else int_scalar(axis, "axis")
    return _dft(input, dft_length, ax, inverse, onesided)


# ------------------------------------------------------------------ STFT
def _stft_frame_length(signal_length: int, window, frame_length) -> int:
    if frame_length is not None:
        n = int_scalar(frame_length, "frame_length")
        if window is not None and np.shape(window) != (n,):
            raise ShapeError(f"window shape {list(np.shape(window))} does not match "
                             f"frame_length {n}")
    elif window is not None:
        if np.ndim(window) != 1:
            raise ShapeError(f"window must be 1-D, got shape {list(np.shape(window))}")
        n = np.shape(window)[0]
    else:
        n = signal_length
    if not 1 <= n <= signal_length:
        raise ShapeError(f"frame length {n} must be in 1..{signal_length} (the signal length)")
    return n


@kernel("STFT", since=17)
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    signal = np.asarray(signal)
    if signal.ndim != 3:
        raise ShapeError(f"signal must be [batch, length, 1 or 2], got shape "
                         f"{list(signal.shape)}")
    x, _ = _to_complex(signal, "signal")
    step = int_scalar(frame_step, "frame_step")
    if step < 1:
        raise ShapeError(f"frame_step must be at least 1, got {step}")
    n = _stft_frame_length(signal.shape[1], window, frame_length)
    frames = (signal.shape[1] - n) // step + 1
    bins = n // 2 + 1 if onesided else n
    check_elements([signal.shape[0], frames, bins, 2], bits_of(signal.dtype), "STFT output")
    # [batch, frames, n]: a strided view, no copy before the window multiply
    framed = np.lib.stride_tricks.sliding_window_view(x, n, axis=1)[:, ::step]
    if window is not None:
        framed = framed * np.asarray(window).astype(framed.real.dtype)
    # A complex signal has no conjugate symmetry; a one-sided result keeps the first bins
    # of its full spectrum (as onnxruntime does).
    y = np.fft.fft(framed, axis=-1)[..., :bins]
    return _from_complex(y, signal.dtype)


# ------------------------------------------------------------------ windows
# the T2 / T3 type lists of the windows and MelWeightMatrix
_OUTPUT_TYPES = (DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64, DType.INT8, DType.INT16,
                 DType.INT32, DType.INT64, DType.FLOAT16, DType.FLOAT, DType.DOUBLE,
                 DType.BFLOAT16)


def _output_dtype(output_datatype: int) -> np.dtype:
    if int(output_datatype) not in {int(t) for t in _OUTPUT_TYPES}:
        raise ShapeError(f"output_datatype {output_datatype} is not one of "
                         f"{', '.join(t.name for t in _OUTPUT_TYPES)}")
    return DType(int(output_datatype)).numpy


def _cosine_window(size, periodic: int, output_datatype: int, coeffs: tuple) -> np.ndarray:
    """``sum_k (-1)^k a_k cos(2 pi k n / N)`` with N = size (periodic) or size - 1."""
    n = int_scalar(size, "size")
    dtype = _output_dtype(output_datatype)
    check_elements([n], bits_of(dtype), "window")
    if n == 1 and not periodic:
        # N = 0: the symmetric window of one sample is its peak, 1 (the formula gives 0/0)
        return np.ones(1, dtype=dtype)
    denom = n if periodic else n - 1
    phase = 2.0 * np.pi * np.arange(n, dtype=np.float64) / max(denom, 1)
    w = np.zeros(n, dtype=np.float64)
    for k, a in enumerate(coeffs):
        w += (-1) ** k * a * np.cos(k * phase)
    return w.astype(dtype)


@kernel("HannWindow", since=17)
def hann_window(size, *, periodic=1, output_datatype=1):
    return _cosine_window(size, periodic, output_datatype, (0.5, 0.5))


@kernel("HammingWindow", since=17)
def hamming_window(size, *, periodic=1, output_datatype=1):
    return _cosine_window(size, periodic, output_datatype, (25.0 / 46.0, 21.0 / 46.0))


@kernel("BlackmanWindow", since=17)
def blackman_window(size, *, periodic=1, output_datatype=1):
    return _cosine_window(size, periodic, output_datatype, (0.42, 0.5, 0.08))


# ------------------------------------------------------------------ MelWeightMatrix
def _mel_bin_edges(num_mel_bins: int, dft_length: int, sample_rate: int, low: float,
                   high: float) -> np.ndarray:
    """Spectrogram bin index of each triangle's left edge, centre and right edge.

    The mel range is cut into ``num_mel_bins + 2`` equal steps, as the ONNX reference and
    onnxruntime do, and each point maps back to ``floor((dft_length + 1) * hz / sample_rate)``.
    """
    to_mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)  # noqa: E731
    mel_low, mel_high = to_mel(low), to_mel(high)
    points = np.arange(num_mel_bins + 2, dtype=np.float64)
    mel = mel_low + points * (mel_high - mel_low) / (num_mel_bins + 2)
    hz = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    return np.floor((dft_length + 1) * hz / sample_rate).astype(np.int64)


@kernel("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
                      upper_edge_hertz, *, output_datatype=1):
    mels = int_scalar(num_mel_bins, "num_mel_bins")
    n_fft = int_scalar(dft_length, "dft_length")
    rate = int_scalar(sample_rate, "sample_rate")
    low = float(np.asarray(lower_edge_hertz, dtype=np.float64).reshape(-1)[0])
    high = float(np.asarray(upper_edge_hertz, dtype=np.float64).reshape(-1)[0])
    if mels < 1 or n_fft < 1 or rate < 1:
        raise ShapeError(f"num_mel_bins ({mels}), dft_length ({n_fft}) and sample_rate "
                         f"({rate}) must be positive")
    if not 0.0 <= low <= high <= rate / 2:
        raise ShapeError(f"need 0 <= lower_edge_hertz ({low}) <= upper_edge_hertz ({high}) "
                         f"<= sample_rate / 2 ({rate / 2})")
    dtype = _output_dtype(output_datatype)
    bins = n_fft // 2 + 1
    check_elements([bins, mels], max(bits_of(dtype), 64), "MelWeightMatrix output")
    edges = _mel_bin_edges(mels, n_fft, rate, low, high)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    j = np.arange(bins)[:, None]
    rise = (j - left) / np.maximum(centre - left, 1)
    fall = (right - j) / np.maximum(right - centre, 1)
    w = np.where((j >= left) & (j <= centre), rise, 0.0)
    # the falling edge owns the centre when it exists; an empty rise still peaks at 1
    w = np.where((j >= centre) & (j < right), fall, w)
    w = np.where((j == centre) & (centre == left), 1.0, w)
    return w.astype(dtype)

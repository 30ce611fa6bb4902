"""Signal kernels (DFT, STFT, the windows, MelWeightMatrix) against onnxruntime.

Each table row is one single-node model; it runs through ``onyx.backend`` and through
onnxruntime (``onnx.reference`` or NumPy where a row says so) and the outputs must match in
dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming the op.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onyx.backend
from onyx.ir.errors import OnyxError
from onyx.testing import run_oracle

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def scalar(v, dtype=np.int64):
    return np.array(v, dtype=dtype)


def make_model(op, inputs, attrs, opset):
    names = ["" if x is None else f"x{i}" for i, x in enumerate(inputs)]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op, names, ["y"], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype),
                                                  x.shape)
                    for n, x in zip(names, inputs) if n]
    graph = helper.make_graph([node], op.lower(), graph_inputs,
                              [helper.make_value_info("y", onnx.TypeProto())])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_onyx(model, inputs):
    return onyx.backend.prepare(model).run([x for x in inputs if x is not None])


def assert_same(ours, ref, tol=None):
    ref = np.asarray(ref)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if tol is None:
        tol = 2e-2 if ref.dtype.itemsize == 2 else 1e-4
    scale = max(1.0, float(np.nanmax(np.abs(ref.astype(np.float64)), initial=0.0)))
    np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=tol,
                               atol=tol * scale, equal_nan=True)


def case(name, op, inputs, opset=20, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, oracle, id=name)


def complex_input(*shape, dtype=np.float32):
    return rand(*shape, 2, dtype=dtype)


CASES = [
    # DFT, opset 20: axis is an input (default -2)
    case("dft_real_default_axis", "DFT", [rand(2, 8, 1)]),
    case("dft_complex_axis1", "DFT", [complex_input(3, 6, 4), None, scalar(1)]),
    case("dft_complex_axis_neg3", "DFT", [complex_input(3, 6, 4), None, scalar(-3)]),
    case("dft_axis0", "DFT", [complex_input(5, 3), None, scalar(0)]),
    case("dft_pad_length", "DFT", [rand(2, 5, 1), scalar(9), scalar(1)]),
    case("dft_cut_length", "DFT", [complex_input(2, 9), scalar(4, np.int32), scalar(1)]),
    case("dft_inverse", "DFT", [complex_input(2, 7), None, scalar(1)], inverse=1),
    case("dft_rfft_even", "DFT", [rand(2, 8, 1), None, scalar(1)], onesided=1),
    case("dft_rfft_odd_len", "DFT", [rand(2, 8, 3, 1), scalar(7), scalar(1)], onesided=1),
    case("dft_irfft_default_len", "DFT", [complex_input(2, 5), None, scalar(1)], onesided=1,
         inverse=1),
    case("dft_irfft_len", "DFT", [complex_input(2, 5), scalar(9), scalar(1)], onesided=1,
         inverse=1),
    case("dft_f64", "DFT", [complex_input(4, 6, dtype=np.float64), None, scalar(1)]),
    case("dft_f16", "DFT", [rand(2, 6, 1, dtype=np.float16)]),
    case("dft_empty_batch", "DFT", [rand(0, 6, 1), None, scalar(1)]),
    # DFT, opset 17-19: axis is an attribute (default 1)
    case("dft17_default_axis", "DFT", [complex_input(2, 6, 3)], opset=17),
    case("dft17_axis2", "DFT", [complex_input(2, 6, 3)], opset=19, axis=2),
    case("dft17_axis_neg2", "DFT", [rand(2, 6, 3, 1)], opset=18, axis=-2),
    case("dft17_rfft_len", "DFT", [rand(2, 6, 1), scalar(10)], opset=17, onesided=1),
    case("dft17_inverse", "DFT", [complex_input(1, 6, 3)], opset=17, inverse=1, axis=2),
    # STFT
    case("stft_frame_length", "STFT", [rand(2, 64, 1), scalar(8), None, scalar(16)], opset=17),
    case("stft_window", "STFT", [rand(1, 50, 1), scalar(5), np.hanning(12).astype(np.float32)],
         opset=17),
    case("stft_window_and_length", "STFT",
         [rand(2, 40, 1, dtype=np.float64), scalar(4, np.int32), np.ones(10), scalar(10, np.int32)],
         opset=17, onesided=0),
    case("stft_two_sided", "STFT", [rand(1, 33, 1), scalar(3), None, scalar(9)], opset=17,
         onesided=0),
    case("stft_complex_signal", "STFT", [complex_input(2, 30), scalar(6), None, scalar(8)],
         opset=17, onesided=0),
    case("stft_complex_onesided", "STFT", [complex_input(1, 30), scalar(6), None, scalar(8)],
         opset=17),
    # windows
    *[case(f"{op.lower()}_{n}_{'periodic' if p else 'symmetric'}", op, [scalar(n)], opset=17,
           periodic=p)
      for op in ("HannWindow", "HammingWindow", "BlackmanWindow")
      for n in (0, 2, 7, 16) for p in (0, 1)],
    case("hann_int32_size_double", "HannWindow", [scalar(9, np.int32)], opset=17,
         output_datatype=TensorProto.DOUBLE),
    case("hamming_to_float16", "HammingWindow", [scalar(9)], opset=17,
         output_datatype=TensorProto.FLOAT16),
    case("blackman_to_int64", "BlackmanWindow", [scalar(9)], opset=17,
         output_datatype=TensorProto.INT64),
    # MelWeightMatrix
    case("mel_8_16", "MelWeightMatrix", [scalar(8, np.int32), scalar(16, np.int32),
                                         scalar(8192, np.int32), scalar(0.0, np.float32),
                                         scalar(4096.0, np.float32)], opset=17),
    case("mel_20_512", "MelWeightMatrix", [scalar(20), scalar(512), scalar(16000),
                                           scalar(100.0, np.float32), scalar(7000.0, np.float32)],
         opset=17),
    case("mel_odd_double", "MelWeightMatrix",
         [scalar(5), scalar(63), scalar(8000), scalar(20.0, np.float64),
          scalar(3500.0, np.float64)], opset=17, oracle="ref",
         output_datatype=TensorProto.DOUBLE),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle", CASES)
def test_against_oracle(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    (ours,) = run_onyx(model, inputs)
    (ref,) = run_oracle(model, inputs, oracle)
    assert_same(ours, ref)


def test_symmetric_window_of_one_sample_is_one():
    # N - 1 = 0 makes the formula 0/0 (onnxruntime returns NaN); the window's peak is 1
    model = make_model("HannWindow", [scalar(1)], {"periodic": 0}, 17)
    np.testing.assert_array_equal(run_onyx(model, [scalar(1)])[0], [1.0])


def test_stft_defaults_frame_length_to_signal_length():
    x = rand(2, 12, 1)
    model = make_model("STFT", [x, scalar(4)], {}, 17)
    (ours,) = run_onyx(model, [x, scalar(4)])
    full = np.fft.rfft(x[..., 0], axis=-1)[:, None]
    np.testing.assert_allclose(ours, np.stack([full.real, full.imag], -1), rtol=1e-5, atol=1e-5)


BAD = [
    case("dft_axis_on_complex_dim", "DFT", [rand(2, 4, 1), None, scalar(2)]),
    case("dft_rank1", "DFT", [rand(4)]),
    case("dft_last_dim_3", "DFT", [rand(2, 4, 3)]),
    case("dft_zero_length", "DFT", [rand(2, 4, 1), scalar(0), scalar(1)]),
    case("dft_rfft_complex", "DFT", [complex_input(2, 4), None, scalar(1)], onesided=1),
    case("dft_irfft_real", "DFT", [rand(2, 4, 1), None, scalar(1)], onesided=1, inverse=1),
    case("dft_huge_length", "DFT", [rand(2, 4, 1), scalar(2**40), scalar(1)]),
    case("stft_window_mismatch", "STFT", [rand(1, 20, 1), scalar(2), np.ones(5, np.float32),
                                          scalar(6)], opset=17),
    case("stft_frame_too_long", "STFT", [rand(1, 20, 1), scalar(2), None, scalar(40)],
         opset=17),
    case("stft_zero_step", "STFT", [rand(1, 20, 1), scalar(0), None, scalar(4)], opset=17),
    case("stft_rank2", "STFT", [rand(20, 1), scalar(2), None, scalar(4)], opset=17),
    case("window_negative", "HannWindow", [scalar(-3)], opset=17),
    case("window_huge", "HammingWindow", [scalar(2**62)], opset=17),
    case("window_bad_dtype", "BlackmanWindow", [scalar(4)], opset=17, output_datatype=8),
    case("mel_upper_above_nyquist", "MelWeightMatrix",
         [scalar(8), scalar(16), scalar(8000), scalar(0.0), scalar(6000.0)], opset=17),
    case("mel_huge", "MelWeightMatrix",
         [scalar(2**31), scalar(2**31), scalar(8000), scalar(0.0), scalar(4000.0)], opset=17),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    with pytest.raises(OnyxError, match=op):
        run_onyx(model, inputs)

"""onyx.save / onyx.load: round trips, shared storage, atomic writes and hostile files."""

import collections
import io
import json
import math
import os

import numpy as np
import pytest
import torch

import onyx
from onyx.frontend import dtypes
from onyx.frontend import serialization as S


def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    S.save(obj, buf)
    buf.seek(0)
    return S.load(buf, **load_kwargs)


def _sample(dt, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dt is dtypes.bool_:
        return np.asarray(rng.random(shape) > 0.5)
    if dt.is_complex:
        return np.asarray(rng.standard_normal(shape) + 1j * rng.standard_normal(shape), dt.np)
    if dt.is_floating_point:
        a = np.asarray(rng.standard_normal(shape) * 100, dt.np)
        flat = a.reshape(-1)
        for i, special in enumerate([np.nan, np.inf, -np.inf, -0.0]):
            if i < flat.size:
                flat[i] = special
        return a
    info = np.iinfo(dt.np)
    return np.asarray(rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt.np))


def _node_file(header: dict, data: bytes = b"") -> bytes:
    """An onyx file with an arbitrary header, framed like the writer frames it."""
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 64)
    return len(text).to_bytes(8, "little") + text + data


def _header(**changes) -> dict:
    header = {"format": "onyx", "version": 1, "data_size": 8,
              "tensors": [{"dtype": "float32", "shape": [2], "data_offsets": [0, 8]}],
              "object": {"tensor": 0}}
    header.update(changes)
    return header


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 4), (2, 0, 3)], ids=str)
@pytest.mark.parametrize("dt", dtypes.ALL, ids=lambda d: d.name)
def test_every_dtype_round_trips_bit_exactly(dt, shape, tmp_path):
    a = _sample(dt, shape)
    path = tmp_path / "t.onyx"
    onyx_t = onyx.from_numpy(a)
    S.save(onyx_t, path)
    for loaded in (S.load(path), _roundtrip(onyx_t), S.load(str(path), mmap=True)):
        assert loaded.dtype is dt
        assert loaded.shape == shape
        assert loaded._data.tobytes() == a.tobytes()


def test_non_contiguous_tensor_is_stored_in_logical_order():
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = _roundtrip([onyx.from_numpy(base.T), onyx.from_numpy(base[:, ::2])])
    np.testing.assert_array_equal(out[0]._data, base.T)
    np.testing.assert_array_equal(out[1]._data, base[:, ::2])


def test_nested_structures_round_trip_with_their_types():
    obj = {
        "none": None, "true": True, "false": False, "int": -7, "big": 2**100, "float": 1.5,
        "tiny": 5e-324, "neg_zero": -0.0, "inf": math.inf, "ninf": -math.inf, "str": "wé ✓",
        "empty": [[], (), {}, collections.OrderedDict()],
        "tuple": (1, (2, [3, {"k": (4,)}])),
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "keys": {0: "int", 1.5: "float", None: "none", (1, "x"): "tuple", True: "bool"},
    }
    out = _roundtrip(obj)
    assert out == obj
    assert math.isnan(_roundtrip(math.nan))
    assert math.copysign(1.0, out["neg_zero"]) == -1.0
    assert type(out["ordered"]) is collections.OrderedDict and type(out["empty"][3]) is \
        collections.OrderedDict
    assert type(out["tuple"]) is tuple and type(out["tuple"][1][1]) is list
    assert list(out["ordered"]) == ["b", "a"]


def _shape_of(x):
    """A comparable description of a loaded object: container types, keys, leaf values."""
    if isinstance(x, torch.Tensor | onyx.Tensor):
        arr = x.detach().numpy() if isinstance(x, torch.Tensor) else x._data
        return ("tensor", str(x.dtype).split(".")[-1], arr.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, [(k, _shape_of(v)) for k, v in x.items()])
    if isinstance(x, list | tuple):
        return (type(x).__name__, [_shape_of(v) for v in x])
    return x


def test_loaded_structure_matches_torch():
    def build(lib):
        w = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        return collections.OrderedDict([
            ("weight", w), ("bias", lib.tensor([0.5, -0.5])),
            ("meta", {"ids": lib.tensor([1, 2, 3]), "mask": lib.tensor([True, False]),
                      "shape": (2, 2), "names": ["a", "b"], "lr": 0.1, "none": None})])
    buf = io.BytesIO()
    torch.save(build(torch), buf)
    buf.seek(0)
    expected = torch.load(buf, weights_only=True)
    assert _shape_of(_roundtrip(build(onyx))) == _shape_of(expected)


def test_state_dict_with_shared_tensors_is_stored_once_and_shares_on_load():
    w = onyx.tensor(np.arange(1024, dtype=np.float32).reshape(32, 32))
    state = collections.OrderedDict([
        ("encoder.weight", w),
        ("decoder.weight", w),                                    # tied: the same tensor
        ("decoder.view", onyx.Tensor._wrap(w._data.reshape(-1))),  # another view of its bytes
        ("bias", onyx.zeros(32)),
    ])
    buf = io.BytesIO()
    S.save(state, buf)
    assert len(buf.getvalue()) < 2 * w._data.nbytes  # the weight's bytes appear once
    buf.seek(0)
    out = S.load(buf)
    assert list(out) == list(state)
    assert out["encoder.weight"] is out["decoder.weight"]
    assert np.shares_memory(out["encoder.weight"]._data, out["decoder.view"]._data)
    out["decoder.view"]._data[0] = -1.0
    assert out["encoder.weight"]._data[0, 0] == -1.0
    np.testing.assert_array_equal(out["bias"]._data, np.zeros(32, np.float32))


def test_optimizer_like_state_round_trips():
    rng = np.random.default_rng(0)
    state = {
        "state": {i: {"step": onyx.tensor(float(i + 3)),
                      "exp_avg": onyx.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)),
                      "exp_avg_sq": onyx.from_numpy(rng.random((4, 3)).astype(np.float32))}
                  for i in range(2)},
        "param_groups": [{"params": [0, 1], "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                          "weight_decay": 0, "amsgrad": False, "maximize": False,
                          "foreach": None, "capturable": False}],
    }
    out = _roundtrip(state)
    assert out["param_groups"] == state["param_groups"]
    assert sorted(out["state"]) == [0, 1]
    for i in range(2):
        for k, v in state["state"][i].items():
            assert out["state"][i][k].dtype is v.dtype
            np.testing.assert_array_equal(out["state"][i][k]._data, v._data)


def test_requires_grad_is_kept():
    out = _roundtrip([onyx.ones(2, requires_grad=True), onyx.ones(2)])
    assert out[0].requires_grad and out[0].is_leaf and not out[1].requires_grad


# --------------------------------------------------------------------------- files and streams
def test_file_like_objects_and_streams_of_several_objects():
    buf = io.BytesIO()
    S.save({"a": onyx.ones(3)}, buf)
    S.save([1, 2], buf)
    buf.seek(0)
    assert S.load(buf)["a"].tolist() == [1.0, 1.0, 1.0]
    assert S.load(buf) == [1, 2]

    class ReadOnly:  # no seek: load reads it whole
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def read(self, n=-1):
            return self._buf.read(n)

    buf = io.BytesIO()
    S.save((onyx.tensor([1, 2]), "x"), buf)
    out = S.load(ReadOnly(buf.getvalue()))
    assert out[0].tolist() == [1, 2] and out[1] == "x"


def test_map_location_forms():
    t = onyx.tensor([1.0, 2.0])
    for loc in ("cpu", onyx.device("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"}):
        assert _roundtrip(t, map_location=loc).tolist() == [1.0, 2.0]
    seen = []
    out = _roundtrip([t, t * 2], map_location=lambda x, loc: seen.append(loc) or x * 10)
    assert [o.tolist() for o in out] == [[10.0, 20.0], [20.0, 40.0]] and seen == ["cpu", "cpu"]
    assert _roundtrip(t, map_location=lambda x, loc: None).tolist() == [1.0, 2.0]
    with pytest.raises(onyx.OnyxError, match="CPU"):
        _roundtrip(t, map_location="cuda:0")


def test_save_refuses_what_the_format_cannot_hold():
    with pytest.raises(TypeError, match=r"set .*\['x'\]"):
        _roundtrip({"x": {1, 2}})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        _roundtrip(loop)


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.onyx"
    S.save({"w": onyx.ones(1000)}, path)
    before = path.read_bytes()
    os.chmod(path, 0o640)

    def half_then_fail(f, arr):
        f.write(b"\x00" * 100)
        raise OSError("disk full")
    monkeypatch.setattr(S, "_write_blob", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        S.save({"w": onyx.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.onyx"]
    monkeypatch.undo()
    S.save({"w": onyx.zeros(3)}, path)  # a good save replaces it and keeps its permissions
    assert S.load(path)["w"].tolist() == [0.0, 0.0, 0.0]
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["ckpt.onyx"]


def test_save_writes_through_a_symlink(tmp_path):
    target, link = tmp_path / "real.onyx", tmp_path / "link.onyx"
    S.save(1, target)
    link.symlink_to(target)
    S.save(2, link)
    assert link.is_symlink() and S.load(target) == 2


# --------------------------------------------------------------------------- hostile files
def _valid_file() -> bytes:
    buf = io.BytesIO()
    S.save({"w": onyx.tensor([[1.0, 2.0]]), "m": onyx.tensor([True, False]), "n": 3}, buf)
    return buf.getvalue()


def test_every_truncation_raises(tmp_path):
    data = _valid_file()
    path = tmp_path / "cut.onyx"
    for n in range(len(data)):
        path.write_bytes(data[:n])
        with pytest.raises(onyx.ModelError):
            S.load(path)
        with pytest.raises(onyx.ModelError):
            S.load(io.BytesIO(data[:n]))


def test_trailing_bytes_in_a_file_raise(tmp_path):
    path = tmp_path / "long.onyx"
    path.write_bytes(_valid_file() + b"\x00")
    with pytest.raises(onyx.ModelError, match="extra bytes"):
        S.load(path)


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_raise(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
    if seed % 2:  # a plausible header length followed by garbage
        data = (len(data) // 2).to_bytes(8, "little") + data
    with pytest.raises(onyx.OnyxError):
        S.load(io.BytesIO(data))


@pytest.mark.parametrize("n", [S.MAX_HEADER_BYTES + 1, 2**40, 2**64 - 1])
def test_oversized_header_raises_before_reading(n):
    with pytest.raises(onyx.LimitError, match="limit"):
        S.load(io.BytesIO(n.to_bytes(8, "little") + b"{}"))


def test_header_limit_applies_to_save_and_load(monkeypatch):
    data = _valid_file()
    monkeypatch.setattr(S, "MAX_HEADER_BYTES", 64)
    with pytest.raises(onyx.LimitError):
        S.load(io.BytesIO(data))
    with pytest.raises(onyx.LimitError):
        _roundtrip({"w": onyx.ones(2)})


BAD_HEADERS = {
    "not_json": b"{not json",
    "not_utf8": b'{"format": "\xff"}',
    "nan_literal": b'{"format": "onyx", "version": NaN}',
    "duplicate_key": b'{"format": "onyx", "format": "onyx"}',
    "list": [1, 2],
    "wrong_format": _header(format="safetensors"),
    "newer_version": _header(version=2),
    "bool_version": _header(version=True),
    "extra_key": _header(extra=1),
    "missing_object": {k: v for k, v in _header().items() if k != "object"},
    "negative_data_size": _header(data_size=-8),
    "data_size_past_end": _header(data_size=9),
    "unknown_dtype": _header(tensors=[{"dtype": "float128", "shape": [2],
                                       "data_offsets": [0, 8]}]),
    "negative_dim": _header(tensors=[{"dtype": "float32", "shape": [-2],
                                      "data_offsets": [0, 8]}]),
    "float_dim": _header(tensors=[{"dtype": "float32", "shape": [2.0],
                                   "data_offsets": [0, 8]}]),
    "bool_dim": _header(tensors=[{"dtype": "uint8", "shape": [True] * 8,
                                  "data_offsets": [0, 1]}]),
    "rank_too_high": _header(tensors=[{"dtype": "uint8", "shape": [1] * 65,
                                       "data_offsets": [0, 1]}]),
    "huge_shape": _header(tensors=[{"dtype": "float32", "shape": [2**62, 2**62],
                                    "data_offsets": [0, 8]}]),
    "size_mismatch": _header(tensors=[{"dtype": "float64", "shape": [2],
                                       "data_offsets": [0, 8]}]),
    "offsets_reversed": _header(tensors=[{"dtype": "float32", "shape": [0],
                                          "data_offsets": [8, 0]}]),
    "offsets_past_data": _header(tensors=[{"dtype": "float32", "shape": [2],
                                           "data_offsets": [4, 12]}]),
    "negative_offset": _header(tensors=[{"dtype": "float32", "shape": [2],
                                         "data_offsets": [-8, 0]}]),
    "overlap": _header(tensors=[{"dtype": "float32", "shape": [2], "data_offsets": [0, 8]},
                                {"dtype": "float32", "shape": [1], "data_offsets": [4, 8]}]),
    "int_requires_grad": _header(tensors=[{"dtype": "int32", "shape": [2],
                                           "data_offsets": [0, 8], "requires_grad": True}]),
    "entry_extra_key": _header(tensors=[{"dtype": "float32", "shape": [2],
                                         "data_offsets": [0, 8], "code": "rm -rf"}]),
    "tensor_index_out_of_range": _header(object={"tensor": 1}),
    "tensor_index_bool": _header(object={"tensor": True}),
    "unknown_node": _header(object={"pickle": "cos\nsystem"}),
    "two_key_node": _header(object={"list": [], "tuple": []}),
    "bad_float_node": _header(object={"float": "1e999"}),
    "bad_pair": _header(object={"dict": [[1, 2, 3]]}),
    "unhashable_key": _header(object={"dict": [[{"list": []}, 1]]}),
    "json_too_deep": b'{"format": "onyx", "object": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "too_deep": _header(object=json.loads('{"list": [' * 101 + "]}" * 101)),
}


@pytest.mark.parametrize("name", BAD_HEADERS)
def test_malformed_headers_raise_model_error(name):
    header = BAD_HEADERS[name]
    if isinstance(header, bytes):
        text = header + b" " * (-(8 + len(header)) % 64)
        data = len(text).to_bytes(8, "little") + text
    else:
        data = _node_file(header, b"\x00" * 8)
    with pytest.raises(onyx.ModelError):
        S.load(io.BytesIO(data))


def test_bool_bytes_must_be_zero_or_one():
    header = _header(data_size=2, tensors=[{"dtype": "bool", "shape": [2],
                                            "data_offsets": [0, 2]}])
    assert S.load(io.BytesIO(_node_file(header, b"\x01\x00"))).tolist() == [True, False]
    with pytest.raises(onyx.ModelError, match="bool"):
        S.load(io.BytesIO(_node_file(header, b"\x01\x02")))


def test_flipped_bytes_load_or_raise_onyx_error():
    data = bytearray(_valid_file())
    rng = np.random.default_rng(0)
    for _ in range(300):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), size=int(rng.integers(1, 4))):
            bad[pos] = int(rng.integers(0, 256))
        try:
            S.load(io.BytesIO(bytes(bad)))
        except onyx.OnyxError:
            pass

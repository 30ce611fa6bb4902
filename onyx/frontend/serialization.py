"""``onyx.save`` / ``onyx.load``: tensors and nested containers in a file with no code in it.

The format (``docs/serialization.md``) is an 8-byte little-endian header length, a JSON header
that describes the object tree and every tensor's dtype, shape and byte range, then the raw
tensor bytes. Loading checks every length and offset against the file size and against
dtype x shape before it reads or allocates anything; a malformed file raises ``ModelError``
(an ``onyx.OnyxError``). Saving to a path is atomic: a temporary file in the same folder is
written, synced and renamed over the target, so a failed save leaves the old file as it was.

    >>> import collections, io, onyx
    >>> buf = io.BytesIO()
    >>> onyx.frontend.serialization.save({"w": onyx.ones(2), "step": 3}, buf)
    >>> _ = buf.seek(0)
    >>> onyx.frontend.serialization.load(buf)
    {'w': tensor([1., 1.]), 'step': 3}
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import math
import os
import secrets
import stat
import sys
from collections.abc import Callable

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.device import device as _device
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import LimitError, ModelError, OnyxError

FORMAT = "onyx"
VERSION = 1
MAX_HEADER_BYTES = 100 * 2**20
ALIGNMENT = 64  # data section start and every tensor's offset
MAX_DEPTH = 100  # containers inside containers: keeps both JSON and decoding off the C stack
MAX_RANK = 64
_LENGTH_BYTES = 8
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_CONTAINERS = ("list", "tuple", "dict", "ordered_dict")


# ============================================================================= saving
class _Encoder:
    """Walks the object tree into JSON nodes and collects the tensors' bytes."""

    def __init__(self) -> None:
        self.entries: list[dict] = []          # the header's "tensors" table
        self.blobs: list[tuple[int, np.ndarray]] = []  # (offset, contiguous array) to write
        self.size = 0                          # bytes of data so far
        self._index: dict[int, int] = {}       # id(tensor) -> entry index
        self._ranges: dict[tuple[int, int], tuple[int, int]] = {}  # (address, nbytes) -> range
        self._alive: list = []                 # keeps ids unique while encoding
        self._open: set[int] = set()           # containers being encoded: catches cycles

    def node(self, obj, where: str, depth: int = 0):
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, Tensor):
            return {"tensor": self.tensor(obj)}
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, int | np.integer):
            return int(obj)
        if isinstance(obj, float | np.floating):
            value = float(obj)
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(obj, list | tuple | dict):
            return self.container(obj, where, depth)
        raise TypeError(f"onyx.save cannot store a {type(obj).__name__} (at {where}); it stores "
                        f"tensors, dicts, lists, tuples, ints, floats, bools, strings and None")

    def container(self, obj, where: str, depth: int):
        if depth >= MAX_DEPTH:
            raise ValueError(f"onyx.save: containers nested deeper than {MAX_DEPTH} (at {where})")
        if id(obj) in self._open:
            raise ValueError(f"onyx.save: the object contains itself (at {where})")
        self._open.add(id(obj))
        try:
            if isinstance(obj, dict):
                kind = "ordered_dict" if isinstance(obj, collections.OrderedDict) else "dict"
                items = [[self.node(k, f"{where} key {k!r}", depth + 1),
                          self.node(v, f"{where}[{k!r}]", depth + 1)] for k, v in obj.items()]
                return {kind: items}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.node(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
        finally:
            self._open.discard(id(obj))

    def tensor(self, t: Tensor) -> int:
        if id(t) in self._index:
            return self._index[id(t)]
        arr = t._data
        dt = dtypes.from_numpy(arr.dtype)
        self.entries.append({"dtype": dt.name, "shape": list(arr.shape),
                             "data_offsets": list(self._store(arr)),
                             "requires_grad": bool(t.requires_grad)})
        self._alive.append(t)
        self._index[id(t)] = len(self.entries) - 1
        return len(self.entries) - 1

    def _store(self, arr: np.ndarray) -> tuple[int, int]:
        # a C-contiguous array is found by its memory: views of the same bytes (the same
        # tensor, a reshape, a dtype view) are written once and share memory again on load
        key = None
        if arr.flags.c_contiguous and arr.nbytes:
            key = (arr.__array_interface__["data"][0], arr.nbytes)
            if key in self._ranges:
                return self._ranges[key]
        begin = _align(self.size)
        self.blobs.append((begin, np.ascontiguousarray(arr)))
        self.size = begin + arr.nbytes
        if key is not None:
            self._ranges[key] = (begin, self.size)
        return begin, self.size


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def _encode(obj) -> tuple[bytes, list[tuple[int, np.ndarray]]]:
    """(header bytes, padded to alignment, and the arrays to write with their offsets)."""
    enc = _Encoder()
    tree = enc.node(obj, "the saved object")
    header = {"format": FORMAT, "version": VERSION, "data_size": enc.size,
              "tensors": enc.entries, "object": tree}
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode("ascii")
    # spaces after the JSON put the data section on an aligned offset
    text += b" " * (_align(_LENGTH_BYTES + len(text)) - _LENGTH_BYTES - len(text))
    if len(text) > MAX_HEADER_BYTES:
        raise LimitError(f"onyx.save: the header would be {len(text)} bytes, over the "
                         f"{MAX_HEADER_BYTES}-byte limit; store fewer, larger tensors")
    return text, enc.blobs


def _write_blob(f, arr: np.ndarray) -> None:
    if arr.size == 0:
        return
    if sys.byteorder == "big":  # the file is little-endian
        arr = arr.byteswap()
    f.write(memoryview(arr.reshape(-1).view(np.uint8)))


def _write_stream(f, header: bytes, blobs: list[tuple[int, np.ndarray]]) -> None:
    f.write(len(header).to_bytes(_LENGTH_BYTES, "little"))
    f.write(header)
    pos = 0
    for begin, arr in blobs:
        if begin > pos:
            f.write(bytes(begin - pos))
        _write_blob(f, arr)
        pos = begin + arr.nbytes


def _replace_atomically(path: str, write: Callable) -> None:
    """``write(f)`` into a fresh file beside ``path``, sync it, then rename it over ``path``."""
    path = os.path.realpath(path)  # through a symlink to the file it names
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):  # keep an existing file's permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save(obj, f, pickle_module=None, pickle_protocol=None) -> None:
    """Write ``obj`` (tensors, state dicts, optimizer states, nested dict/list/tuple of them,
    ints, floats, bools, strings, None) to a path or a binary file-like object.

    ``pickle_module`` and ``pickle_protocol`` are accepted for torch compatibility and unused:
    the file holds no pickle.

        >>> import onyx, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.onyx")
        >>> onyx.frontend.serialization.save({"w": onyx.zeros(2)}, path)
    """
    header, blobs = _encode(obj)
    if isinstance(f, str | os.PathLike):
        _replace_atomically(os.fspath(f), lambda out: _write_stream(out, header, blobs))
    elif callable(getattr(f, "write", None)):
        _write_stream(f, header, blobs)
    else:
        raise TypeError(f"onyx.save expects a path or a binary file-like object, got "
                        f"{type(f).__name__}")


# ============================================================================= loading
class _Source:
    """The bytes of one saved object: a region ``[base, base + size)`` of a seekable file."""

    def __init__(self, f, name: str, exact: bool) -> None:
        self.f, self.name, self.exact = f, name, exact
        self.base = f.tell()
        self.size = f.seek(0, io.SEEK_END) - self.base
        f.seek(self.base)

    def fail(self, what: str) -> ModelError:
        return ModelError(f"onyx.load({self.name}): {what}")

    def read_into(self, offset: int, buf: np.ndarray) -> None:
        self.f.seek(self.base + offset)
        view, filled = memoryview(buf.view(np.uint8)), 0
        while filled < buf.nbytes:
            got = self.f.readinto(view[filled:])
            if not got:
                raise self.fail(f"the file ends inside the data at byte {offset + filled}")
            filled += got


def _read_header(src: _Source) -> tuple[dict, int]:
    """(the parsed header, offset of the data section)."""
    if src.size < _LENGTH_BYTES:
        raise src.fail(f"{src.size} bytes is too short for an onyx file")
    raw = np.empty(_LENGTH_BYTES, np.uint8)
    src.read_into(0, raw)
    n = int.from_bytes(raw.tobytes(), "little")
    if n > MAX_HEADER_BYTES:
        raise LimitError(f"onyx.load({src.name}): the header claims {n} bytes, over the "
                         f"{MAX_HEADER_BYTES}-byte limit (not an onyx file, or corrupted)")
    if _LENGTH_BYTES + n > src.size:
        raise src.fail(f"the header claims {n} bytes but only {src.size - _LENGTH_BYTES} follow "
                       f"(truncated or not an onyx file)")
    text = np.empty(n, np.uint8)
    src.read_into(_LENGTH_BYTES, text)
    try:
        header = json.loads(text.tobytes().decode("utf-8"), object_pairs_hook=_unique_keys,
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise src.fail(f"the header is not valid JSON ({e}); not an onyx file, or "
                       f"corrupted") from None
    return header, _LENGTH_BYTES + n


def _unique_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _check_header(src: _Source, header, data_start: int) -> int:
    """Validate the header's frame; returns the data section's size."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise src.fail("the header is not an onyx header (no \"format\": \"onyx\")")
    version = header.get("version")
    if type(version) is not int or version < 1:
        raise src.fail(f"invalid format version {_preview(version)}")
    if version > VERSION:
        raise src.fail(f"format version {version} is newer than this onyx reads ({VERSION})")
    keys = {"format", "version", "data_size", "tensors", "object"}
    if set(header) != keys:
        raise src.fail(f"the header must have exactly the keys {sorted(keys)}; missing "
                       f"{sorted(keys - set(header))}, unexpected {sorted(set(header) - keys)}")
    if not isinstance(header["tensors"], list):
        raise src.fail("the header's tensors must be a list")
    data_size = header.get("data_size")
    if type(data_size) is not int or data_size < 0:
        raise src.fail(f"invalid data_size {_preview(data_size)}")
    available = src.size - data_start
    if data_size > available or (src.exact and data_size != available):
        raise src.fail(f"the header declares {data_size} bytes of data but the file holds "
                       f"{available} (truncated, or extra bytes at the end)")
    return data_size


def _check_entry(src: _Source, i: int, entry, data_size: int):
    """(dtype, shape, begin, end, requires_grad) of tensor ``i``, every field validated."""
    if not isinstance(entry, dict) or set(entry) - {"dtype", "shape", "data_offsets",
                                                    "requires_grad"}:
        raise src.fail(f"tensor {i}: malformed entry {_preview(entry)}")
    name = entry.get("dtype")
    dt = next((d for d in dtypes.ALL if d.name == name), None)
    if dt is None:
        raise src.fail(f"tensor {i}: unknown dtype {_preview(name)}")
    shape = entry.get("shape")
    if (not isinstance(shape, list) or len(shape) > MAX_RANK
            or any(type(d) is not int or d < 0 for d in shape)):
        raise src.fail(f"tensor {i}: invalid shape {_preview(shape)}")
    offsets = entry.get("data_offsets")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or any(type(o) is not int for o in offsets)):
        raise src.fail(f"tensor {i}: invalid data_offsets {_preview(offsets)}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise src.fail(f"tensor {i}: data_offsets [{begin}, {end}) fall outside the "
                       f"{data_size}-byte data section")
    nbytes = math.prod(shape) * dt.itemsize  # exact integers: no overflow to fool the check
    if end - begin != nbytes:
        raise src.fail(f"tensor {i}: {dt.name} of shape {_preview(shape)} needs {nbytes} bytes "
                       f"but data_offsets [{begin}, {end}) span {end - begin}")
    grad = entry.get("requires_grad", False)
    if type(grad) is not bool or (grad and not (dt.is_floating_point or dt.is_complex)):
        raise src.fail(f"tensor {i}: invalid requires_grad {_preview(grad)} for {dt.name}")
    return dt, tuple(shape), begin, end, grad


def _check_ranges(src: _Source, entries: list) -> None:
    """Byte ranges are either the same (shared storage) or disjoint."""
    ranges = sorted({(b, e) for _, _, b, e, _ in entries if e > b})
    for (b0, e0), (b1, e1) in zip(ranges, ranges[1:]):
        if b1 < e0:
            raise src.fail(f"tensor byte ranges [{b0}, {e0}) and [{b1}, {e1}) overlap")


def _read_tensors(src: _Source, entries: list, data_start: int, mapped) -> list[Tensor]:
    """One tensor per entry; entries with the same byte range share one buffer."""
    storages: dict[tuple[int, int], np.ndarray] = {}
    tensors = []
    for dt, shape, begin, end, grad in entries:
        buf = storages.get((begin, end))
        if buf is None:
            if mapped is not None:
                buf = mapped[data_start + begin:data_start + end]
            else:
                buf = np.empty(end - begin, np.uint8)
                src.read_into(data_start + begin, buf)
            if dt is dtypes.bool_ and buf.size and buf.max() > 1:
                raise src.fail(f"bool tensor bytes must be 0 or 1, found {int(buf.max())}")
            storages[begin, end] = buf
        arr = buf.view(dt.np).reshape(shape)
        if sys.byteorder == "big":  # the file is little-endian
            arr = arr.byteswap()
        tensors.append(Tensor._wrap(arr, grad))
    return tensors


def _decode(src: _Source, node, tensors: list, depth: int = 0):
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise src.fail(f"malformed object node {_preview(node)}")
    ((kind, value),) = node.items()
    if kind == "tensor":
        if type(value) is not int or not 0 <= value < len(tensors):
            raise src.fail(f"tensor reference {_preview(value)} is not in the tensor table")
        return tensors[value]
    if kind == "float":
        if not isinstance(value, str) or value not in _NONFINITE:
            raise src.fail(f"invalid float node {_preview(node)}")
        return _NONFINITE[value]
    if kind not in _CONTAINERS or not isinstance(value, list):
        raise src.fail(f"malformed object node {_preview(node)}")
    if depth >= MAX_DEPTH:
        raise src.fail(f"containers nested deeper than {MAX_DEPTH}")
    if kind in ("list", "tuple"):
        items = [_decode(src, v, tensors, depth + 1) for v in value]
        return items if kind == "list" else tuple(items)
    out = collections.OrderedDict() if kind == "ordered_dict" else {}
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise src.fail(f"a dict item must be a [key, value] pair, got {_preview(pair)}")
        key = _decode(src, pair[0], tensors, depth + 1)
        try:
            hash(key)
        except TypeError:
            raise src.fail(f"dict key {_preview(pair[0])} is not hashable") from None
        out[key] = _decode(src, pair[1], tensors, depth + 1)
    return out


def _preview(node) -> str:
    text = json.dumps(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _mapper(map_location) -> Callable | None:
    """What ``map_location`` does to each loaded tensor (``None``: nothing)."""
    if map_location is None:
        return None
    if callable(map_location) and not isinstance(map_location, str | _device):
        def apply(t: Tensor) -> Tensor:
            moved = map_location(t, "cpu")
            if moved is not None and not isinstance(moved, Tensor):
                raise TypeError(f"map_location returned a {type(moved).__name__}, not a tensor")
            return t if moved is None else moved
        return apply
    target = map_location.get("cpu", "cpu") if isinstance(map_location, dict) else map_location
    if _device(target).type != "cpu":
        raise OnyxError(f"map_location={map_location!r}: onyx tensors load onto the CPU, the "
                        f"only device there is")
    return None


def _load_from(src: _Source, mapper: Callable | None, mapped):
    header, data_start = _read_header(src)
    data_size = _check_header(src, header, data_start)
    entries = [_check_entry(src, i, e, data_size) for i, e in enumerate(header["tensors"])]
    _check_ranges(src, entries)
    tensors = _read_tensors(src, entries, data_start, mapped)
    if mapper is not None:
        tensors = [mapper(t) for t in tensors]
    try:
        obj = _decode(src, header["object"], tensors)
    except RecursionError:
        raise src.fail("the object tree is nested too deeply") from None
    src.f.seek(src.base + data_start + data_size)  # a stream is left just past this object
    return obj


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True,
         mmap: bool | None = None):
    """Read an object written by ``save`` from a path or a binary file-like object.

    ``map_location`` may be ``"cpu"``, a device, a dict of saved location -> location, or a
    callable ``fn(tensor, "cpu") -> tensor | None``; only the CPU exists, so any other target
    device raises. ``weights_only`` and ``pickle_module`` are accepted for torch compatibility:
    the file never holds code, so loading is always weights-only. ``mmap=True`` (paths only)
    maps the file copy-on-write instead of reading it.

        >>> import io, onyx
        >>> buf = io.BytesIO()
        >>> onyx.frontend.serialization.save([onyx.ones(1), None], buf)
        >>> _ = buf.seek(0)
        >>> onyx.frontend.serialization.load(buf, map_location="cpu")
        [tensor([1.]), None]
    """
    mapper = _mapper(map_location)
    if isinstance(f, str | os.PathLike):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            src = _Source(fh, repr(path), exact=True)
            mapped = None
            if mmap and src.size:
                mapped = np.memmap(path, dtype=np.uint8, mode="c").view(np.ndarray)
            return _load_from(src, mapper, mapped)
    if mmap:
        raise ValueError("f must be a file path in order to use the mmap argument")
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"onyx.load expects a path or a binary file-like object, got "
                        f"{type(f).__name__}")
    seekable = getattr(f, "seekable", None)
    if not (callable(seekable) and seekable()):
        f = io.BytesIO(f.read())
    return _load_from(_Source(f, "<stream>", exact=False), mapper, None)

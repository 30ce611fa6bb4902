"""The NumPy kernel registry, keyed by (domain, op_type) with opset-version ranges.

    @kernel("Softmax", since=13)
    def softmax(x, *, axis=-1): ...

A kernel takes the node's inputs positionally (``None`` for a missing optional input) and its
attributes as keyword arguments with ONNX's names; defaults are the spec's defaults. A kernel
whose first parameter is named ``ctx`` also gets a ``KernelContext`` (opset, number of outputs,
the node). It returns one value, or a ``tuple`` when the op has several outputs. Tensors are
NumPy arrays, sequences are Python lists, an empty optional is ``None``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_DOMAINS = ("", "ai.onnx")


def normalize_domain(domain: str) -> str:
    return "" if domain in DEFAULT_DOMAINS else domain


@dataclass(frozen=True)
class KernelEntry:
    fn: Callable
    op_type: str
    domain: str
    since: int
    until: int | None  # last opset version this kernel serves (inclusive), None = open
    wants_ctx: bool


@dataclass
class KernelContext:
    """What a kernel may need beyond its inputs and attributes."""
    opset: int
    num_outputs: int
    node: object = None
    outputs_wanted: tuple[bool, ...] = ()
    run: object = None     # executor hook for ops that call back (functions, subgraphs)
    extra: dict = field(default_factory=dict)


_KERNELS: dict[tuple[str, str], list[KernelEntry]] = {}


def kernel(op_type: str, *, domain: str = "", since: int = 1, until: int | None = None):
    """Register a kernel for ``op_type`` in opsets ``since..until`` (inclusive)."""
    def register(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters)
        entry = KernelEntry(fn, op_type, normalize_domain(domain), since, until,
                            bool(params) and params[0] == "ctx")
        entries = _KERNELS.setdefault((entry.domain, op_type), [])
        for e in entries:
            if not (until is not None and until < e.since or e.until is not None
                    and e.until < since):
                raise ValueError(f"kernel {domain}::{op_type} opsets {since}..{until} overlaps "
                                 f"{e.fn.__qualname__} ({e.since}..{e.until})")
        entries.append(entry)
        entries.sort(key=lambda e: e.since)
        return fn
    return register


def lookup(op_type: str, domain: str, opset: int) -> KernelEntry | None:
    """The kernel serving ``op_type`` at ``opset``, or ``None``."""
    _load_all()
    for e in _KERNELS.get((normalize_domain(domain), op_type), ()):
        if e.since <= opset and (e.until is None or opset <= e.until):
            return e
    return None


def registered() -> dict[tuple[str, str], list[KernelEntry]]:
    _load_all()
    return dict(_KERNELS)


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from onyx.backends.numpy import kernels  # noqa: F401  (registers everything)

"""The records code generation hands to the runtime: a rendered kernel and a node's plan.

A kernel's name is derived from the hash of its own source (rendered with a placeholder name),
launch configuration, target arch and compiler version, so equal computations get equal names
whatever the model called its values, and the name doubles as the disk-cache key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PLACEHOLDER = "ONYX_KERNEL_NAME"


@dataclass(frozen=True)
class Kernel:
    """One ``extern "C" __global__`` function in a complete CUDA C translation unit.

    ``args`` lists the pointer parameters in order: ``"in<i>"`` (node input i), ``"out<j>"``,
    ``"scratch<k>"`` (a buffer of the node plan's ``scratch_bytes[k]``).
    """

    name: str
    source: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    args: tuple[str, ...]
    key: str
    op: str
    signature: str


@dataclass(frozen=True)
class NodePlan:
    """How the runtime executes one node: kernels in order, shared scratch, output aliases.

    ``aliases`` holds ``(output j, input i)`` pairs: output j is input i's bytes read with the
    output's shape (Reshape, Squeeze, ...), no kernel needed.
    """

    kernels: tuple[Kernel, ...]
    scratch_bytes: tuple[int, ...] = ()
    aliases: tuple[tuple[int, int], ...] = ()


def make_kernel(source: str, *, grid, block, args, op: str, signature: str, arch: str,
                shared_bytes: int = 0) -> Kernel:
    """Name and key a rendered kernel whose source spells its name as ``PLACEHOLDER``."""
    from onyx.backends.cuda.cache import nvcc_version

    grid, block = _dim3(grid), _dim3(block)
    if block[0] * block[1] * block[2] > 1024:
        raise ValueError(f"{op}: block {block} exceeds 1024 threads")
    h = hashlib.sha256()
    for part in (source, repr(grid), repr(block), str(shared_bytes), repr(tuple(args)), arch,
                 nvcc_version()):
        h.update(part.encode())
        h.update(b"\0")
    key = h.hexdigest()[:16]
    name = f"k_{key}"
    return Kernel(name=name, source=source.replace(PLACEHOLDER, name), grid=grid, block=block,
                  shared_bytes=shared_bytes, args=tuple(args), key=key, op=op,
                  signature=signature)


def _dim3(v) -> tuple[int, int, int]:
    t = tuple(int(x) for x in (v if isinstance(v, (tuple, list)) else (v,)))
    return (t + (1, 1, 1))[:3]  # type: ignore[return-value]

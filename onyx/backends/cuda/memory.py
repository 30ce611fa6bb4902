"""A device memory pool: freed blocks are kept by size class and handed out again, so a run
of a prepared graph makes no ``cudaMalloc`` after the first one.

Sizes are rounded up to a multiple of 512 bytes (small) or to 1/8 of the next power of two
(large), which bounds the waste at 12.5 % while letting nearby sizes share blocks. When the
device is out of memory the pool releases its cached blocks and retries once; if that fails,
``DeviceOutOfMemoryError`` names the request and the pool's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from onyx.ir.errors import OnyxError

SMALL = 1 << 20
GRANULE = 512


class DeviceOutOfMemoryError(OnyxError):
    """The device cannot hold a requested buffer."""


def size_class(nbytes: int) -> int:
    """The block size a request of ``nbytes`` gets."""
    nbytes = max(int(nbytes), 1)
    if nbytes <= SMALL:
        return -(-nbytes // GRANULE) * GRANULE
    step = 1 << max(nbytes.bit_length() - 4, 9)  # an eighth of the power of two above
    return -(-nbytes // step) * step


@dataclass
class PoolStats:
    in_use_bytes: int = 0
    cached_bytes: int = 0
    peak_in_use_bytes: int = 0
    device_allocations: int = 0
    reuses: int = 0


class MemoryPool:
    """Blocks from ``alloc`` (a ``pycuda.driver.mem_alloc``-like callable)."""

    def __init__(self, alloc, out_of_memory: tuple[type, ...] = ()):
        self._alloc, self._oom = alloc, out_of_memory
        self._free: dict[int, list] = {}
        self._size: dict[int, int] = {}  # id(block) -> class size
        self.stats = PoolStats()

    def take(self, nbytes: int):
        size = size_class(nbytes)
        stack = self._free.get(size)
        if stack:
            block = stack.pop()
            self.stats.cached_bytes -= size
            self.stats.reuses += 1
        else:
            block = self._new(size, nbytes)
        self._size[id(block)] = size
        self.stats.in_use_bytes += size
        self.stats.peak_in_use_bytes = max(self.stats.peak_in_use_bytes,
                                           self.stats.in_use_bytes)
        return block

    def give(self, block) -> None:
        size = self._size.pop(id(block))
        self.stats.in_use_bytes -= size
        self.stats.cached_bytes += size
        self._free.setdefault(size, []).append(block)

    def release_cached(self) -> int:
        """Free every cached block on the device; returns the bytes released."""
        freed = self.stats.cached_bytes
        for stack in self._free.values():
            for block in stack:
                free = getattr(block, "free", None)
                if free is not None:
                    free()
        self._free.clear()
        self.stats.cached_bytes = 0
        return freed

    def _new(self, size: int, nbytes: int):
        for attempt in range(2):
            try:
                block = self._alloc(size)
                self.stats.device_allocations += 1
                return block
            except self._oom as exc:
                if attempt == 0 and self.stats.cached_bytes:
                    self.release_cached()
                    continue
                raise DeviceOutOfMemoryError(
                    f"CUDA out of memory: tried to allocate {nbytes} bytes ({size} with "
                    f"rounding); the pool holds {self.stats.in_use_bytes} bytes in use and "
                    f"{self.stats.cached_bytes} cached ({exc})") from exc
        raise AssertionError("unreachable")

"""``onyx.cuda``: whether CUDA can be used here, and which device is current.

    >>> import onyx
    >>> onyx.cuda.is_available() in (True, False)
    True

Everything here answers without raising on a machine without PyCUDA, a driver or a GPU
(``is_available()`` is False, ``device_count()`` is 0, ``unavailable_reason()`` says why);
the functions that need a device raise an ``OnyxError`` with that reason. Device numbers are
the driver's, which already honour ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

from onyx.backends.cuda import runtime


def is_available() -> bool:
    return runtime.availability()[0]


def unavailable_reason() -> str:
    """Why CUDA cannot be used ("" when it can)."""
    return runtime.availability()[1]


def device_count() -> int:
    return runtime.device_count()


def current_device() -> int:
    return runtime.current_device()


def set_device(device) -> None:
    runtime.set_device(_index(device))


def get_device_name(device=None) -> str:
    return runtime.device_name(None if device is None else _index(device))


def synchronize(device=None) -> None:
    """Wait until every launch on the device has finished (faults surface here)."""
    if device is not None:
        runtime.check_index(_index(device))
    runtime.synchronize()


def memory_allocated(device=None) -> int:
    """Bytes of device memory in use by onyx's pool on ``device``."""
    return _pool_stats(device).in_use_bytes


def max_memory_allocated(device=None) -> int:
    return _pool_stats(device).peak_in_use_bytes


def _pool_stats(device):
    from onyx.backends.cuda.executor import pool
    return pool(runtime.check_index(None if device is None else _index(device))).stats


def _index(device) -> int:
    from onyx.frontend.device import device as _device
    if isinstance(device, int):
        return device
    d = _device(device)
    if d.type != "cuda":
        from onyx.ir.errors import OnyxError
        raise OnyxError(f"expected a CUDA device, got {d}")
    return current_device() if d.index is None else d.index

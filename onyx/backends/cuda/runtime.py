"""The PyCUDA runtime: driver discovery, one primary context per device, kernel loading and
launches with errors translated to ``OnyxError``.

PyCUDA is imported here only, on first use: ``import onyx`` never loads it. Without PyCUDA, a
driver or a device, ``availability()`` says why and every entry point raises
``CudaUnavailableError`` with that reason.
"""

from __future__ import annotations

import threading

from onyx.ir.errors import OnyxError

INSTALL_HINT = "pip install 'onyx[cuda]'"


class CudaUnavailableError(OnyxError):
    """CUDA cannot be used on this machine (the message says why)."""


class KernelLaunchError(OnyxError):
    """A generated kernel failed to launch or faulted while running."""


_lock = threading.Lock()
_state: dict = {}  # "driver", "reason", "contexts": {index: ctx}, "functions": {key: fn}


def _driver():
    """The initialised ``pycuda.driver`` module, or ``None`` with the reason recorded."""
    with _lock:
        if "driver" in _state:
            return _state["driver"]
        _state["functions"], _state["contexts"], _state["current"] = {}, {}, 0
        try:
            import pycuda.driver as drv
        except ImportError as exc:
            _state["driver"] = None
            _state["reason"] = (f"PyCUDA is not installed ({exc.name or exc}); install the "
                                f"cuda extra: {INSTALL_HINT}")
            return None
        except OSError as exc:  # libcuda.so missing: PyCUDA's extension cannot load
            _state["driver"] = None
            _state["reason"] = f"the CUDA driver library cannot be loaded: {exc}"
            return None
        try:
            drv.init()
            count = drv.Device.count()
        except Exception as exc:  # pycuda.driver.Error subclasses: no driver / no device
            _state["driver"] = None
            _state["reason"] = f"the CUDA driver reports no usable device: {exc}"
            return None
        if count == 0:
            _state["driver"] = None
            _state["reason"] = ("no CUDA device is visible (check the driver and "
                                "CUDA_VISIBLE_DEVICES)")
            return None
        _state["driver"], _state["reason"] = drv, ""
        return drv


def availability() -> tuple[bool, str]:
    """``(True, "")`` when a CUDA device can be used, else ``(False, why)``."""
    drv = _driver()
    return drv is not None, _state.get("reason", "")


def require():
    """The driver module; raises ``CudaUnavailableError`` saying why it cannot be had."""
    drv = _driver()
    if drv is None:
        raise CudaUnavailableError(f"CUDA is not available: {_state['reason']}")
    return drv


def device_count() -> int:
    drv = _driver()
    return 0 if drv is None else drv.Device.count()


def check_index(index: int | None) -> int:
    """``index`` (``None``: the current device) validated against the visible devices.
    The driver already numbers only the devices ``CUDA_VISIBLE_DEVICES`` lets through."""
    drv = require()
    index = _state["current"] if index is None else index
    count = drv.Device.count()
    if not 0 <= index < count:
        raise OnyxError(f"CUDA error: invalid device ordinal {index} (there are {count} "
                        f"visible device(s))")
    return index


def set_device(index: int) -> None:
    _state["current"] = check_index(index)


def current_device() -> int:
    require()
    return _state["current"]


def context(index: int | None = None):
    """The device's primary context, made current on this thread."""
    drv = require()
    index = check_index(index)
    ctx = _state["contexts"].get(index)
    if ctx is None:
        ctx = _state["contexts"][index] = drv.Device(index).retain_primary_context()
    ctx.push()
    return ctx


def release(ctx) -> None:
    ctx.pop()


def arch(index: int | None = None) -> str:
    """``"sm_90"`` for a compute capability 9.0 device."""
    drv = require()
    major, minor = drv.Device(check_index(index)).compute_capability()
    return f"sm_{major}{minor}"


def device_name(index: int | None = None) -> str:
    return require().Device(check_index(index)).name()


def function(kernel, arch_name: str):
    """The loaded ``pycuda`` function of a generated ``Kernel`` (compiled through the disk
    cache on first use), prepared for pointer arguments."""
    fn = _state["functions"].get((kernel.key, arch_name))
    if fn is None:
        from onyx.backends.cuda.cache import compile_cubin
        drv = require()
        module = drv.module_from_buffer(compile_cubin(kernel, arch_name))
        fn = module.get_function(kernel.name)
        fn.prepare("P" * len(kernel.args))
        _state["functions"][(kernel.key, arch_name)] = (fn, module)
        return fn
    return fn[0]


def launch(kernel, pointers: list[int], stream, *, node: str, arch_name: str) -> None:
    """Launch ``kernel`` on ``stream`` with device pointers in ``kernel.args`` order."""
    drv = require()
    fn = function(kernel, arch_name)
    try:
        fn.prepared_async_call(kernel.grid, kernel.block, stream, *pointers,
                               shared_size=kernel.shared_bytes)
    except drv.Error as exc:
        raise KernelLaunchError(f"CUDA kernel {kernel.name} ({kernel.op} "
                                f"{kernel.signature}) of node {node} failed: {exc}") from exc


def synchronize(stream=None, *, what: str = "") -> None:
    """Wait for the device (or ``stream``); a fault of an earlier launch surfaces here."""
    drv = require()
    try:
        if stream is not None:
            stream.synchronize()
        else:
            ctx = context()
            try:
                drv.Context.synchronize()
            finally:
                release(ctx)
    except drv.Error as exc:
        where = f" while running {what}" if what else ""
        raise KernelLaunchError(f"CUDA error{where}: {exc}") from exc

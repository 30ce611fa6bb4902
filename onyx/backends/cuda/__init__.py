"""The CUDA backend: CUDA C generated from the IR (``codegen``), a disk kernel cache
(``cache``) and a PyCUDA runtime. Importing this package loads nothing heavy: PyCUDA is
imported lazily by the runtime, and only when a GPU is used."""


def prepare(model, device: int | None = None):
    """``model`` (an ``ir.Model``) prepared on a CUDA device: ``.run(arrays) -> arrays``.

    Raises ``CudaUnavailableError`` (an ``OnyxError``) saying why when PyCUDA, the driver or a
    device is missing."""
    from onyx.backends.cuda.executor import prepare as _prepare
    return _prepare(model, device)

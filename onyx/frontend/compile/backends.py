"""Optimizing a traced graph and preparing it on a backend (NumPy now, CUDA when present)."""

from __future__ import annotations

import importlib

from onyx import ir
from onyx.ir.errors import OnyxError


def optimize_model(model: ir.Model, passes) -> ir.Model:
    """``passes``: ``None`` (level 2), a level (0..2), or a list of pass names of
    ``onyx.passes.PIPELINE`` run in the given order."""
    from onyx.passes import PIPELINE, optimize
    from onyx.passes.infra import run_pipeline
    from onyx.passes.pipeline import copy_model
    if passes is None or isinstance(passes, int):
        return optimize(model, 2 if passes is None else passes, verify=False)[0]
    factories = {name: factory for name, _, factory in PIPELINE}
    unknown = [p for p in passes if p not in factories]
    if unknown:
        raise OnyxError(f"onyx.compile: unknown pass(es) {unknown}; known: {sorted(factories)}")
    copy = copy_model(model)
    copy.ir_version = max(copy.ir_version, 4)
    run_pipeline(copy, [factories[p]() for p in passes], verify=False)
    return copy


def prepare_model(model: ir.Model, backend: str):
    """An object with ``run(list_of_arrays) -> list_of_arrays``."""
    if backend == "numpy":
        from onyx.backends.numpy.executor import Executor
        return Executor(model)
    try:
        cuda = importlib.import_module("onyx.backends.cuda")
    except ImportError as exc:
        raise OnyxError(f"onyx.compile(backend='cuda'): the CUDA backend is not available "
                        f"({exc}); use backend='numpy'") from exc
    prepare = getattr(cuda, "prepare", None)
    if prepare is None:
        raise OnyxError("onyx.compile(backend='cuda'): onyx.backends.cuda has no prepare(model);"
                        " the CUDA backend is not available in this build")
    return prepare(model)

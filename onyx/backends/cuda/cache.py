"""The disk kernel cache and the nvcc driver.

One entry per kernel key under ``$ONYX_CACHE_DIR`` (default ``~/.cache/onyx/kernels``):
``<key>.cu`` (source), ``<key>.json`` (op, signature, arch, nvcc version, compile seconds) and
``<key>.<arch>.cubin`` once compiled. Writes go to a temporary file renamed into place, so a
reader never sees half an entry and concurrent compiles of one kernel are harmless.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from onyx.ir.errors import OnyxError

_KEY = re.compile(r"^[0-9a-f]{16}$")


class CompileError(OnyxError):
    """nvcc rejected generated source, or no compiler is available."""


def cache_dir() -> Path:
    env = os.environ.get("ONYX_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "onyx" / "kernels"


def nvcc_path() -> str | None:
    """``$ONYX_NVCC``, else ``nvcc`` on PATH, else the default CUDA install."""
    env = os.environ.get("ONYX_NVCC")
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("nvcc")
    if found:
        return found
    default = Path("/usr/local/cuda/bin/nvcc")
    return str(default) if default.is_file() else None


@functools.cache
def _version_of(path: str | None) -> str:
    if path is None:
        return "none"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "none"
    m = re.search(r"V(\d+\.\d+\.\d+)", out.stdout)
    return m.group(1) if m else "unknown"


def nvcc_version() -> str:
    """nvcc's release (``13.0.88``), ``none`` without nvcc; part of every kernel key."""
    return _version_of(nvcc_path())


class KernelCache:
    """Kernels on disk by key. ``KernelCache(tmp_path)`` in tests."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def store(self, kernel, arch: str, compile_seconds: float | None = None) -> None:
        """Write the kernel's source and description (idempotent)."""
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {"key": kernel.key, "name": kernel.name, "op": kernel.op,
                "signature": kernel.signature, "arch": arch, "nvcc": nvcc_version(),
                "grid": list(kernel.grid), "block": list(kernel.block),
                "shared_bytes": kernel.shared_bytes, "args": list(kernel.args)}
        if compile_seconds is not None:
            meta["compile_seconds"] = round(compile_seconds, 3)
        if not (self.root / f"{kernel.key}.cu").exists():
            _atomic_write(self.root / f"{kernel.key}.cu", kernel.source.encode())
        if compile_seconds is not None or not (self.root / f"{kernel.key}.json").exists():
            _atomic_write(self.root / f"{kernel.key}.json", json.dumps(meta, indent=1).encode())

    def cubin_path(self, key: str, arch: str) -> Path:
        return self.root / f"{key}.{arch}.cubin"

    def cached_cubin(self, kernel, arch: str) -> bytes | None:
        path = self.cubin_path(kernel.key, arch)
        return path.read_bytes() if path.is_file() else None

    def put_cubin(self, kernel, arch: str, cubin: bytes, seconds: float) -> None:
        self.store(kernel, arch, seconds)
        _atomic_write(self.cubin_path(kernel.key, arch), cubin)

    def cubin(self, kernel, arch: str = "sm_90") -> bytes:
        """The compiled kernel, from disk or compiled now."""
        return compile_cubin(kernel, arch, self)

    def entries(self) -> list[dict]:
        """Descriptions of every cached kernel, with ``compiled``: the arches it has cubins for."""
        if not self.root.is_dir():
            return []
        out = []
        for meta_path in sorted(self.root.glob("*.json")):
            if not _KEY.match(meta_path.stem):
                continue
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            meta["compiled"] = sorted(p.name.split(".")[1]
                                      for p in self.root.glob(f"{meta_path.stem}.*.cubin"))
            out.append(meta)
        return out

    def find(self, prefix: str) -> str:
        """The one key starting with ``prefix`` (a ``k_`` name works too)."""
        prefix = prefix.removeprefix("k_").lower()
        if not re.fullmatch(r"[0-9a-f]{1,16}", prefix):
            raise OnyxError(f"not a kernel hash: {prefix!r}")
        keys = [e["key"] for e in self.entries() if e["key"].startswith(prefix)]
        if len(keys) != 1:
            what = "no cached kernel" if not keys else f"{len(keys)} cached kernels"
            raise OnyxError(f"{what} matches {prefix!r} in {self.root}")
        return keys[0]

    def source(self, prefix: str) -> str:
        return (self.root / f"{self.find(prefix)}.cu").read_text()

    def clear(self) -> int:
        """Delete every entry; returns how many kernels were removed."""
        n = len(self.entries())
        if self.root.is_dir():
            for p in self.root.iterdir():
                if p.suffix in (".cu", ".json", ".cubin") and _KEY.match(p.name[:16]):
                    p.unlink(missing_ok=True)
        return n


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_nvcc(source: str, arch: str, what: str) -> bytes:
    """Compile one translation unit to a cubin; ``CompileError`` carries nvcc's message."""
    nvcc = nvcc_path()
    if nvcc is None:
        raise CompileError("nvcc not found: install the CUDA toolkit or set ONYX_NVCC")
    if not re.fullmatch(r"(sm|compute)_\d+[a-z]?", arch):
        raise CompileError(f"bad CUDA arch {arch!r} (expected e.g. 'sm_90')")
    with tempfile.TemporaryDirectory(prefix="onyx-nvcc-") as tmp:
        src, out = Path(tmp) / "k.cu", Path(tmp) / "k.cubin"
        src.write_text(source)
        cmd = [nvcc, "-cubin", f"-arch={arch}", "-O3", "-std=c++17", "-o", str(out), str(src)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise CompileError(f"nvcc timed out compiling {what}") from None
        if res.returncode != 0 or not out.is_file():
            raise CompileError(f"nvcc failed on {what}:\n{res.stderr.strip()[-4000:]}")
        if res.stderr.strip():
            # Warnings stay visible without failing the compile.
            label = what if len(what) < 300 else what[:300] + " ..."
            print(f"nvcc warnings for {label}:\n{res.stderr.strip()[-2000:]}")
        return out.read_bytes()


def compile_cubin(kernel, arch: str = "sm_90", cache: KernelCache | None = None) -> bytes:
    """The kernel compiled for ``arch``; cached on disk (``cache`` or the default directory)."""
    cache = cache if cache is not None else KernelCache()
    hit = cache.cached_cubin(kernel, arch)
    if hit is not None:
        return hit
    start = time.perf_counter()
    cubin = run_nvcc(kernel.source, arch, f"{kernel.op} {kernel.signature} ({kernel.name})")
    cache.put_cubin(kernel, arch, cubin, time.perf_counter() - start)
    return cubin


def compile_batch(kernels: Iterable, arch: str = "sm_90", cache: KernelCache | None = None,
                  *, jobs: int = 2, batch: int = 64) -> dict[str, bytes]:
    """Compile many kernels with few nvcc calls: uncached kernels are concatenated into
    translation units of up to ``batch`` kernels (names are unique, the prelude is guarded).
    The cubin of a batch holds all its kernels; every member's cache entry gets that cubin.
    Returns ``key -> cubin``."""
    cache = cache if cache is not None else KernelCache()
    todo, result = {}, {}
    for k in kernels:
        hit = cache.cached_cubin(k, arch)
        if hit is not None:
            result[k.key] = hit
        else:
            todo.setdefault(k.key, k)
    groups = [list(todo.values())[i:i + batch] for i in range(0, len(todo), batch)]

    def build(group):
        start = time.perf_counter()
        what = "; ".join(f"{k.op} {k.signature} ({k.name})" for k in group)
        try:
            cubin = run_nvcc("\n".join(k.source for k in group), arch, what)
        except CompileError:
            if len(group) == 1:
                raise
            # Retry one by one so the error names the kernel that fails.
            return [(k, compile_cubin(k, arch, cache), 0.0) for k in group]
        seconds = (time.perf_counter() - start) / len(group)
        return [(k, cubin, seconds) for k in group]

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for done in pool.map(build, groups):
            for k, cubin, seconds in done:
                cache.put_cubin(k, arch, cubin, seconds)
                result[k.key] = cubin
    return result

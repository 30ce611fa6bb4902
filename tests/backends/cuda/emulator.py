"""Run generated CUDA kernels on the CPU, to check their numbers without a GPU.

The kernel source is compiled by the host C++ compiler with the CUDA keywords defined away:
each block runs in turn, its threads as real OS threads meeting at a ``std::barrier`` for
``__syncthreads`` (``__shared__`` arrays become function statics, shared by the block's threads
because only one block runs at a time). float16 is ``_Float16``; bfloat16 is rounded by hand
(nearest-even, like ``__float2bfloat16``). Tensor-core (WMMA) kernels cannot run here.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

HEADER = r"""
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>
struct onyx_dim3 { unsigned x, y, z; };
static thread_local onyx_dim3 threadIdx;
static onyx_dim3 blockIdx, blockDim, gridDim;
static std::barrier<>* onyx_bar;
static inline void __syncthreads() { onyx_bar->arrive_and_wait(); }
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
struct __half { _Float16 v; };
static inline float __half2float(__half h) { return (float)h.v; }
static inline __half __float2half(float f) { __half h; h.v = (_Float16)f; return h; }
struct __nv_bfloat16 { uint16_t v; };
static inline float __bfloat162float(__nv_bfloat16 b) {
  uint32_t u = (uint32_t)b.v << 16; float f; std::memcpy(&f, &u, 4); return f; }
static inline __nv_bfloat16 __float2bfloat16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {(uint16_t)((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u); return {(uint16_t)(u >> 16)}; }
template <typename... A, size_t... I>
static void onyx_call(void (*fn)(A...), void** p, std::index_sequence<I...>) { fn(((A)p[I])...); }
template <typename... A>
static void onyx_launch(void (*fn)(A...), void** p, const unsigned* g, const unsigned* b) {
  gridDim = {g[0], g[1], g[2]}; blockDim = {b[0], b[1], b[2]};
  const unsigned n = b[0] * b[1] * b[2];
  for (unsigned z = 0; z < g[2]; ++z) for (unsigned y = 0; y < g[1]; ++y)
  for (unsigned x = 0; x < g[0]; ++x) {
    blockIdx = {x, y, z};
    std::barrier<> bar(n); onyx_bar = &bar;
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < n; ++t) ts.emplace_back([=] {
      threadIdx = {t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])};
      onyx_call(fn, p, std::index_sequence_for<A...>{}); });
    for (auto& th : ts) th.join();
  }
}
"""


def compiler() -> str | None:
    return shutil.which("g++") or shutil.which("clang++")


def _strip(source: str) -> str:
    return "\n".join(ln for ln in source.splitlines()
                     if not ln.startswith("#include <cuda_") and not ln.startswith("#include <mma"))


def build(kernels, workdir: Path) -> ctypes.CDLL:
    """One shared library holding every kernel plus a ``launch_<name>`` entry for each."""
    parts = [HEADER]
    for k in {k.key: k for k in kernels}.values():
        parts.append(_strip(k.source))
        parts.append(f'extern "C" void launch_{k.name}(void** p, const unsigned* g, '
                     f"const unsigned* b) {{ onyx_launch({k.name}, p, g, b); }}")
    src = "\n".join(parts)
    digest = hashlib.sha256(src.encode()).hexdigest()[:16]
    lib = workdir / f"emu_{digest}.so"
    if not lib.exists():
        cu = workdir / f"emu_{digest}.cpp"
        cu.write_text(src)
        cmd = [compiler(), "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w",
               "-o", str(lib), str(cu)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"host compile of emulated kernels failed:\n{res.stderr[-4000:]}")
    return ctypes.CDLL(str(lib))


def run_plan(lib: ctypes.CDLL, plan, inputs: list, out_specs: list) -> list[np.ndarray]:
    """Execute a NodePlan: ``inputs`` are arrays (None for missing), ``out_specs`` are
    ``(shape, numpy dtype)``; returns the outputs."""
    bufs = {f"in{i}": np.ascontiguousarray(x) for i, x in enumerate(inputs) if x is not None}
    outs = []
    for j, (shape, dtype) in enumerate(out_specs):
        alias = dict(plan.aliases).get(j)
        if alias is not None:
            out = bufs[f"in{alias}"].reshape(shape)
        else:   # poisoned, so an element a kernel forgets to write shows up
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            out = np.frombuffer(b"\xa5" * size, dtype=dtype).reshape(shape).copy()
        bufs[f"out{j}"] = out
        outs.append(out)
    for s, nbytes in enumerate(plan.scratch_bytes):
        bufs[f"scratch{s}"] = np.zeros(nbytes, np.uint8)
    for k in plan.kernels:
        ptrs = (ctypes.c_void_p * len(k.args))(*[bufs[a].ctypes.data for a in k.args])
        grid = (ctypes.c_uint * 3)(*k.grid)
        block = (ctypes.c_uint * 3)(*k.block)
        getattr(lib, f"launch_{k.name}")(ptrs, grid, block)
    return outs

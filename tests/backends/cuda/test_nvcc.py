"""Every kernel the CUDA code generator can render compiles with nvcc (``-cubin -arch=sm_90``).

Kernels are batched into a few translation units per family and compiled on a small thread
pool; cubins land in the kernel cache, so a second run makes no nvcc call. A failing compile
names the kernel's op, dtypes and shapes and shows nvcc's message.
"""

from __future__ import annotations

import pytest

from onyx.backends.cuda import cache as kc
from tests.backends.cuda.samples import all_samples

ARCH = "sm_90"


@pytest.fixture(scope="module")
def kernels():
    out = {}
    for family, samples in all_samples().items():
        for label, plan in samples:
            assert plan is not None, f"{family} sample {label} got no CUDA plan"
            for k in plan.kernels:
                out.setdefault(k.key, k)
    return list(out.values())


def test_every_generated_kernel_compiles(kernels):
    if kc.nvcc_path() is None:
        pytest.skip("nvcc not found (set ONYX_NVCC or put nvcc on PATH): generated CUDA "
                    "source was NOT compile-checked")
    cubins = kc.compile_batch(kernels, ARCH, kc.KernelCache(), jobs=2, batch=160)
    assert set(cubins) == {k.key for k in kernels}
    for k in kernels:
        # Each kernel's symbol is in the cubin that holds it.
        assert k.name.encode() in cubins[k.key], k.op
    print(f"{len(kernels)} kernels compiled for {ARCH}")


def test_second_run_makes_no_nvcc_call(kernels, monkeypatch):
    if kc.nvcc_path() is None:
        pytest.skip("nvcc not found: nothing was compiled, so nothing is cached")
    kc.compile_batch(kernels, ARCH, kc.KernelCache(), jobs=2, batch=160)

    def no_nvcc(*a, **k):
        raise AssertionError("nvcc called although every kernel is cached")
    monkeypatch.setattr(kc, "run_nvcc", no_nvcc)
    assert len(kc.compile_batch(kernels, ARCH, kc.KernelCache())) == len(kernels)


def test_compile_error_names_the_kernel(tmp_path):
    if kc.nvcc_path() is None:
        pytest.skip("nvcc not found")
    from onyx.backends.cuda.codegen.kernel import PLACEHOLDER, make_kernel
    src = f'extern "C" __global__ void {PLACEHOLDER}(float* out0) {{ undefined_fn(); }}'
    bad = make_kernel(src,
                      grid=1, block=1, args=("out0",), op="Broken", signature="f32[1]->f32[1]",
                      arch=ARCH)
    with pytest.raises(kc.CompileError, match=r"(?s)Broken f32\[1\]->f32\[1\].*undefined_fn"):
        kc.compile_batch([bad], ARCH, kc.KernelCache(tmp_path))

"""The CUDA runtime: availability and errors without a GPU, the memory pool, and the executor
driven end to end on an emulated device (generated kernels run by the CPU emulator, device
memory in host buffers) so its buffer handling, views and host fallbacks are checked here;
``@pytest.mark.cuda`` tests run the same on a real GPU."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onyx
import onyx.backend
import onyx.backends.cuda
from onyx import ir
from onyx.backends.cuda import executor as cuda_executor
from onyx.backends.cuda import runtime
from onyx.backends.cuda.memory import DeviceOutOfMemoryError, MemoryPool, size_class
from tests.backends.cuda import emulator

GPU = pytest.mark.skipif(not onyx.cuda.is_available(),
                         reason=f"needs a CUDA GPU: {onyx.cuda.unavailable_reason()}")


# ------------------------------------------------------------------ without a GPU
def test_import_onyx_does_not_import_pycuda():
    code = "import sys, onyx; onyx.cuda.is_available(); print('pycuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    # is_available may try PyCUDA, but importing onyx alone must not
    code_plain = "import sys, onyx; print('pycuda' in sys.modules)"
    plain = subprocess.run([sys.executable, "-c", code_plain], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert plain == "False"
    assert out in ("True", "False")


@pytest.mark.skipif(onyx.cuda.is_available(), reason="this machine has a usable GPU")
def test_without_cuda_everything_says_why():
    assert onyx.cuda.device_count() == 0
    reason = onyx.cuda.unavailable_reason()
    assert reason
    with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
        onyx.ones(2).cuda()
    with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
        onyx.ones(2).to("cuda:0")
    with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
        onyx.cuda.current_device()
    with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
        onyx.backends.cuda.prepare(_mlp_model())
    fast = onyx.compile(onyx.nn.Linear(3, 2).eval(), backend="cuda")
    with pytest.raises(onyx.OnyxError, match="CUDA is not available"):
        fast(onyx.ones(1, 3))


def test_missing_pycuda_names_the_extra(monkeypatch):
    monkeypatch.setattr(runtime, "_state", {})
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    ok, reason = runtime.availability()
    assert not ok and "pip install 'onyx[cuda]'" in reason


# ------------------------------------------------------------------ memory pool
class _OOM(Exception):
    pass


class _Alloc:
    def __init__(self, limit):
        self.limit, self.live, self.calls = limit, 0, 0

    def __call__(self, n):
        if self.live + n > self.limit:
            raise _OOM("out of memory")
        self.live += n
        self.calls += 1
        alloc = self

        class Block:
            def free(self):
                alloc.live -= n
        return Block()


def test_pool_reuses_blocks_by_size_class():
    alloc = _Alloc(1 << 30)
    pool = MemoryPool(alloc, (_OOM,))
    a = pool.take(1000)
    pool.give(a)
    assert pool.take(900) is a  # the same 1024-byte class
    assert alloc.calls == 1 and pool.stats.reuses == 1
    assert size_class(1) == 512 and size_class(513) == 1024
    assert size_class(3 << 20) == 3 << 20 and size_class((3 << 20) + 1) > 3 << 20
    big = size_class(100_000_001)
    assert 100_000_001 <= big <= 100_000_001 * 1.125


def test_pool_out_of_memory_releases_cache_then_reports():
    alloc = _Alloc(4096)
    pool = MemoryPool(alloc, (_OOM,))
    pool.give(pool.take(4096))
    b = pool.take(2048)  # needs the cached 4096 block released first
    assert pool.stats.cached_bytes == 0 and b is not None
    with pytest.raises(DeviceOutOfMemoryError, match="tried to allocate 4096 bytes"):
        pool.take(4096)


# ------------------------------------------------------------------ emulated device
class _Memory:
    """Device memory as host buffers; a pointer is the buffer's address."""

    def __init__(self):
        self.buffers: dict[int, np.ndarray] = {}

    def alloc(self, n):
        buf = np.zeros(n, np.uint8)
        self.buffers[buf.ctypes.data] = buf
        memory = self

        class Allocation:
            def __int__(self):
                return buf.ctypes.data

            def free(self):
                memory.buffers.pop(buf.ctypes.data, None)
        return Allocation()

    def view(self, ptr) -> np.ndarray:
        return self.buffers[int(ptr)]


class _FakeDriver:
    """The part of ``pycuda.driver`` the executor uses."""

    class Error(Exception):
        pass

    class MemoryError(Exception):
        pass

    def __init__(self, memory):
        self.memory = memory

    def mem_alloc(self, n):
        return self.memory.alloc(n)

    def memcpy_htod_async(self, dst, src, stream=None):
        raw = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
        self.memory.view(dst)[:raw.size] = raw

    def memcpy_dtoh_async(self, dst, src, stream=None):
        raw = dst.view(np.uint8).reshape(-1)
        raw[:] = self.memory.view(src)[:raw.size]

    class Stream:
        def synchronize(self):
            pass

    class _Ctx:
        def push(self):
            pass

        def pop(self):
            pass

    class Device:
        @staticmethod
        def count():
            return 1

        def __init__(self, i):
            pass

        def compute_capability(self):
            return (9, 0)

        def name(self):
            return "emulated device"

        def retain_primary_context(self):
            return _FakeDriver._Ctx()


@pytest.fixture
def emulated(monkeypatch, tmp_path):
    if emulator.compiler() is None:
        pytest.skip("no host C++ compiler (g++/clang++) to emulate kernels")
    memory = _Memory()
    drv = _FakeDriver(memory)
    monkeypatch.setattr(runtime, "_state", {"driver": drv, "reason": "", "contexts": {},
                                            "functions": {}, "current": 0})
    monkeypatch.setattr(cuda_executor, "_pools", {})
    launched = []

    def launch(kernel, pointers, stream, *, node, arch_name):
        import ctypes
        lib = emulator.build([kernel], tmp_path)
        ptrs = (ctypes.c_void_p * len(pointers))(*pointers)
        getattr(lib, f"launch_{kernel.name}")(ptrs, (ctypes.c_uint * 3)(*kernel.grid),
                                              (ctypes.c_uint * 3)(*kernel.block))
        launched.append(kernel.op)

    monkeypatch.setattr(runtime, "launch", launch)
    return launched


def _mlp_model() -> ir.Model:
    rng = np.random.default_rng(0)
    f = np.float32
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["r3"]),
             helper.make_node("TopK", ["r3", "k"], ["top", "idx"], axis=-1),
             helper.make_node("ReduceSum", ["top", "axes"], ["s"], keepdims=0),
             helper.make_node("Mul", ["s", "scale"], ["y"])]
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((8, 5)).astype(f), "w1"),
             onnx.numpy_helper.from_array(rng.standard_normal(8).astype(f), "b1"),
             onnx.numpy_helper.from_array(np.array([-1, 2, 4], np.int64), "shape"),
             onnx.numpy_helper.from_array(np.array([2], np.int64), "k"),
             onnx.numpy_helper.from_array(np.array([-1], np.int64), "axes"),
             onnx.numpy_helper.from_array(np.array(0.5, f), "scale")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 5])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None), helper.make_tensor_value_info(
            "idx", TensorProto.INT64, None)], inits)
    return ir.from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))


def test_executor_on_an_emulated_device_matches_numpy(emulated):
    model = _mlp_model()
    rep = onyx.backends.cuda.prepare(model)
    cpu = onyx.backend.prepare(model)
    for n in (3, 6):
        x = np.random.default_rng(n).standard_normal((n, 5)).astype(np.float32)
        got, want = rep.run([x]), cpu.run([x])
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert rep.fallbacks == [("TopK", "TopK")]  # no CUDA TopK: a listed host round trip
    assert {"Gemm", "Relu", "ReduceSum", "Mul"} <= {op.split("[")[0] for op in emulated}
    # every buffer of a run went back to the pool; only the uploaded weights stay in use
    weights = sum(size_class(v.const.nbytes) for v in model.graph.initializers.values())
    assert rep.pool.stats.in_use_bytes == weights
    assert rep.pool.stats.reuses > 0


def test_executor_checks_inputs(emulated):
    rep = onyx.backends.cuda.prepare(_mlp_model())
    with pytest.raises(onyx.InputError, match="takes 1 input"):
        rep.run([])
    with pytest.raises(onyx.InputError, match="missing"):
        rep.run({"z": np.zeros((1, 5), np.float32)})


def test_device_index_out_of_range(emulated):
    with pytest.raises(onyx.OnyxError, match="invalid device ordinal 3"):
        onyx.cuda.set_device(3)
    onyx.cuda.set_device("cuda:0")
    assert onyx.cuda.current_device() == 0
    assert onyx.cuda.get_device_name() == "emulated device"


def test_eager_tensors_stay_on_the_cpu_with_cuda_present(emulated):
    with pytest.raises(onyx.OnyxError, match="backend='cuda'"):
        onyx.ones(2).cuda()
    with pytest.raises(onyx.OnyxError, match="invalid device ordinal 1"):
        onyx.ones(2).to("cuda:1")


def test_compile_with_the_cuda_backend_on_an_emulated_device(emulated):
    onyx.manual_seed(0)
    model = onyx.nn.Sequential(onyx.nn.Linear(6, 16), onyx.nn.ReLU(),
                               onyx.nn.Linear(16, 3)).eval()
    fast = onyx.compile(model, backend="cuda")
    x = onyx.randn(4, 6)
    with onyx.no_grad():
        want = model(x).numpy()
        fast(x)  # the first call traces (an eager run)
        got = fast(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert emulated  # kernels ran


# ------------------------------------------------------------------ a real GPU
@pytest.mark.cuda
@GPU
def test_gpu_executor_matches_numpy():
    model = _mlp_model()
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    got = onyx.backends.cuda.prepare(model).run([x])
    for a, b in zip(got, onyx.backend.prepare(model).run([x])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@GPU
def test_gpu_compile_cnn_matches_cpu():
    onyx.manual_seed(0)
    model = onyx.nn.Sequential(onyx.nn.Conv2d(1, 8, 3, padding=1), onyx.nn.ReLU(),
                               onyx.nn.MaxPool2d(2), onyx.nn.Flatten(),
                               onyx.nn.Linear(8 * 4 * 4, 10)).eval()
    x = onyx.randn(16, 1, 8, 8)
    fast = onyx.compile(model, backend="cuda")
    with onyx.no_grad():
        fast(x)
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-4)
    assert onyx.cuda.memory_allocated() > 0
    onyx.cuda.synchronize()

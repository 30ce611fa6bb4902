"""The disk kernel cache: entries, atomic writes, lookups by hash prefix, compile caching."""

from __future__ import annotations

import json

import pytest

from onyx.backends.cuda import cache as kc
from onyx.ir.errors import OnyxError
from tests.backends.cuda.samples import plan

F = 1


def _kernel(shape=(4, 8)):
    return plan("Relu", [(F, shape)], [(F, shape)]).kernels[0]


def test_store_and_list(tmp_path):
    cache = kc.KernelCache(tmp_path)
    k = _kernel()
    cache.store(k, "sm_90")
    (entry,) = cache.entries()
    assert entry["key"] == k.key and entry["op"] == "Relu" and entry["arch"] == "sm_90"
    assert entry["signature"] == "f32[4,8]->f32[4,8]" and entry["compiled"] == []
    assert cache.source(k.key[:6]) == k.source
    assert cache.source(k.name) == k.source
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_default_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ONYX_CACHE_DIR", str(tmp_path / "c"))
    assert kc.cache_dir() == tmp_path / "c"
    assert kc.KernelCache().root == tmp_path / "c"


def test_compile_is_cached(tmp_path, monkeypatch):
    calls = []

    def fake_nvcc(source, arch, what):
        calls.append(what)
        return b"CUBIN" + source.encode()[:8]
    monkeypatch.setattr(kc, "run_nvcc", fake_nvcc)
    cache, k = kc.KernelCache(tmp_path), _kernel()
    first = kc.compile_cubin(k, "sm_90", cache)
    assert kc.compile_cubin(k, "sm_90", cache) == first and len(calls) == 1
    kc.compile_cubin(k, "sm_80", cache)
    assert len(calls) == 2
    meta = json.loads((tmp_path / f"{k.key}.json").read_text())
    assert "compile_seconds" in meta
    assert cache.entries()[0]["compiled"] == ["sm_80", "sm_90"]


def test_batch_compiles_once_per_group(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(kc, "run_nvcc", lambda s, a, w: calls.append(w) or b"X")
    ks = [_kernel((n, 3)) for n in range(1, 6)]
    got = kc.compile_batch(ks, "sm_90", kc.KernelCache(tmp_path), batch=2, jobs=2)
    assert len(got) == 5 and len(calls) == 3


def test_find_errors(tmp_path):
    cache = kc.KernelCache(tmp_path)
    with pytest.raises(OnyxError, match="no cached kernel"):
        cache.find("abc")
    with pytest.raises(OnyxError, match="not a kernel hash"):
        cache.find("../../etc/passwd")


def test_clear(tmp_path, monkeypatch):
    monkeypatch.setattr(kc, "run_nvcc", lambda s, a, w: b"X")
    cache = kc.KernelCache(tmp_path)
    kc.compile_cubin(_kernel(), "sm_90", cache)
    (tmp_path / "keep.txt").write_text("not ours")
    assert cache.clear() == 1
    assert cache.entries() == [] and (tmp_path / "keep.txt").exists()


def test_missing_nvcc_is_an_onyx_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ONYX_NVCC", str(tmp_path / "no-such-nvcc"))
    assert kc.nvcc_path() is None
    with pytest.raises(kc.CompileError, match="nvcc not found"):
        kc.run_nvcc("", "sm_90", "x")


def test_bad_arch_rejected(monkeypatch):
    if kc.nvcc_path() is None:
        pytest.skip("nvcc not found")
    with pytest.raises(kc.CompileError, match="bad CUDA arch"):
        kc.run_nvcc("", "sm_90; rm -rf /", "x")

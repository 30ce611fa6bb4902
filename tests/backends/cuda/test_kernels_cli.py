"""``onyx kernels``: list, show, clear and JSON output of the kernel cache."""

from __future__ import annotations

import json

from onyx.backends.cuda import cache as kc
from onyx.tools.cli import main
from tests.backends.cuda.samples import plan

F = 1


def _fill(root):
    cache = kc.KernelCache(root)
    ks = [plan("Relu", [(F, (2, 3))], [(F, (2, 3))]).kernels[0],
          plan("Add", [(F, (2, 3)), (F, (3,))], [(F, (2, 3))]).kernels[0]]
    for k in ks:
        cache.store(k, "sm_90")
    return ks


def test_list_table(tmp_path, capsys):
    ks = _fill(tmp_path)
    assert main(["kernels", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["hash", "op", "dtypes", "shapes", "arch", "compiled"]
    for k in ks:
        assert k.key in out
    assert "f32,f32->f32" in out and "[2,3],[3]->[2,3]" in out
    assert "2 kernels in" in out


def test_show_and_json(tmp_path, capsys):
    ks = _fill(tmp_path)
    assert main(["kernels", "--dir", str(tmp_path), "--show", ks[0].key[:8]]) == 0
    assert capsys.readouterr().out == ks[0].source
    assert main(["kernels", "--dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["key"] for d in data} == {k.key for k in ks}


def test_clear_and_empty(tmp_path, capsys):
    _fill(tmp_path)
    assert main(["kernels", "--dir", str(tmp_path), "--clear"]) == 0
    assert "removed 2 cached kernels" in capsys.readouterr().out
    assert main(["kernels", "--dir", str(tmp_path)]) == 0
    assert "no cached kernels" in capsys.readouterr().out


def test_unknown_hash_is_usage_error(tmp_path, capsys):
    _fill(tmp_path)
    assert main(["kernels", "--dir", str(tmp_path), "--show", "ffffffff"]) == 2
    assert "no cached kernel matches" in capsys.readouterr().err


def test_env_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ONYX_CACHE_DIR", str(tmp_path))
    _fill(tmp_path)
    assert main(["kernels"]) == 0
    assert "2 kernels in" in capsys.readouterr().out

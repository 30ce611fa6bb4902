"""benchmarks/bench_compile.py runs end to end on tiny sizes and its runtimes agree.

Run from the repository root (``python -m pytest``) so that the ``benchmarks`` package imports.
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from benchmarks import bench_compile  # noqa: E402

TINY = ["--batch", "2", "--seq", "8", "--repeat", "2", "--warmup", "1", "--compiles", "1",
        "--calls", "3", "--train-steps", "2", "--pause", "0"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return bench_compile.main(TINY + ["--json", str(out / "r.json"),
                                      "--markdown", str(out / "r.md")]), out


def test_every_runtime_runs_every_model_and_agrees(report):
    rep, _ = report
    assert [r["model"] for r in rep["results"]] == ["mlp", "cnn", "transformer"]
    for res in rep["results"]:
        by_name = {r["runtime"]: r for r in res["runtimes"]}
        assert set(by_name) == set(bench_compile.RUNTIMES)
        for name, r in by_name.items():
            assert "error" not in r, (res["model"], name, r.get("error"))
            assert r["median_ms"] > 0 and len(r["samples_ms"]) == 2
            assert r["max_abs_diff"] < 1e-4, (res["model"], name)
        assert res["ratios"]["onyx-compiled/onnxruntime"] > 0


def test_compile_overhead_memory_and_training_sections(report):
    rep, _ = report
    assert [c["model"] for c in rep["compile"]] == ["mlp", "cnn", "transformer"]
    assert all(c["median_ms"] > 0 for c in rep["compile"])
    assert all("median_us" in row for row in rep["overhead"].values())
    for row in rep["memory"]:
        assert all(isinstance(row[n], int) and row[n] > 0
                   for n in ("onyx-O0", "onyx-O2", "onyx-compiled"))
    train = rep["training"]
    assert train["onyx-eager max loss diff"] < 1e-4
    assert "median" in train["torch"]
    # Compiled training is timed when onyx can compile it, else the reason is recorded.
    assert "median" in train["onyx-compiled"] or "error" in train["onyx-compiled"]


def test_outputs_written(report):
    rep, out = report
    saved = json.loads((out / "r.json").read_text())
    assert saved["environment"]["models"] == ["mlp", "cnn", "transformer"]
    page = (out / "r.md").read_text()
    assert "# Compiled inference on CPU" in page and "onyx-compiled" in page


def test_models_hold_the_same_weights_in_three_libraries():
    torch = pytest.importorskip("torch")
    import onyx
    for name in ("mlp", "cnn", "transformer"):
        case = bench_compile.build_case(name, seed=0, batch=2, seq=8)
        with torch.no_grad():
            expected = case.torch_module(torch.from_numpy(case.x)).numpy()
        with onyx.no_grad():
            got = case.onyx_module(onyx.tensor(case.x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        bench_compile.parse_args(["--models", "resnet"])
    with pytest.raises(SystemExit):
        bench_compile.parse_args(["--repeat", "0"])

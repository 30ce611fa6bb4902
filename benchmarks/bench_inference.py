"""Inference latency of onyx's NumPy backend beside onnxruntime and onnx.reference.

Each model of ``benchmarks.models`` runs on the same inputs in three runtimes:

* onyx: ``onyx.backend.prepare(model).run(inputs)``
* onnxruntime: ``InferenceSession`` on CPUExecutionProvider with default session options
  (all graph optimizations, its own choice of intra-op threads)
* reference: ``onnx.reference.ReferenceEvaluator(model).run(None, feeds)``

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_inference --repeat 30 --warmup 5 --json out.json

Prints a table of median and min milliseconds per run and the ratios onyx/ORT and
onyx/reference (above 1: onyx is slower), see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata

import numpy as np
import onnx
import onnxruntime
from onnx.reference import ReferenceEvaluator

import onyx.backend
from benchmarks import models

RUNTIMES = ("onyx", "onnxruntime", "reference")
SHORT = {"onyx": "onyx", "onnxruntime": "ORT", "reference": "reference"}
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
              "amx_tile")

Runner = Callable[[], list]


# ---------------------------------------------------------------- runtimes
def prepare_onyx(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Runner:
    rep = onyx.backend.prepare(model)
    inputs = [feeds[v.name] for v in model.graph.input]
    return lambda: list(rep.run(inputs))


def prepare_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Runner:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)


def prepare_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Runner:
    evaluator = ReferenceEvaluator(model)
    return lambda: evaluator.run(None, feeds)


PREPARE = {"onyx": prepare_onyx, "onnxruntime": prepare_onnxruntime,
           "reference": prepare_reference}


def warm_up_runtimes(runtimes: list[str]) -> None:
    """Prepare and run a one-node model in each runtime once.

    The first session of a process pays for lazy imports and one-time initialisation (kernel
    modules, thread pools); without this, the first model's setup time would carry that cost.
    """
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "warm", [x],
                                   [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = models.IR_VERSION
    for name in runtimes:
        PREPARE[name](model, {"x": np.ones(2, np.float32)})()


# ---------------------------------------------------------------- machine load
class CpuShare:
    """How busy the CPUs were with *other* work while a block of code ran.

    The load average counts this benchmark too, so contention is measured directly: CPU time
    the whole machine spent busy (/proc/stat) minus this process's own CPU time, per second of
    wall time, in cores. ``steal`` is time a virtual machine's host gave to someone else.
    """

    def __enter__(self) -> CpuShare:
        self.result: dict = {}
        self._start = (time.perf_counter(), _proc_stat(), _own_cpu_seconds())
        return self

    def __exit__(self, *exc) -> None:
        wall0, stat0, own0 = self._start
        wall, stat, own = time.perf_counter() - wall0, _proc_stat(), _own_cpu_seconds() - own0
        # /proc/stat counts in ticks of 10 ms: shorter spans would give noise, not a share.
        if stat is None or stat0 is None or wall < 0.25:
            return
        busy = (stat[0] - stat0[0]) / _TICKS
        steal = (stat[1] - stat0[1]) / _TICKS
        self.result = {"other_cores_busy": round(max(busy - own, 0.0) / wall, 2),
                       "steal_cores": round(steal / wall, 2),
                       "own_cores_busy": round(own / wall, 2)}


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat() -> tuple[int, int] | None:
    """(busy, steal) ticks summed over all CPUs; busy excludes idle, iowait and steal."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# ---------------------------------------------------------------- timing
def time_runs(run: Runner, warmup: int, repeat: int) -> tuple[list[float], list]:
    """Milliseconds of each of ``repeat`` runs after ``warmup`` untimed ones, and the outputs."""
    outputs = None
    for _ in range(warmup):
        outputs = run()
    samples = []
    # Like timeit: a collection that happens to land inside one run is noise, not its cost.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            outputs = run()
            samples.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples, outputs


def bench_runtime(name: str, case: models.BenchCase, warmup: int, repeat: int) -> dict:
    """One runtime on one model: setup time, run-time statistics, outputs (or the error)."""
    result: dict = {"runtime": name}
    try:
        start = time.perf_counter_ns()
        run = PREPARE[name](case.model, case.inputs)
        result["setup_ms"] = (time.perf_counter_ns() - start) / 1e6
        samples, outputs = time_runs(run, warmup, repeat)
    except Exception as exc:  # a runtime that cannot run a model is a result, not a crash
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.update(median_ms=statistics.median(samples), min_ms=min(samples),
                  mean_ms=statistics.fmean(samples),
                  stdev_ms=statistics.stdev(samples) if len(samples) > 1 else 0.0,
                  samples_ms=[round(s, 4) for s in samples], outputs=outputs)
    return result


def max_abs_diff(outputs: list, expected: list) -> float:
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(outputs, expected))


def bench_model(case: models.BenchCase, runtimes: list[str], warmup: int, repeat: int) -> dict:
    load_before = os.getloadavg()
    rows = []
    with CpuShare() as share:
        for name in runtimes:
            with CpuShare() as runtime_share:
                rows.append(bench_runtime(name, case, warmup, repeat))
            rows[-1]["cpu_share"] = runtime_share.result
    # Differences are against onnxruntime when it ran, else against the first runtime that did.
    ran = [r for r in rows if "outputs" in r]
    oracle = next((r for r in ran if r["runtime"] == "onnxruntime"), ran[0] if ran else None)
    for r in ran:
        r["max_abs_diff"] = max_abs_diff(r["outputs"], oracle["outputs"])
        r["diff_against"] = oracle["runtime"]
    for r in rows:
        r.pop("outputs", None)
    ratios = {}
    medians = {r["runtime"]: r["median_ms"] for r in ran}
    for other in ("onnxruntime", "reference"):
        if "onyx" in medians and other in medians:
            ratios[f"onyx/{SHORT[other]}"] = medians["onyx"] / medians[other]
    return {"model": case.name, "description": case.description, "sha256": case.sha256,
            "inputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                       for k, v in case.inputs.items()},
            "loadavg_before": _rounded(load_before), "loadavg_after": _rounded(os.getloadavg()),
            "cpu_share": share.result, "runtimes": rows, "ratios": ratios}


# ---------------------------------------------------------------- environment
def cpu_info() -> dict:
    info: dict = {"model": platform.processor() or "unknown", "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            info["model"] = value.strip()
        elif key.strip() == "flags":
            present = set(value.split())
            info["flags"] = [f for f in SIMD_FLAGS if f in present]
            break
    info["logical_cores"] = os.cpu_count()
    info["usable_cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count()
    return info


def versions(dists=("onyx", "numpy", "onnxruntime", "onnx", "ml_dtypes")) -> dict:
    """Installed versions of ``dists``, NumPy's BLAS and Python."""
    found = {}
    for dist in dists:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        found["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config's layout is not a stable API
        found["numpy_blas"] = None
    found["python"] = platform.python_version()
    return found


def environment(argv: list[str]) -> dict:
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS") if k in os.environ}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, "-m", "benchmarks.bench_inference", *argv]),
        "cwd": os.getcwd(),
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "memory_gib": _memory_gib(),
        "thread_env": threads,
        "onnxruntime_session": {"providers": ["CPUExecutionProvider"],
                                "graph_optimization_level": "default (ORT_ENABLE_ALL)",
                                "intra_op_num_threads": "default (0: one per physical core)"},
        "versions": versions(),
        "loadavg_start": _rounded(os.getloadavg()),
    }


def _rounded(values) -> list[float]:
    return [round(v, 2) for v in values]


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])  # first line is MemTotal
        return round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- reporting
def _cell(row: dict | None, key: str) -> str:
    if row is None:
        return "-"
    if "error" in row:
        return "error"
    return _ms(row[key])


def _others(result: dict) -> str:
    other = result.get("cpu_share", {}).get("other_cores_busy")
    return "-" if other is None else f"{other:.2f}"


def _ms(value: float) -> str:
    """Three or four significant digits: enough to compare, few enough to read."""
    return f"{value:.1f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _align(header: list[str], body: list[list[str]], text_columns: int = 1) -> str:
    """A Markdown pipe table padded so it also reads as plain text.

    The first ``text_columns`` columns are left-aligned, the numbers after them right-aligned.
    """
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    rule = ["-" * (w + 2) if i < text_columns else "-" * (w + 1) + ":"
            for i, w in enumerate(widths)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join(rule) + "|"]
    for r in body:
        cells = [c.ljust(w) if i < text_columns else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(results: list[dict], runtimes: list[str]) -> str:
    header = ["model"]
    for name in runtimes:
        header += [f"{SHORT[name]} median ms", f"{SHORT[name]} min ms"]
    ratio_keys = [f"onyx/{SHORT[o]}" for o in ("onnxruntime", "reference")
                  if "onyx" in runtimes and o in runtimes]
    header += ratio_keys + ["others' cores"]
    body = []
    for res in results:
        by_name = {r["runtime"]: r for r in res["runtimes"]}
        row = [res["model"]]
        for name in runtimes:
            row += [_cell(by_name.get(name), "median_ms"), _cell(by_name.get(name), "min_ms")]
        row += [f"{res['ratios'][k]:.2f}" if k in res["ratios"] else "-" for k in ratio_keys]
        body.append(row + [_others(res)])
    return _align(header, body)


def detail_table(results: list[dict]) -> str:
    header = ["model", "runtime", "setup ms", "median ms", "min ms", "mean ms", "stdev ms",
              "max abs diff", "others' cores"]
    body = []
    for res in results:
        for r in res["runtimes"]:
            other = _others(r)
            if "error" in r:
                body.append([res["model"], r["runtime"]] + ["-"] * 6 + [other])
                continue
            diff = f"{r['max_abs_diff']:.1e} vs {SHORT[r['diff_against']]}"
            body.append([res["model"], r["runtime"]] +
                        [_ms(r[k]) for k in ("setup_ms", "median_ms", "min_ms", "mean_ms",
                                             "stdev_ms")] + [diff, other])
    return _align(header, body, text_columns=2)


def errors_text(results: list[dict]) -> str:
    return "\n".join(f"- {res['model']} / {r['runtime']}: {r['error']}"
                     for res in results for r in res["runtimes"] if "error" in r)


def machine_text(env: dict) -> str:
    cpu, v = env["cpu"], env["versions"]
    load = ", ".join(f"{x:.2f}" for x in env["loadavg_start"])
    load_end = ", ".join(f"{x:.2f}" for x in env["loadavg_end"])
    return "\n".join([
        f"- date: {env['date']}",
        f"- CPU: {cpu['model']}; {cpu['logical_cores']} logical cores "
        f"({cpu['usable_cores']} usable); SIMD: {' '.join(cpu['flags']) or 'unknown'}",
        f"- memory: {env['memory_gib']} GiB; platform: {env['platform']}",
        f"- versions: onyx {v['onyx']}, numpy {v['numpy']} ({v['numpy_blas']}), "
        f"onnxruntime {v['onnxruntime']}, onnx {v['onnx']}, python {v['python']}",
        f"- thread environment variables: {env['thread_env'] or 'none set'}",
        f"- load average (1, 5, 15 min) at start: {load}; at end: {load_end}",
        f"- CPU use during the run, in cores: {_share_text(env.get('cpu_share', {}))}",
        f"- warmup {env['warmup']}, repeat {env['repeat']}, seed {env['seed']}",
    ])


def _share_text(share: dict) -> str:
    if not share:
        return "unknown (no /proc/stat)"
    return (f"other processes {share['other_cores_busy']:.2f}, this benchmark "
            f"{share['own_cores_busy']:.2f}, hypervisor steal {share['steal_cores']:.2f}")


def json_text(report: dict) -> str:
    """Indented JSON with each list of numbers (timing samples, load) kept on one line."""
    text = json.dumps(report, indent=1)
    return re.sub(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def markdown_report(report: dict) -> str:
    env, results = report["environment"], report["results"]
    runtimes = report["environment"]["runtimes"]
    parts = [f"# Inference on CPU, {env['date'][:10]}", "", "Command:", "",
             f"```\n{env['command']}\n```", "", "## Machine", "", machine_text(env)]
    if env["notes"]:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in env["notes"]]
    parts += ["", "## Results", "", "Milliseconds per run; ratio above 1 means onyx is slower.",
              "", summary_table(results, runtimes), "", detail_table(results)]
    if errors_text(results):
        parts += ["", "Errors:", "", errors_text(results)]
    parts += ["", "## Raw JSON", "", "```json", json_text(report), "```", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_inference",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(models.NAMES),
                   help=f"comma-separated subset of {','.join(models.NAMES)}")
    p.add_argument("--runtimes", default=",".join(RUNTIMES),
                   help=f"comma-separated subset of {','.join(RUNTIMES)}")
    p.add_argument("--repeat", type=int, default=20, help="timed runs per model and runtime")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before timing")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs")
    p.add_argument("--json", metavar="PATH", help="write the full results as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write a results page (tables + JSON)")
    p.add_argument("--note", action="append", default=[],
                   help="a remark for the results page, e.g. about machine load (repeatable)")
    args = p.parse_args(argv)
    args.models = _choices(p, args.models, models.NAMES, "--models")
    args.runtimes = _choices(p, args.runtimes, RUNTIMES, "--runtimes")
    if args.repeat < 1 or args.warmup < 0:
        p.error("--repeat must be at least 1 and --warmup at least 0")
    return args


def _choices(parser: argparse.ArgumentParser, text: str, allowed: tuple, flag: str) -> list:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in allowed]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {unknown}, choose from {list(allowed)}")
    return chosen


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    env = environment(argv)
    env.update(warmup=args.warmup, repeat=args.repeat, seed=args.seed, notes=args.note,
               runtimes=args.runtimes, models=args.models)
    warm_up_runtimes(args.runtimes)
    results = []
    with CpuShare() as share:
        for name in args.models:
            print(f"{name}: building and timing ...", file=sys.stderr, flush=True)
            results.append(bench_model(models.build(name, args.seed), args.runtimes,
                                       args.warmup, args.repeat))
    env["loadavg_end"] = _rounded(os.getloadavg())
    env["cpu_share"] = share.result
    report = {"environment": env, "results": results}
    print(summary_table(results, args.runtimes))
    print()
    print(detail_table(results))
    if errors_text(results):
        print("\nErrors:\n" + errors_text(results))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json_text(report) + "\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(report))
    return report


if __name__ == "__main__":
    main()

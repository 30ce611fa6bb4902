"""``onyx bench MODEL``: inference latency of onyx's NumPy backend next to onnxruntime's on
the same inputs: median and 90th percentile over ``--repeat`` runs after ``--warmup`` runs, and
onyx's time as a multiple of onnxruntime's. onnxruntime is only a point of comparison: without
it, onyx is measured alone."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from onyx import ir
from onyx.tools.inputs import add_input_arguments, inputs_from_args
from onyx.tools.table import format_table, print_json, progress

EXAMPLE = "onyx bench model.onnx --warmup 3 --repeat 20"


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="time inference with onyx and onnxruntime",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"examples:\n  {EXAMPLE}\n"
                              "  onyx bench model.onnx --dim batch=64 --level 0 --json")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    p.add_argument("--repeat", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--level", type=int, choices=(0, 1, 2), default=2,
                   help="onyx optimization level (default 2)")
    add_input_arguments(p)
    p.add_argument("--json", action="store_true", help="print the timings as JSON")
    p.set_defaults(func=main)


def time_runs(run: Callable[[], object], warmup: int, repeat: int, bar) -> np.ndarray:
    """Seconds of each of ``repeat`` calls of ``run`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
        bar.update(1)
    times = np.empty(repeat)
    for i in range(repeat):
        start = time.perf_counter()
        run()
        times[i] = time.perf_counter() - start
        bar.update(1)
    return times


def _onyx_runner(model: ir.Model, level: int, feeds: dict) -> Callable[[], object]:
    import onyx.backend
    from onyx.passes import optimize
    if level:
        model, _ = optimize(model, level=level)
    executor = onyx.backend.prepare(model).executor
    return lambda: executor.run(dict(feeds))


def _ort_runner(path: str, feeds: dict) -> tuple[Callable[[], object] | None, str]:
    """A runner for onnxruntime, or ``None`` and the reason it cannot run the model."""
    try:
        import onnxruntime
    except ImportError:
        return None, "onnxruntime is not installed (pip install onnxruntime): onyx measured alone"
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # its warnings would bury the table; failures are reported
    try:
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        session.run(None, feeds)  # a model it loads may still fail to run (types, kernels)
    except Exception as exc:  # its own exception types; any of them means "cannot run it"
        first = " ".join(str(exc).split())[:200]
        return None, f"onnxruntime cannot run this model ({first}): onyx measured alone"
    return (lambda: session.run(None, feeds)), ""


def _stats(name: str, times: np.ndarray) -> dict:
    return {"runtime": name, "median_ms": float(np.median(times) * 1e3),
            "p90_ms": float(np.percentile(times, 90) * 1e3), "runs": int(times.size)}


def main(args) -> int:
    if args.warmup < 0 or args.repeat < 1:
        raise ValueError("--warmup must be >= 0 and --repeat >= 1")
    model = ir.load(args.model)
    feeds = inputs_from_args(model, args, random=True)
    runners = [(f"onyx (level {args.level})", _onyx_runner(model, args.level, feeds))]
    ort, note = _ort_runner(args.model, feeds)
    if ort is not None:
        runners.append(("onnxruntime", ort))
    rows = []
    with progress(len(runners) * (args.warmup + args.repeat), "bench", unit="run",
                  enabled=not args.json) as bar:
        for name, run in runners:
            rows.append(_stats(name, time_runs(run, args.warmup, args.repeat, bar)))
    if ort is not None:
        for r in rows:
            r["ratio"] = r["median_ms"] / rows[-1]["median_ms"]
    result = {"model": args.model, "inputs": {k: list(v.shape) for k, v in feeds.items()},
              "results": rows, "note": note}
    if args.json:
        print_json(result)
        return 0
    shapes = ", ".join(f"{k} {v}" for k, v in result["inputs"].items())
    print(f"{args.model}: {args.warmup} warm-up + {args.repeat} timed runs; inputs {shapes}")
    table = [[r["runtime"], r["median_ms"], r["p90_ms"], r.get("ratio")] for r in rows]
    print(format_table(["runtime", "median ms", "p90 ms", "x onnxruntime"], table))
    if note:
        print(note)
    return 0

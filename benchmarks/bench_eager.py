"""Eager-mode cost of onyx's frontend beside PyTorch on the CPU, in one run.

Two measurements:

* **per-op overhead**: ``a + b``, ``a @ b`` and ``a.relu()`` on small float32 tensors (4x4 and
  32x32), with and without ``requires_grad`` (recording for autograd): microseconds per call,
  median over many calls, ratio onyx/torch. Goal: within 2x of torch. For onyx the same op is
  also timed one layer at a time (NumPy alone, the registered kernel, ``dispatch.apply``, the
  tensor method), which shows where the time goes.
* **training step**: an MLP 784-512-512-10 (Linear+ReLU), batch 256, cross-entropy, Adam:
  ``zero_grad``, forward, ``backward``, ``step``; milliseconds per step, split into phases,
  same initial weights and data in both libraries. Goal: within 1.2x of torch.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_eager \
        --markdown benchmarks/results/eager-cpu-$(date -u +%F).md --note "..."

Reporting follows ``bench_inference``: a table on stdout, ``--json``, ``--markdown`` with the
machine, versions, command, load average and the CPU time other processes took meanwhile.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

import onyx
from benchmarks.bench_inference import (
    CpuShare,
    _align,
    _memory_gib,
    _ms,
    _rounded,
    _share_text,
    cpu_info,
    json_text,
    versions,
)

OPS = ("add", "matmul", "relu")
SIZES = (4, 32)
OP_GOAL, STEP_GOAL = 2.0, 1.2  # onyx/torch ratios the frontend aims to stay under
ONNX_OP = {"add": "Add", "matmul": "MatMul", "relu": "Relu"}
NUMPY_OP = {"add": np.add, "matmul": np.matmul, "relu": lambda x: np.maximum(x, 0)}


# ---------------------------------------------------------------- timing
def time_calls(fn: Callable[[], object], number: int, repeat: int) -> list[float]:
    """Microseconds per call of ``repeat`` samples, each the mean of ``number`` calls."""
    for _ in range(max(number // 10, 1)):
        fn()
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection is noise, not the op's cost
    try:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter_ns() - start) / number / 1e3)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def summarize(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples),
            "stdev": statistics.stdev(samples) if len(samples) > 1 else 0.0,
            "samples": [round(s, 4) for s in samples]}


# ---------------------------------------------------------------- per-op overhead
def op_callables(op: str, size: int, grad: bool, seed: int) -> dict[str, Callable]:
    """The op in each library (and, without grad, in each layer of onyx) on equal inputs."""
    rng = np.random.default_rng(seed)
    xa, xb = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    oa, ob = onyx.tensor(xa, requires_grad=grad), onyx.tensor(xb, requires_grad=grad)
    ta, tb = torch.tensor(xa, requires_grad=grad), torch.tensor(xb, requires_grad=grad)
    calls = {
        "add": {"onyx": lambda: oa + ob, "torch": lambda: ta + tb},
        "matmul": {"onyx": lambda: oa @ ob, "torch": lambda: ta @ tb},
        "relu": {"onyx": lambda: oa.relu(), "torch": lambda: ta.relu()},
    }[op]
    if not grad:
        calls.update(onyx_layers(op, oa, ob))
    return calls


def onyx_layers(op: str, a: onyx.Tensor, b: onyx.Tensor) -> dict[str, Callable]:
    """The op with fewer of onyx's layers around it: NumPy alone, the registered kernel
    called directly, and ``dispatch.apply`` (kernel lookup, wrapping, grad-mode check)."""
    from onyx.backends.numpy.registry import lookup
    from onyx.frontend import dispatch

    onnx_op, np_fn = ONNX_OP[op], NUMPY_OP[op]
    kernel = lookup(onnx_op, "", dispatch.OPSET).fn
    xa, xb = a._data, b._data
    if op == "relu":
        return {"numpy": lambda: np_fn(xa), "kernel": lambda: kernel(xa),
                "apply": lambda: dispatch.apply(onnx_op, a)}
    return {"numpy": lambda: np_fn(xa, xb), "kernel": lambda: kernel(xa, xb),
            "apply": lambda: dispatch.apply(onnx_op, a, b)}


def bench_ops(number: int, repeat: int, seed: int) -> list[dict]:
    rows = []
    for grad in (False, True):
        for size in SIZES:
            for op in OPS:
                row: dict = {"op": op, "shape": [size, size], "requires_grad": grad}
                with CpuShare() as share:
                    for name, fn in op_callables(op, size, grad, seed).items():
                        try:
                            row[name] = summarize(time_calls(fn, number, repeat))
                        except Exception as exc:  # a missing layer is a result, not a crash
                            row[name] = {"error": f"{type(exc).__name__}: {exc}"}
                row["cpu_share"] = share.result
                if "median" in row["onyx"] and "median" in row["torch"]:
                    row["ratio"] = row["onyx"]["median"] / row["torch"]["median"]
                rows.append(row)
    return rows


# ---------------------------------------------------------------- training step
PHASES = ("zero_grad", "forward", "backward", "step")


def mlp_pair(seed: int):
    """The same MLP in torch and onyx (onyx's weights copied from torch's)."""
    torch.manual_seed(seed)
    t_model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 10))
    o_model = onyx.nn.Sequential(onyx.nn.Linear(784, 512), onyx.nn.ReLU(),
                                 onyx.nn.Linear(512, 512), onyx.nn.ReLU(),
                                 onyx.nn.Linear(512, 10))
    o_model.load_state_dict({k: onyx.tensor(v.detach().numpy().copy())
                             for k, v in t_model.state_dict().items()})
    return t_model, o_model


def make_stepper(lib, model, x, y) -> Callable[[], tuple[float, list[float]]]:
    """One training step; returns (loss, seconds per phase)."""
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        t0 = time.perf_counter()
        optimizer.zero_grad()
        t1 = time.perf_counter()
        loss = criterion(model(x), y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        return loss.item(), [t1 - t0, t2 - t1, t3 - t2, t4 - t3]
    return step


def time_steps(step: Callable, warmup: int, repeat: int) -> dict:
    losses = [step()[0] for _ in range(warmup)]
    totals, phases = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            loss, parts = step()
            totals.append((time.perf_counter_ns() - start) / 1e6)
            phases.append(parts)
            losses.append(loss)
    finally:
        if gc_was_enabled:
            gc.enable()
    result = summarize(totals)
    result["phases_median_ms"] = {p: statistics.median(s[i] for s in phases) * 1e3
                                  for i, p in enumerate(PHASES)}
    result["losses"] = losses
    return result


def bench_training(warmup: int, repeat: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    t_model, o_model = mlp_pair(seed)
    steppers = {"onyx": make_stepper(onyx, o_model, onyx.tensor(x), onyx.tensor(y)),
                "torch": make_stepper(torch, t_model, torch.tensor(x), torch.tensor(y))}
    result: dict = {"model": "MLP 784-512-512-10 (Linear+ReLU), batch 256, CrossEntropyLoss, "
                             "Adam lr 1e-3"}
    with CpuShare() as share:
        for name, step in steppers.items():
            with CpuShare() as own:
                result[name] = time_steps(step, warmup, repeat)
            result[name]["cpu_share"] = own.result
    result["cpu_share"] = share.result
    # Same weights, data and update rule: the loss trajectories must agree (sanity check)
    result["max_loss_diff"] = float(np.max(np.abs(np.subtract(result["onyx"]["losses"],
                                                              result["torch"]["losses"]))))
    result["ratio"] = result["onyx"]["median"] / result["torch"]["median"]
    return result


# ---------------------------------------------------------------- environment
def environment(argv: list[str]) -> dict:
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS") if k in os.environ}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, "-m", "benchmarks.bench_eager", *argv]),
        "cwd": os.getcwd(), "platform": platform.platform(), "cpu": cpu_info(),
        "memory_gib": _memory_gib(), "thread_env": threads,
        "torch_threads": torch.get_num_threads(), "versions": versions(("onyx", "numpy", "torch")),
        "loadavg_start": _rounded(os.getloadavg()),
    }


# ---------------------------------------------------------------- reporting
def _us(cell: dict | None) -> str:
    if cell is None:
        return "-"
    return "error" if "error" in cell else _ms(cell["median"])


def _others(share: dict) -> str:
    other = share.get("other_cores_busy")
    return "-" if other is None else f"{other:.2f}"


def ops_table(rows: list[dict]) -> str:
    header = ["op", "shape", "requires_grad", "onyx median us", "onyx min us",
              "torch median us", "torch min us", "onyx/torch", "goal", "others' cores"]
    body = []
    for r in rows:
        ratio = r.get("ratio")
        ok = "-" if ratio is None else ("met" if ratio <= OP_GOAL else "missed")
        body.append([r["op"], "x".join(map(str, r["shape"])), str(r["requires_grad"]),
                     _us(r["onyx"]), _ms(r["onyx"]["min"]) if "min" in r["onyx"] else "-",
                     _us(r["torch"]), _ms(r["torch"]["min"]) if "min" in r["torch"] else "-",
                     "-" if ratio is None else f"{ratio:.2f}", ok, _others(r["cpu_share"])])
    return _align(header, body, text_columns=3)


def layers_table(rows: list[dict]) -> str:
    """Median microseconds of the op in each of onyx's layers, and what each layer adds."""
    header = ["op", "shape", "numpy", "kernel", "dispatch.apply", "tensor method", "torch",
              "kernel - numpy", "apply - kernel", "method - apply"]
    body = []
    for r in rows:
        if r["requires_grad"] or "numpy" not in r:
            continue
        med = [r[k].get("median") for k in ("numpy", "kernel", "apply", "onyx", "torch")]
        deltas = ["-" if a is None or b is None else f"{b - a:.2f}"
                  for a, b in zip(med[:3], med[1:4])]
        body.append([r["op"], "x".join(map(str, r["shape"]))] +
                    ["-" if m is None else _ms(m) for m in med] + deltas)
    return _align(header, body, text_columns=2)


def training_table(res: dict) -> str:
    header = ["library", "median ms", "min ms", "stdev ms"] + [f"{p} ms" for p in PHASES] + \
             ["others' cores"]
    body = []
    for name in ("onyx", "torch"):
        r = res[name]
        body.append([name, _ms(r["median"]), _ms(r["min"]), _ms(r["stdev"])] +
                    [_ms(r["phases_median_ms"][p]) for p in PHASES] +
                    [_others(r["cpu_share"])])
    return _align(header, body)


def training_summary(res: dict) -> str:
    verdict = "met" if res["ratio"] <= STEP_GOAL else "missed"
    return (f"{res['model']}: onyx/torch {res['ratio']:.2f} (goal <= {STEP_GOAL}: {verdict}); "
            f"largest difference between the two libraries' losses over all steps: "
            f"{res['max_loss_diff']:.1e}")


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
        f"torch {v['torch']}, python {v['python']}",
        f"- torch intra-op threads: {env['torch_threads']}; thread environment variables: "
        f"{env['thread_env'] or 'none set'}",
        f"- load average (1, 5, 15 min) at start: {load}; at end: {load_end}",
        f"- CPU use during the run, in cores: {_share_text(env.get('cpu_share', {}))}",
        f"- per-op: {env['number']} calls per sample, {env['repeat']} samples; training: "
        f"warmup {env['warmup']}, {env['steps']} timed steps; seed {env['seed']}",
    ])


def text_report(report: dict) -> str:
    ops, train = report["ops"], report["training"]
    parts = [f"Per-op overhead, microseconds per call (goal: onyx/torch <= {OP_GOAL}):", "",
             ops_table(ops), "", "Where onyx's time goes (median us per call, no grad):", "",
             layers_table(ops)]
    if train is not None:
        parts += ["", "Training step, milliseconds (phases: medians):", "",
                  training_table(train), "", training_summary(train)]
    return "\n".join(parts)


def markdown_report(report: dict) -> str:
    env = report["environment"]
    parts = [f"# Eager mode on CPU, onyx beside torch, {env['date'][:10]}", "", "Command:", "",
             f"```\n{env['command']}\n```", "", "## Machine", "", machine_text(env)]
    if env["notes"]:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in env["notes"]]
    parts += ["", "## Results", "", text_report(report), "", "## Raw JSON", "", "```json",
              json_text(report), "```", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_eager",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--number", type=int, default=200, help="calls per per-op sample")
    p.add_argument("--repeat", type=int, default=100, help="per-op samples")
    p.add_argument("--steps", type=int, default=30, help="timed training steps per library")
    p.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--skip-training", action="store_true", help="per-op overhead only")
    p.add_argument("--json", metavar="PATH", help="write the full results as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write a results page (tables + JSON)")
    p.add_argument("--note", action="append", default=[],
                   help="a remark for the results page, e.g. about machine load (repeatable)")
    args = p.parse_args(argv)
    if min(args.number, args.repeat, args.steps) < 1 or args.warmup < 0:
        p.error("--number, --repeat and --steps must be at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    env = environment(argv)
    env.update(number=args.number, repeat=args.repeat, steps=args.steps, warmup=args.warmup,
               seed=args.seed, notes=args.note)
    with CpuShare() as share:
        print("per-op overhead ...", file=sys.stderr, flush=True)
        ops = bench_ops(args.number, args.repeat, args.seed)
        print("training step ...", file=sys.stderr, flush=True)
        training = None if args.skip_training else \
            bench_training(args.warmup, args.steps, args.seed)
    env["loadavg_end"] = _rounded(os.getloadavg())
    env["cpu_share"] = share.result
    report = {"environment": env, "ops": ops, "training": training}
    print(text_report(report))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json_text(report) + "\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(report))
    return report


if __name__ == "__main__":
    main()

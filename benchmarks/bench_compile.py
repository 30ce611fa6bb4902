"""Compiled inference on CPU: onyx unoptimized, optimized and compiled beside onnxruntime and torch.

One run times, for each model of ``benchmarks.models`` (MLP, CNN, transformer encoder layer, at
the batch sizes of ``bench_inference``), on the same weights and inputs:

* ``onyx-O0``: ``onyx.backend.prepare(model)`` on the model as built (no passes);
* ``onyx-O2``: the same after ``onyx.passes.optimize(model, level=2)``;
* ``onyx-compiled``: the ``onyx.nn`` module holding the same weights, through
  ``onyx.compile(module)``; timed per cached call;
* ``onyx-eager``: the ``onyx.nn`` module called under ``onyx.no_grad()``;
* ``onnxruntime``: ``InferenceSession`` on CPUExecutionProvider, default session options, as in
  ``bench_inference``;
* ``torch`` and ``torch-no_grad``: the equivalent ``torch.nn`` module in eval mode, called
  plainly and under ``torch.no_grad()``.

Besides: the compile time (first call: trace, optimize, prepare, run), the cost of a cached
call on a tiny model against the eager call, the peak memory of one onyx run (tracemalloc, and
the executor's memory plan when it reports one), and the MLP training step, compiled and eager,
against torch eager.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_compile --repeat 30 --warmup 5 \\
        --markdown benchmarks/results/compile-cpu-$(date -u +%F).md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime
import torch

import onyx
import onyx.backend
import onyx.passes
from benchmarks import models
from benchmarks.bench_eager import time_calls
from benchmarks.bench_inference import (
    CpuShare,
    _align,
    _ms,
    _rounded,
    environment,
    json_text,
    machine_text,
    max_abs_diff,
    time_runs,
)

RUNTIMES = ("onnxruntime", "onyx-O0", "onyx-O2", "onyx-compiled", "onyx-eager", "torch",
            "torch-no_grad")
GOAL_ORT, GOAL_TRAIN = 1.0, 1.0  # compiled/ORT inference, compiled/torch training step


# ---------------------------------------------------------------- the models, three ways
@dataclass
class Case:
    """One benchmark model as ONNX, as an onyx.nn module and as a torch module, same weights."""

    name: str
    description: str
    model: onnx.ModelProto
    x: np.ndarray
    onyx_module: onyx.nn.Module
    torch_module: torch.nn.Module


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def _encoder(lib):
    return lib.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)


def _state(name: str, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ONNX initializers under the torch module's state_dict names (the ONNX MatMul
    weights are stored (in, out), torch keeps (out, in) and packs q, k, v together)."""
    if name == "mlp":
        return {f"{i}.{p}": w[f"fc{k}.{p}"] for i, k in ((0, 1), (2, 2), (4, 3))
                for p in ("weight", "bias")}
    if name == "cnn":
        pairs = ((0, "conv1"), (3, "conv2"), (7, "fc"))
        return {f"{i}.{p}": w[f"{n}.{p}"] for i, n in pairs for p in ("weight", "bias")}
    state = {
        "self_attn.in_proj_weight": np.concatenate([w[f"attn.{p}_proj.weight_t"].T
                                                    for p in "qkv"]),
        "self_attn.in_proj_bias": np.concatenate([w[f"attn.{p}_proj.bias"] for p in "qkv"]),
        "self_attn.out_proj.weight": w["attn.out_proj.weight_t"].T,
        "self_attn.out_proj.bias": w["attn.out_proj.bias"],
    }
    for n in ("linear1", "linear2"):
        state[f"{n}.weight"], state[f"{n}.bias"] = w[f"{n}.weight_t"].T, w[f"{n}.bias"]
    for n in ("norm1", "norm2"):
        state[f"{n}.weight"], state[f"{n}.bias"] = w[f"{n}.weight"], w[f"{n}.bias"]
    return state


MODULES = {"mlp": _mlp, "cnn": _cnn, "transformer": _encoder}


BUILDERS = {"mlp": models.build_mlp, "cnn": models.build_cnn,
            "transformer": models.build_transformer_layer}


def build_case(name: str, seed: int, batch: int | None = None, seq: int | None = None) -> Case:
    """The named model at its benchmark size, or at ``batch`` (and ``seq``) when given."""
    bench = models.build(name, seed)
    sizes = {} if batch is None else {"batch": batch}
    if name == "transformer" and seq is not None:
        sizes["seq"] = seq
    model = BUILDERS[name](seed=seed, **sizes) if sizes else bench.model
    x = models.make_inputs(model, seed)["x"]
    state = {k: np.ascontiguousarray(v)
             for k, v in _state(name, models.initializers(model)).items()}
    t_module, o_module = MODULES[name](torch), MODULES[name](onyx)
    t_module.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    o_module.load_state_dict({k: onyx.tensor(v.copy()) for k, v in state.items()})
    description = bench.description + (f" (resized: {sizes})" if sizes else "")
    return Case(name, description, model, x, o_module.eval(), t_module.eval())


# ---------------------------------------------------------------- runtimes
Runner = Callable[[], list]


def _numpy(outputs) -> list[np.ndarray]:
    if isinstance(outputs, (onyx.Tensor, torch.Tensor)):
        outputs = [outputs]
    return [o.detach().numpy() if hasattr(o, "detach") else np.asarray(o) for o in outputs]


def prepare_levels(case: Case, level: int) -> Runner:
    model = onyx.ir.load(case.model)
    if level:
        model, _ = onyx.passes.optimize(model, level=level)
    rep = onyx.backend.prepare(model)
    return lambda: list(rep.run([case.x]))


def compile_module(module: onyx.nn.Module, x: np.ndarray) -> tuple[Callable, str]:
    """(cached call, how it was compiled). The first call (compile + run) happens here."""
    fn, xt = onyx.compile(module), onyx.tensor(x)
    with onyx.no_grad():
        fn(xt)

    def call():
        with onyx.no_grad():
            return fn(xt)
    return call, "onyx.compile(module)"


def prepare_compiled(case: Case) -> Runner:
    return compile_module(case.onyx_module, case.x)[0]


def prepare_onyx_eager(case: Case) -> Runner:
    xt = onyx.tensor(case.x)

    def run():
        with onyx.no_grad():
            return case.onyx_module(xt)
    return run


def prepare_onnxruntime(case: Case) -> Runner:
    session = onnxruntime.InferenceSession(case.model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    feeds = {"x": case.x}
    return lambda: session.run(None, feeds)


def prepare_torch(case: Case, grad: bool) -> Runner:
    xt = torch.from_numpy(case.x)
    if grad:
        return lambda: case.torch_module(xt)

    def run():
        with torch.no_grad():
            return case.torch_module(xt)
    return run


PREPARE: dict[str, Callable[[Case], Runner]] = {
    "onyx-O0": lambda c: prepare_levels(c, 0),
    "onyx-O2": lambda c: prepare_levels(c, 2),
    "onyx-compiled": prepare_compiled,
    "onyx-eager": prepare_onyx_eager,
    "onnxruntime": prepare_onnxruntime,
    "torch": lambda c: prepare_torch(c, True),
    "torch-no_grad": lambda c: prepare_torch(c, False),
}


# ---------------------------------------------------------------- inference
def bench_runtime(name: str, case: Case, warmup: int, repeat: int) -> dict:
    result: dict = {"runtime": name}
    try:
        start = time.perf_counter_ns()
        run = PREPARE[name](case)
        result["setup_ms"] = (time.perf_counter_ns() - start) / 1e6
        with CpuShare() as share:
            samples, outputs = time_runs(run, warmup, repeat)
    except Exception as exc:  # a runtime that cannot run a model is a result, not a crash
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.update(median_ms=statistics.median(samples), min_ms=min(samples),
                  stdev_ms=statistics.stdev(samples) if len(samples) > 1 else 0.0,
                  samples_ms=[round(s, 4) for s in samples], cpu_share=share.result,
                  outputs=_numpy(outputs))
    return result


def bench_model(case: Case, runtimes: list[str], warmup: int, repeat: int,
                pause: float = 0.0) -> dict:
    print(f"{case.name} ...", file=sys.stderr, flush=True)
    rows = []
    for name in runtimes:
        # The runtimes share one process: OpenBLAS's, ORT's and torch's worker threads keep
        # spinning for a while after their last call and would slow down the next runtime.
        time.sleep(pause)
        rows.append(bench_runtime(name, case, warmup, repeat))
    ran = {r["runtime"]: r for r in rows if "outputs" in r}
    oracle = ran.get("onnxruntime") or next(iter(ran.values()), None)
    for r in ran.values():
        r["max_abs_diff"] = max_abs_diff(r.pop("outputs"), oracle["outputs"]) \
            if r is not oracle else 0.0
    if oracle is not None:
        oracle.pop("outputs", None)
    medians = {k: r["median_ms"] for k, r in ran.items()}
    ratios = {f"{a}/{b}": medians[a] / medians[b] for a in runtimes if a.startswith("onyx")
              for b in ("onnxruntime", "torch", "torch-no_grad") if a in medians and b in medians}
    return {"model": case.name, "description": case.description,
            "x": list(case.x.shape), "runtimes": rows, "ratios": ratios}


# ---------------------------------------------------------------- compile time, overhead
def bench_compile_time(case: Case, times: int) -> dict:
    """Milliseconds of the first call (compile + run) of a fresh compiled callable."""
    samples, how = [], ""
    for _ in range(times):
        start = time.perf_counter_ns()
        _, how = compile_module(case.onyx_module, case.x)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return {"model": case.name, "how": how, "median_ms": statistics.median(samples),
            "min_ms": min(samples), "samples_ms": [round(s, 3) for s in samples]}


def tiny_calls(seed: int) -> dict[str, Callable]:
    """One call of a Linear(4, 4) on a 2x4 input in every runtime."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    o_module, t_module = onyx.nn.Linear(4, 4).eval(), torch.nn.Linear(4, 4).eval()
    o_module.load_state_dict({k: onyx.tensor(v.detach().numpy().copy())
                              for k, v in t_module.state_dict().items()})
    compiled, _ = compile_module(o_module, x)
    xo, xt = onyx.tensor(x), torch.from_numpy(x)
    model = _tiny_onnx(t_module)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    rep = onyx.backend.prepare(model)

    def eager():
        with onyx.no_grad():
            return o_module(xo)

    def torch_no_grad():
        with torch.no_grad():
            return t_module(xt)
    return {"onyx-compiled (cached call)": compiled, "onyx-eager (no_grad)": eager,
            "onyx backend rep.run": lambda: rep.run([x]),
            "onyx Executor.run": lambda: rep.executor.run([x]),
            "onnxruntime": lambda: session.run(None, {"x": x}),
            "torch": lambda: t_module(xt), "torch-no_grad": torch_no_grad}


def _tiny_onnx(t_module: torch.nn.Linear) -> onnx.ModelProto:
    h = onnx.helper
    w = onnx.numpy_helper.from_array(t_module.weight.detach().numpy(), "w")
    b = onnx.numpy_helper.from_array(t_module.bias.detach().numpy(), "b")
    graph = h.make_graph([h.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "tiny",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 4])], [w, b])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    return model


def bench_overhead(number: int, repeat: int, seed: int) -> dict:
    rows = {}
    for name, fn in tiny_calls(seed).items():
        try:
            samples = time_calls(fn, number, repeat)
            rows[name] = {"median_us": statistics.median(samples), "min_us": min(samples)}
        except Exception as exc:
            rows[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return rows


# ---------------------------------------------------------------- memory
def peak_bytes(run: Runner) -> int:
    """Peak bytes allocated (NumPy buffers included) during one call, above what was live."""
    run()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def memory_plan_report(case: Case) -> dict | None:
    """The executor's own memory-plan figures when it reports any (planned vs unplanned)."""
    model, _ = onyx.passes.optimize(onyx.ir.load(case.model), level=2)
    executor = onyx.backend.prepare(model).executor
    for owner in (executor, getattr(executor, "plan", None)):
        for attr in ("memory_report", "memory_plan"):
            report = getattr(owner, attr, None)
            if report is not None:
                report = report() if callable(report) else report
                return report if isinstance(report, dict) else {"report": str(report)}
    return None


def bench_memory(case: Case) -> dict:
    rows: dict = {"model": case.name, "input_bytes": int(case.x.nbytes)}
    for name in ("onyx-O0", "onyx-O2", "onyx-compiled"):
        try:
            rows[name] = peak_bytes(PREPARE[name](case))
        except Exception as exc:
            rows[name] = f"error: {type(exc).__name__}: {exc}"
    rows["memory_plan"] = memory_plan_report(case)
    return rows


# ---------------------------------------------------------------- training step
def bench_training(warmup: int, repeat: int, seed: int, batch: int = 256) -> dict:
    """The bench_eager MLP step (CrossEntropyLoss, Adam): torch eager, onyx eager and onyx
    compiled; a runtime that fails is recorded with its error."""
    from benchmarks.bench_eager import make_stepper, mlp_pair, time_steps
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    result: dict = {"model": f"MLP 784-512-512-10, batch {batch}, CrossEntropyLoss, Adam 1e-3"}
    steppers = {"torch": (torch, torch.tensor(x), torch.tensor(y)),
                "onyx-eager": (onyx, onyx.tensor(x), onyx.tensor(y))}
    for name, (lib, xs, ys) in steppers.items():
        t_model, o_model = mlp_pair(seed)
        step = make_stepper(lib, t_model if lib is torch else o_model, xs, ys)
        result[name] = _timed_steps(time_steps, step, warmup, repeat)
    result["onyx-compiled"] = _timed_steps(time_steps, compiled_stepper(seed, x, y), warmup,
                                           repeat)
    for name in ("onyx-eager", "onyx-compiled"):
        if "median" in result[name] and "median" in result["torch"]:
            result[f"{name}/torch"] = result[name]["median"] / result["torch"]["median"]
            result[f"{name} max loss diff"] = float(np.max(np.abs(np.subtract(
                result[name]["losses"], result["torch"]["losses"]))))
    return result


def _timed_steps(time_steps, step, warmup: int, repeat: int) -> dict:
    try:
        with CpuShare() as share:
            out = time_steps(step, warmup, repeat)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    out["cpu_share"] = share.result
    return out


def compiled_stepper(seed: int, x: np.ndarray, y: np.ndarray):
    """A compiled training step, shaped as bench_eager's steppers are."""
    from benchmarks.bench_eager import mlp_pair
    _, model = mlp_pair(seed)
    optimizer = onyx.optim.Adam(model.parameters(), lr=1e-3)
    criterion = onyx.nn.CrossEntropyLoss()

    def train_step(xs, ys):
        optimizer.zero_grad()
        loss = criterion(model(xs), ys)
        loss.backward()
        optimizer.step()
        return loss
    compiled, xs, ys = onyx.compile(train_step), onyx.tensor(x), onyx.tensor(y)

    def step():
        return float(compiled(xs, ys).item()), [0.0, 0.0, 0.0, 0.0]
    return step


# ---------------------------------------------------------------- reporting
def _cell(row: dict | None, key: str = "median_ms") -> str:
    if row is None:
        return "-"
    return "error" if "error" in row else _ms(row[key])


def inference_table(results: list[dict], runtimes: list[str]) -> str:
    ratio_keys = [k for k in ("onyx-O2/onnxruntime", "onyx-compiled/onnxruntime",
                              "onyx-compiled/torch", "onyx-compiled/torch-no_grad")
                  if any(k in r["ratios"] for r in results)]
    header = ["model"] + [f"{n} ms" for n in runtimes] + ratio_keys
    body = []
    for res in results:
        by_name = {r["runtime"]: r for r in res["runtimes"]}
        body.append([res["model"]] + [_cell(by_name.get(n)) for n in runtimes] +
                    [f"{res['ratios'][k]:.2f}" if k in res["ratios"] else "-"
                     for k in ratio_keys])
    return _align(header, body)


def detail_table(results: list[dict]) -> str:
    header = ["model", "runtime", "setup ms", "median ms", "min ms", "stdev ms",
              "max abs diff vs ORT", "others' cores"]
    body = []
    for res in results:
        for r in res["runtimes"]:
            if "error" in r:
                body.append([res["model"], r["runtime"]] + ["-"] * 5 + ["error"])
                continue
            other = r["cpu_share"].get("other_cores_busy")
            body.append([res["model"], r["runtime"]] +
                        [_ms(r[k]) for k in ("setup_ms", "median_ms", "min_ms", "stdev_ms")] +
                        [f"{r['max_abs_diff']:.1e}", "-" if other is None else f"{other:.2f}"])
    return _align(header, body, text_columns=2)


def compile_table(rows: list[dict]) -> str:
    body = [[r["model"], r["how"], _ms(r["median_ms"]), _ms(r["min_ms"])] for r in rows]
    return _align(["model", "compiled with", "first call median ms", "min ms"], body,
                  text_columns=2)


def overhead_table(rows: dict) -> str:
    body = [[name, _cell(r, "median_us"), _cell(r, "min_us")] for name, r in rows.items()]
    return _align(["tiny Linear(4, 4), batch 2", "median us per call", "min us"], body)


def memory_table(rows: list[dict]) -> str:
    names = ("onyx-O0", "onyx-O2", "onyx-compiled")
    body = []
    for r in rows:
        cells = [f"{r[n] / 2**20:.2f}" if isinstance(r[n], int) else "error" for n in names]
        plan = "none reported" if r["memory_plan"] is None else str(r["memory_plan"])
        body.append([r["model"], f"{r['input_bytes'] / 2**20:.2f}"] + cells + [plan])
    header = ["model", "input MiB"] + [f"{n} peak MiB" for n in names] + ["executor memory plan"]
    return _align(header, body)


def training_table(res: dict) -> str:
    body = []
    for name in ("torch", "onyx-eager", "onyx-compiled"):
        r = res[name]
        if "error" in r:
            body.append([name, "-", "-", "-", r["error"]])
            continue
        ratio = res.get(f"{name}/torch")
        body.append([name, _ms(r["median"]), _ms(r["min"]),
                     "-" if ratio is None else f"{ratio:.2f}",
                     f"max loss diff vs torch {res.get(f'{name} max loss diff', 0.0):.1e}"])
    return _align(["library", "median ms", "min ms", "x torch", "note"], body)


def text_report(report: dict) -> str:
    env = report["environment"]
    parts = ["Inference, milliseconds per call (median); ratios above 1: onyx is slower "
             f"(goal: compiled/onnxruntime <= {GOAL_ORT}, compiled faster than torch):", "",
             inference_table(report["results"], env["runtimes"]), "",
             detail_table(report["results"])]
    if report.get("compile"):
        parts += ["", "Compile time (first call of a fresh compiled callable):", "",
                  compile_table(report["compile"])]
    if report.get("overhead"):
        parts += ["", "Per-call overhead:", "", overhead_table(report["overhead"])]
    if report.get("memory"):
        parts += ["", "Peak memory of one call above what was live before it (tracemalloc):",
                  "", memory_table(report["memory"])]
    if report.get("training"):
        parts += ["", f"Training step ({report['training']['model']}; goal: compiled/torch <= "
                      f"{GOAL_TRAIN}):", "", training_table(report["training"])]
    return "\n".join(parts)


def markdown_report(report: dict) -> str:
    env = report["environment"]
    parts = [f"# Compiled inference on CPU, {env['date'][:10]}", "", "Command:", "",
             f"```\n{env['command']}\n```", "", "## Machine", "", machine_text(env),
             f"- torch intra-op threads: {env['torch_threads']}",
             "- onnxruntime: CPUExecutionProvider, default session options (all graph "
             "optimizations, intra-op threads left to ORT)",
             f"- idle pause before each runtime: {env['pause_s']} s (worker threads of the "
             "previous runtime stop spinning)"]
    if env["notes"]:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in env["notes"]]
    parts += ["", "## Results", "", text_report(report), "", "## Raw JSON", "", "```json",
              json_text(report), "```", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_compile",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(models.NAMES))
    p.add_argument("--runtimes", default=",".join(RUNTIMES))
    p.add_argument("--repeat", type=int, default=20, help="timed runs per model and runtime")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before timing")
    p.add_argument("--compiles", type=int, default=3, help="fresh compiles timed per model")
    p.add_argument("--calls", type=int, default=200, help="tiny-model calls per sample")
    p.add_argument("--train-steps", type=int, default=20, help="timed training steps (0: skip)")
    p.add_argument("--batch", type=int, help="override every model's batch size (smoke runs)")
    p.add_argument("--seq", type=int, help="override the transformer's sequence length")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pause", type=float, default=1.0,
                   help="seconds of idle before each runtime, so the previous runtime's "
                        "spinning worker threads have gone to sleep")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--markdown", metavar="PATH")
    p.add_argument("--note", action="append", default=[])
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    bad = sorted(set(args.models) - set(models.NAMES)) + sorted(set(args.runtimes) -
                                                                set(RUNTIMES))
    if bad:
        p.error(f"unknown model(s)/runtime(s) {bad}")
    if min(args.repeat, args.compiles, args.calls) < 1 or args.warmup < 0:
        p.error("--repeat, --compiles and --calls must be at least 1, --warmup at least 0")
    return args


def run_all(args: argparse.Namespace) -> dict:
    cases = [build_case(m, args.seed, args.batch, args.seq) for m in args.models]
    report: dict = {"results": [bench_model(c, args.runtimes, args.warmup, args.repeat,
                                            args.pause) for c in cases]}
    print("compile time, overhead, memory ...", file=sys.stderr, flush=True)
    report["compile"] = [bench_compile_time(c, args.compiles) for c in cases]
    report["overhead"] = bench_overhead(args.calls, 30, args.seed)
    report["memory"] = [bench_memory(c) for c in cases]
    if args.train_steps:
        print("training step ...", file=sys.stderr, flush=True)
        report["training"] = bench_training(max(args.warmup, 1), args.train_steps, args.seed,
                                            batch=args.batch or 256)
    return report


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    env = environment(argv)
    env["command"] = env["command"].replace("bench_inference", "bench_compile")
    env.update(warmup=args.warmup, repeat=args.repeat, seed=args.seed, notes=args.note,
               pause_s=args.pause,
               runtimes=args.runtimes, models=args.models, torch_threads=torch.get_num_threads())
    env["versions"]["torch"] = torch.__version__
    with CpuShare() as share:
        report = run_all(args)
    env["loadavg_end"] = _rounded(os.getloadavg())
    env["cpu_share"] = share.result
    report = {"environment": env, **report}
    print(text_report(report))
    for path, text in ((args.json, json_text(report) + "\n"),
                       (args.markdown, markdown_report(report))):
        if path:
            with open(path, "w") as f:
                f.write(text)
    return report


if __name__ == "__main__":
    main()

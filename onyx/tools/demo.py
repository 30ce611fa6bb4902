"""``onyx demo``: the whole of onyx in under a minute on a laptop.

Trains a small CNN on scikit-learn's 8x8 digits in eager mode (DataLoader, Adam, a one-cycle
learning rate) while logging to TensorBoard; compiles it and compares inference speed eager vs
compiled; exports it to ONNX and runs the file in onnxruntime; saves a checkpoint and reloads
it; writes the optimized graph's IR. Every step checks its result (equal outputs within
tolerance) and the exit code is 1 if one does not hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from onyx.tools.table import paint, print_json, progress

EXAMPLE = "onyx demo --epochs 1 --out demo-run"
TOLERANCE = 1e-4  # float32 logits of order 10: differences from op order stay below this


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="train, compile, export and reload a CNN on the digits",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"examples:\n  onyx demo\n  {EXAMPLE}\n"
                              "needs scikit-learn and onnxruntime: pip install 'onyx[demo]'")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--out", default="onyx-demo",
                   help="folder for the logs, model, checkpoint and dump (default ./onyx-demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split and weights")
    p.add_argument("--json", action="store_true", help="print the results as JSON only")
    p.set_defaults(func=main)


class Reporter:
    """Step headings and result lines on stdout; silent in ``--json`` mode."""

    def __init__(self, quiet: bool, steps: int) -> None:
        self.quiet, self.steps, self.step = quiet, steps, 0

    def heading(self, title: str) -> None:
        self.step += 1
        self.line(paint(f"[{self.step}/{self.steps}] {title}", "bold"))

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def check(self, ok: bool, text: str) -> None:
        self.line(f"  {text}  " + (paint("ok", "green") if ok else paint("FAILED", "red")))


def _loaders(seed: int):
    import onyx.vision.transforms as transforms
    from onyx.tools.digits import digits_split
    from onyx.utils.data import DataLoader
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_set, test_set = digits_split(transform, seed=seed)
    train = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=2)
    test = DataLoader(test_set, batch_size=len(test_set), shuffle=False)
    return train, test


def _accuracy(logits, labels) -> float:
    return float((logits.argmax(dim=1) == labels).float().mean().item())


def train(model, train_loader, test_images, test_labels, epochs: int, writer,
          rep: Reporter) -> dict:
    """Eager training with Adam and a one-cycle schedule; logs to ``writer``."""
    import onyx
    import onyx.optim as optim
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, epochs=epochs,
                                              steps_per_epoch=len(train_loader))
    history, step = [], 0
    for epoch in range(1, epochs + 1):
        loss, train_acc, step = _train_epoch(model, train_loader, optimizer, scheduler, writer,
                                             step, f"epoch {epoch}/{epochs}", rep.quiet)
        _log_distributions(writer, model, epoch)
        model.eval()
        with onyx.no_grad():
            test_acc = _accuracy(model(test_images), test_labels)
        model.train()
        history.append({"epoch": epoch, "loss": loss, "train_accuracy": train_acc,
                        "test_accuracy": test_acc})
        writer.add_scalars("accuracy", {"train": train_acc, "test": test_acc}, epoch)
        rep.line(f"  epoch {epoch:2d}/{epochs}  loss {loss:.4f}  "
                 f"train accuracy {train_acc:6.2%}  test accuracy {test_acc:6.2%}")
    return {"history": history, "accuracy": history[-1]["test_accuracy"], "steps": step,
            "optimizer_state": optimizer.state_dict()}


def _train_epoch(model, loader, optimizer, scheduler, writer, step: int, title: str,
                 quiet: bool) -> tuple[float, float, int]:
    """One pass over ``loader``; returns mean loss, accuracy and the next global step."""
    import onyx.nn as nn
    criterion = nn.CrossEntropyLoss()
    total = correct = seen = 0.0
    with progress(len(loader), title, unit="batch", enabled=not quiet) as bar:
        for images, labels in loader:
            optimizer.zero_grad()
            logits = model(images)
            loss = criterion(logits, labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
            n = labels.shape[0]
            total, seen = total + loss.item() * n, seen + n
            correct += _accuracy(logits, labels) * n
            writer.add_scalar("loss/train", loss, step)
            step += 1
            bar.set_postfix(loss=f"{total / seen:.4f}", acc=f"{correct / seen:.1%}")
            bar.update(1)
    return total / seen, correct / seen, step


def _log_distributions(writer, model, epoch: int) -> None:
    for name, p in model.named_parameters():
        writer.add_histogram(f"parameters/{name}", p, epoch)
        if p.grad is not None:
            writer.add_histogram(f"gradients/{name}", p.grad, epoch)


def _median_seconds(fn, x, repeat: int = 20) -> float:
    fn(x)  # warm-up: the compiled function traces and prepares on its first call
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compile_step(model, images, rep: Reporter) -> dict:
    """``onyx.compile`` the trained model; compare its outputs and speed with eager mode, on
    one image (where per-op overhead dominates) and on the whole test set."""
    import onyx
    model.eval()
    with onyx.no_grad():
        start = time.perf_counter()
        compiled = onyx.compile(model)
        first = compiled(images)
        first_call_s = time.perf_counter() - start
        diff = float(np.abs(first.numpy() - model(images).numpy()).max())
        timings = []
        for batch in (1, images.shape[0]):
            eager_s = _median_seconds(model, images[:batch])
            compiled_s = _median_seconds(compiled, images[:batch])
            timings.append({"batch": batch, "eager_ms": eager_s * 1e3,
                            "compiled_ms": compiled_s * 1e3, "speedup": eager_s / compiled_s})
    ok = diff <= TOLERANCE
    rep.line(f"  first call (trace, optimize, prepare): {first_call_s * 1e3:.0f} ms")
    for t in timings:
        rep.line(f"  batch {t['batch']:3d}: eager {t['eager_ms']:.3f} ms, compiled "
                 f"{t['compiled_ms']:.3f} ms, speed-up {t['speedup']:.2f}x")
    rep.check(ok, f"compiled vs eager outputs: max difference {diff:.2e}")
    return {"first_call_ms": first_call_s * 1e3, "timings": timings, "max_diff": diff,
            "ok": ok}


def export_step(model, images, path: str, rep: Reporter) -> dict:
    """Export with ``onyx.onnx.export`` (batch dimension symbolic); run the file in
    onnxruntime and compare."""
    import onnx

    import onyx
    import onyx.onnx
    model.eval()
    onyx.onnx.export(model, (images[:1],), path, input_names=["image"],
                     output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    onnx.checker.check_model(path)
    with onyx.no_grad():
        expected = model(images).numpy()
    rep.line(f"  wrote {path} (passes onnx.checker)")
    try:
        import onnxruntime
    except ImportError:
        rep.line("  onnxruntime is not installed (pip install 'onyx[demo]'): not compared")
        return {"path": path, "onnxruntime": None, "max_diff": None, "ok": True}
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # only errors: its notes on unused initializers are noise
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": images.numpy()})
    diff = float(np.abs(got - expected).max())
    ok = diff <= TOLERANCE
    rep.check(ok, f"onnxruntime {onnxruntime.__version__} vs onyx: max difference {diff:.2e}")
    return {"path": path, "onnxruntime": onnxruntime.__version__, "max_diff": diff, "ok": ok}


def checkpoint_step(model, optimizer_state: dict, epochs: int, images, path: str,
                    rep: Reporter) -> dict:
    """``onyx.save`` a checkpoint, ``onyx.load`` it into a fresh model, compare outputs."""
    import onyx
    from onyx.tools.digits import DigitsCNN
    onyx.save({"model": model.state_dict(), "optimizer": optimizer_state, "epoch": epochs},
              path)
    ckpt = onyx.load(path)
    fresh = DigitsCNN()
    fresh.load_state_dict(ckpt["model"])
    fresh.eval()
    model.eval()
    with onyx.no_grad():
        equal = bool(np.array_equal(fresh(images).numpy(), model(images).numpy()))
    rep.line(f"  wrote {path} ({os.path.getsize(path):,} bytes, epoch {ckpt['epoch']})")
    rep.check(equal, "reloaded model gives equal outputs")
    return {"path": path, "bytes": os.path.getsize(path), "equal_outputs": equal, "ok": equal}


def dump_step(onnx_path: str, path: str, rep: Reporter) -> dict:
    """The exported graph after the optimizing pipeline, as ``onyx dump`` prints it."""
    from onyx import ir
    from onyx.passes import optimize
    model = ir.load(onnx_path)
    optimized, report = optimize(model, level=2)
    with open(path, "w", encoding="utf-8") as f:
        f.write(ir.format_model(optimized))
    ops = [n.op_type for n in optimized.graph]
    rep.line(f"  {len(model.graph)} nodes exported, {len(ops)} after optimizing "
             f"({', '.join(dict.fromkeys(ops))}); wrote {path}")
    return {"path": path, "nodes_exported": len(model.graph), "nodes_optimized": len(ops)}


def run_demo(epochs: int = 10, out: str = "onyx-demo", seed: int = 0,
             quiet: bool = False) -> dict:
    """Every step of ``onyx demo``; returns what each produced and whether its check held."""
    if epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {epochs}")
    import onyx
    from onyx.tools.digits import DigitsCNN
    start = time.perf_counter()
    rep = Reporter(quiet, steps=6)
    paths = _paths(out)
    onyx.manual_seed(seed)
    train_loader, test_loader = _loaders(seed)
    test_images, test_labels = next(iter(test_loader))
    model = DigitsCNN()
    rep.line(f"onyx demo: a CNN on scikit-learn's 8x8 digits, {len(train_loader.dataset)} "
             f"training and {len(test_labels)} test images")
    results: dict = {"epochs": epochs, "seed": seed, "paths": paths}
    rep.heading(f"train in eager mode: {epochs} epochs, DataLoader, Adam")
    results["train"] = _train_logged(model, train_loader, test_images, test_labels, epochs,
                                     seed, paths["tensorboard"], rep)
    optimizer_state = results["train"].pop("optimizer_state")
    rep.heading("compile: onyx.compile(model)")
    results["compile"] = compile_step(model, test_images, rep)
    rep.heading("export: onyx.onnx.export, run in onnxruntime")
    results["export"] = export_step(model, test_images, paths["onnx"], rep)
    rep.heading("checkpoint: onyx.save / onyx.load")
    results["checkpoint"] = checkpoint_step(model, optimizer_state, epochs, test_images,
                                            paths["checkpoint"], rep)
    rep.heading("IR dump of the optimized graph")
    results["dump"] = dump_step(paths["onnx"], paths["dump"], rep)
    results["ok"] = all(results[k]["ok"] for k in ("compile", "export", "checkpoint"))
    results["seconds"] = time.perf_counter() - start
    rep.heading(f"done in {results['seconds']:.1f} s; written:")
    _print_paths(paths, rep)
    return results


def _paths(out: str) -> dict[str, str]:
    os.makedirs(out, exist_ok=True)
    return {"tensorboard": os.path.join(out, "tensorboard"),
            "onnx": os.path.join(out, "digits_cnn.onnx"),
            "checkpoint": os.path.join(out, "checkpoint.onyx"),
            "dump": os.path.join(out, "digits_cnn.optimized.txt")}


def _train_logged(model, train_loader, test_images, test_labels, epochs: int, seed: int,
                  log_dir: str, rep: Reporter) -> dict:
    """``train`` with a TensorBoard writer: graph, curves, distributions, hyper-parameters."""
    from onyx.utils.tensorboard import SummaryWriter
    with SummaryWriter(log_dir) as writer:
        writer.add_graph(model, test_images[:1])
        trained = train(model, train_loader, test_images, test_labels, epochs, writer, rep)
        writer.add_hparams({"epochs": epochs, "seed": seed, "lr": 1e-2, "batch_size": 64},
                           {"hparam/test_accuracy": trained["accuracy"]}, run_name="hparams")
    rep.line(f"  test accuracy {trained['accuracy']:.2%}; TensorBoard logs in {log_dir}")
    return trained


def _print_paths(paths: dict, rep: Reporter) -> None:
    labels = {"tensorboard": "TensorBoard logs", "onnx": "ONNX model",
              "checkpoint": "checkpoint", "dump": "IR dump"}
    for key, label in labels.items():
        rep.line(f"  {label:17s} {paths[key]}")
    rep.line(f"  view the logs with: tensorboard --logdir {paths['tensorboard']}")
    rep.line(f"  inspect the model with: onyx info {paths['onnx']}")


def main(args) -> int:
    results = run_demo(epochs=args.epochs, out=args.out, seed=args.seed, quiet=args.json)
    if args.json:
        print_json(results)
    elif not results["ok"]:
        print("a check failed: see the lines marked FAILED above", file=sys.stderr)
    return 0 if results["ok"] else 1

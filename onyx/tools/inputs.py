"""Reading model inputs for the CLI: ``.npy``, ``.npz``, ONNX ``TensorProto`` ``.pb`` files, or
random values of the declared shapes."""

from __future__ import annotations

import os

import numpy as np
import onnx

from onyx import ir
from onyx.ir.errors import InputError


def add_input_arguments(p, *, random_flag: bool = False) -> None:
    """The input options the commands that run a model share: ``-i NAME=FILE``, ``--seed``,
    ``--dim NAME=N`` and, where missing inputs are not random anyway, ``--random``."""
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE",
                   help="an input from .npy, .npz or TensorProto .pb (repeatable)")
    if random_flag:
        p.add_argument("--random", action="store_true", help="fill missing inputs at random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    add_dim_argument(p, "size of a symbolic dimension in the random inputs")


def add_dim_argument(p, help: str) -> None:
    p.add_argument("--dim", action="append", default=[], metavar="NAME=N", help=help)


def parse_dims(specs: list[str]) -> dict[str, int]:
    """``NAME=N`` strings as a dict; a malformed one is a usage error."""
    dims = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"--dim expects NAME=N with N a non-negative integer, got {spec!r}")
        dims[name] = int(value)
    return dims


def inputs_from_args(model: ir.Model, args, *, random: bool) -> dict[str, np.ndarray]:
    """The feeds the options of ``add_input_arguments`` describe."""
    return load_inputs(model, args.input, random=random, seed=args.seed,
                       dims=parse_dims(args.dim))


def load_inputs(model: ir.Model, specs: list[str], *, random: bool = False, seed: int = 0,
                dims: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Inputs from ``name=path`` specs (or bare paths in input order); the rest random if asked."""
    free = [v for v in model.graph.inputs if v.const is None]
    feeds: dict[str, np.ndarray] = {}
    for i, spec in enumerate(specs):
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = (free[i].name if i < len(free) else f"#{i}"), spec
        feeds.update(_read(name, path))
    unknown = sorted(set(feeds) - {v.name for v in free})
    if unknown:
        raise InputError(f"unknown input(s) {unknown}; the model takes {[v.name for v in free]}")
    if random:
        rng = np.random.default_rng(seed)
        for v in free:
            if v.name not in feeds:
                feeds[v.name] = random_input(v, rng, dims or {})
    return feeds


def _read(name: str, path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise InputError(f"input file {path!r} not found")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if path.endswith(".npy"):
        return {name: np.load(path, allow_pickle=False)}
    if path.endswith(".pb"):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            try:
                t.ParseFromString(f.read())
            except Exception as exc:
                raise InputError(f"{path!r} is not a TensorProto: {exc}") from None
        return {name: ir.Tensor(proto=t).numpy()}
    raise InputError(f"input file {path!r}: expected .npy, .npz or .pb")


def random_input(v: ir.Value, rng: np.random.Generator, dims: dict[str, int]) -> np.ndarray:
    t = v.type
    if not isinstance(t, ir.TensorType):
        raise InputError(f"input {v.name!r} of type {t} cannot be generated at random")
    shape = []
    for d in t.shape or ():
        if isinstance(d, int):
            shape.append(d)
        elif isinstance(d, str) and d in dims:
            shape.append(dims[d])
        else:
            shape.append(1)  # an unnamed or unbound symbolic dimension: smallest legal size
    ir.limits.check_elements(shape, t.dtype.itemsize_bits, f"input {v.name!r}")
    dt = t.dtype
    if dt is ir.DType.BOOL:
        return rng.random(shape) < 0.5
    if dt.is_integer:
        return rng.integers(0, 10, shape).astype(dt.numpy)
    if dt is ir.DType.STRING:
        return np.array(rng.choice(["a", "b", "c"], shape), dtype=object)
    return rng.standard_normal(shape).astype(dt.numpy)


def save_outputs(names: list[str], values: list, folder: str) -> list[str]:
    """Write each output as ``<name>.npy``; nothing is written unless every output is a tensor."""
    paths = []
    for name, value in zip(names, values):
        if not isinstance(value, np.ndarray):
            raise InputError(f"output {name!r} is a {type(value).__name__}, not a tensor: "
                             f"it cannot be written as .npy")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "output"
        paths.append(os.path.join(folder, safe + ".npy"))
    os.makedirs(folder, exist_ok=True)
    for path, value in zip(paths, values):
        np.save(path, value, allow_pickle=False)
    return paths

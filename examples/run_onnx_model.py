"""Build a small ONNX classifier, save it, load it back with onyx, print its IR and run it.

    python examples/run_onnx_model.py [--out out]
"""

import argparse
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onyx import ir
from onyx.backends.numpy import Executor


def build_model(seed: int = 0) -> onnx.ModelProto:
    """A 16-32-4 MLP with a symbolic batch dimension: Gemm, Relu, Gemm, Softmax."""
    rng = np.random.default_rng(seed)
    weights = [
        numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32) * 0.3, "w1"),
        numpy_helper.from_array(np.zeros(32, np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((32, 4)).astype(np.float32) * 0.3, "w2"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["a"], name="act"),
        helper.make_node("Gemm", ["a", "w2", "b2"], ["logits"], name="fc2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_mlp", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                           ["batch", 16])],
        [helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, ["batch", 4])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="onyx-example")
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out", help="folder for the model file")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tiny_mlp.onnx")
    onnx.save(build_model(), path)
    print(f"saved {path}\n")

    model = ir.load(path)
    model.graph.verify()
    print(ir.format_model(model))

    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    (probs,) = Executor(model).run({"x": x})
    print("outputs for a batch of 3:")
    with np.printoptions(precision=4, suppress=True):
        print(probs)
    print("row sums:", probs.sum(axis=1).round(6))


if __name__ == "__main__":
    main()

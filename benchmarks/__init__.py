"""Side-by-side benchmarks of onyx against onnxruntime and onnx.reference (see README.md)."""

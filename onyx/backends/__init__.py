"""Backends: ``numpy`` (CPU, default) and ``cuda`` (generated CUDA C through PyCUDA)."""

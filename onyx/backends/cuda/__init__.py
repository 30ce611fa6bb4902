"""The CUDA backend: CUDA C generated from the IR (``codegen``), a disk kernel cache
(``cache``) and a PyCUDA runtime. Importing this package loads nothing heavy: PyCUDA is
imported lazily by the runtime, and only when a GPU is used."""

"""`fastlstm bench`: fastlstm against PyTorch and Keras on the same members, timed from outside.

The orchestrator (`compare.py`) runs every system in its own Python process and times
it from process start to exit, so imports and compilation count as a user pays them.
The worker scripts (`run_torch.py`, `run_keras.py`, `run_fastlstm.py`,
`run_fastlstm_sequential.py`, `peak.py`) are started by file path, not with `-m`: that
keeps this package's `__init__` (which imports jax) out of the PyTorch worker's clock.
They share `worker.py` and `workloads.py`, which import the standard library and
numpy only. `python -m fastlstm.benchmark.run_torch ...` works too, for debugging.
Since a worker started by path has this folder first on sys.path, no module here may
share a name with a top-level module that torch, keras or jax import.
"""

"""fastlstm: many seeds and settings of one Keras-style LSTM, trained as one JAX program.

`import fastlstm` is cheap: the names below are imported when first used (PEP 562), so a
script, `fastlstm --help` or a mistyped flag does not wait for JAX, Flax and Optax to load.
JAX's CPU device count is still set before JAX starts a backend: when JAX is imported after
fastlstm, by fastlstm or by anyone, fastlstm asks it for one CPU device per core
(fastlstm/runtime/_devices.py, `FASTLSTM_CPU_DEVICES`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastlstm._common.version import __version__ as __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time `__getattr__` below imports these
    from fastlstm import controllers, distributed, layers, stats, tasks  # noqa: F401
    from fastlstm.analysis import LRRange, VarianceSources, lr_range, variance_sources
    from fastlstm.api import run, sweep
    from fastlstm.data import DataFileError, TaskInferenceWarning, ZeroPaddingWarning, read_data
    from fastlstm.diagnose import Finding, Findings, diagnose
    from fastlstm.engine import (
        Callback,
        CallbackSignal,
        EarlyStopping,
        Jitter,
        KerasLSTM,
        LSTMModel,
        MagnitudeWarp,
        ModelSpec,
        ReduceLROnPlateau,
        Scaling,
        TimeWarp,
        WindowSlice,
    )
    from fastlstm.interop import KerasConverted, from_keras
    from fastlstm.results import DamagedResultError, SweepResult, importance, load, scores
    from fastlstm.runtime import Controller, Decision, EpochEnd, configure_host_devices  # noqa: F401
    from fastlstm.spec import (
        DataSpec,
        Hyperband,
        SpecError,
        SuccessiveHalving,
        SweepSpec,
        choice,
        loguniform,
        randint,
        uniform,
    )

# public name -> the subpackage that defines it
_HOME = {
    **dict.fromkeys(("LRRange", "VarianceSources", "lr_range", "variance_sources"), "fastlstm.analysis"),
    **dict.fromkeys(("run", "sweep"), "fastlstm.api"),
    **dict.fromkeys(("DataFileError", "TaskInferenceWarning", "ZeroPaddingWarning", "read_data"), "fastlstm.data"),
    **dict.fromkeys(("Finding", "Findings", "diagnose"), "fastlstm.diagnose"),
    **dict.fromkeys(
        (
            "Callback",
            "CallbackSignal",
            "EarlyStopping",
            "Jitter",
            "KerasLSTM",
            "LSTMModel",
            "MagnitudeWarp",
            "ModelSpec",
            "ReduceLROnPlateau",
            "Scaling",
            "TimeWarp",
            "WindowSlice",
        ),
        "fastlstm.engine",
    ),
    **dict.fromkeys(("KerasConverted", "from_keras"), "fastlstm.interop"),
    **dict.fromkeys(("DamagedResultError", "SweepResult", "importance", "load", "scores"), "fastlstm.results"),
    **dict.fromkeys(("Controller", "Decision", "EpochEnd", "configure_host_devices"), "fastlstm.runtime"),
    **dict.fromkeys(
        (
            "DataSpec",
            "Hyperband",
            "SpecError",
            "SuccessiveHalving",
            "SweepSpec",
            "choice",
            "loguniform",
            "randint",
            "uniform",
        ),
        "fastlstm.spec",
    ),
}
# fl.layers, fl.tasks, ...: the modules and subpackages reachable as attributes
_SUBMODULES = (
    "analysis",
    "api",
    "benchmark",
    "cli",
    "controllers",
    "data",
    "diagnose",
    "distributed",
    "engine",
    "interop",
    "layers",
    "report",
    "results",
    "runtime",
    "spec",
    "stats",
    "tasks",
)


def __getattr__(name: str) -> Any:
    """`fastlstm.sweep`, `from fastlstm import SweepSpec`, `fastlstm.layers`: imported on first use."""
    home = _HOME.get(name)
    if home is None and name not in _SUBMODULES:
        raise AttributeError(f"module 'fastlstm' has no attribute {name!r}")
    _configure_host_devices()  # raises here for a bad FASTLSTM_CPU_DEVICES
    if home is None:
        return importlib.import_module(f"fastlstm.{name}")  # the import binds it: no second call
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


_configured = False
_DEVICES_FILE = Path(__file__).resolve().parent / "runtime" / "_devices.py"


def _configure_host_devices() -> None:
    """fastlstm/runtime/_devices.py's `configure_host_devices()`, once it has succeeded.

    It is run from a fresh copy of that file rather than by importing fastlstm.runtime,
    whose package imports the engine (Flax, Optax): this runs while JAX is being imported,
    which may be from inside Flax's or Optax's own import. So _devices.py imports no more
    than JAX, NumPy and fastlstm._common at its top (tests/test_fixed_costs.py checks)."""
    global _configured
    if _configured:
        return
    import jax  # noqa: F401  (a first import runs the hook below, which configures)

    if _configured:
        return
    spec = importlib.util.spec_from_file_location("fastlstm.runtime._devices", _DEVICES_FILE)
    assert spec is not None and spec.loader is not None
    devices = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(devices)
    devices.configure_host_devices()
    _configured = True


class _ConfigureWhenJaxLoads:
    """A `sys.meta_path` finder that sees JAX's first import and, once JAX has loaded, sets
    its CPU device count (before anything can start a backend). It then leaves sys.meta_path."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> Any:
        if fullname != "jax":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("jax")  # what the other finders say
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        load = loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            with contextlib.suppress(ValueError):  # a bad FASTLSTM_CPU_DEVICES: raised where fastlstm is used
                _configure_host_devices()  # (fastlstm.X, the CLI), not by `import jax`

        loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's loader only
        return spec


# public names that are also subpackages' names: the public one is the function
_FUNCTION_OVER_PACKAGE = {name for name in _HOME if name in _SUBMODULES}


class _Package(types.ModuleType):
    """fastlstm itself, keeping `fl.diagnose` the function: importing the subpackage
    fastlstm.diagnose (which any sweep's summary does) binds the subpackage as an attribute of
    its parent, and with the names imported lazily that would replace the function; the
    subpackage stays in sys.modules, where `from fastlstm.diagnose import ...` finds it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTION_OVER_PACKAGE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if "jax" in sys.modules:
    _configure_host_devices()  # JAX came first: set the count now, if its backend has not started
else:
    sys.meta_path.insert(0, _ConfigureWhenJaxLoads())


__all__ = [
    "Callback",
    "CallbackSignal",
    "Controller",
    "DamagedResultError",
    "DataFileError",
    "DataSpec",
    "Decision",
    "EarlyStopping",
    "EpochEnd",
    "Finding",
    "Findings",
    "Hyperband",
    "Jitter",
    "KerasConverted",
    "KerasLSTM",
    "LRRange",
    "LSTMModel",
    "MagnitudeWarp",
    "ModelSpec",
    "ReduceLROnPlateau",
    "Scaling",
    "SpecError",
    "SuccessiveHalving",
    "SweepResult",
    "SweepSpec",
    "TaskInferenceWarning",
    "TimeWarp",
    "VarianceSources",
    "WindowSlice",
    "ZeroPaddingWarning",
    "choice",
    "diagnose",
    "from_keras",
    "importance",
    "load",
    "loguniform",
    "lr_range",
    "randint",
    "read_data",
    "run",
    "scores",
    "sweep",
    "uniform",
    "variance_sources",
]

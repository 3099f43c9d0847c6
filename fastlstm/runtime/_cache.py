"""JAX's persistent compilation cache, on by default in a user cache folder.

A second sweep with the same shapes then skips XLA compilation. Every training path
(`fl.sweep`, `fl.run`, and so `fastlstm sweep`, `lr-range`, `doctor`, halving's rungs)
calls `enable_compilation_cache()` before its first compile. The folder is
`$XDG_CACHE_HOME/fastlstm/jax`, by default `~/.cache/fastlstm/jax`; deleting it
(`rm -rf ~/.cache/fastlstm/jax`) clears the cache, at the price of compiling again. Set
`FASTLSTM_CACHE_DIR` to move it, `FASTLSTM_CACHE_DIR=off` to leave JAX's cache
settings alone; a cache folder the user configured in JAX is never overridden. Programs
that compile in under 0.2 s are not written (JAX's `persistent_cache_min_compile_time_secs`).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

_done = False


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastlstm" / "jax"


def enable_compilation_cache() -> Path | None:
    """Point JAX's compilation cache at fastlstm's folder unless told otherwise."""
    global _done
    setting = os.environ.get("FASTLSTM_CACHE_DIR", "")
    if setting.lower() in ("off", "0", "none", "false"):
        return None
    given = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]  # flags are set at run time, unknown to jax's stubs
    if given:
        return Path(given)
    if _done:
        return None
    _done = True
    path = Path(setting) if setting else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home must not stop training
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path

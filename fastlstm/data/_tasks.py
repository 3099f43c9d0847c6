"""Built-in tasks: small data an LSTM can learn but that punishes bad defaults."""

from __future__ import annotations

import numpy as np


def early_cue(
    n: int = 2048,
    timesteps: int = 24,
    features: int = 4,
    classes: int = 4,
    cue_step: int = 2,
    cue_strength: float = 2.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Classify a long noisy sequence by a cue seen only near its start.

    Every timestep is standard normal noise; at `cue_step` the class adds a
    +/-`cue_strength` pattern to the first two features (two bits for four classes).
    The model must carry that cue across the rest of the sequence - which is what
    the LSTM's forget-gate bias (Keras's `unit_forget_bias`) and a sane learning rate
    make easy, and what a badly initialised or badly tuned model does not learn.
    Returns x (n, timesteps, features) float32 and integer labels y (n,).
    """
    if features < 2 or classes != 4:
        raise ValueError("early_cue needs features >= 2 and classes == 4 (two cue bits)")
    if not 0 <= cue_step < timesteps:
        raise ValueError(f"cue_step must be in [0, timesteps), got {cue_step}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.normal(size=(n, timesteps, features)).astype(np.float32)
    bits = np.stack([(y >> 0) & 1, (y >> 1) & 1], axis=1).astype(np.float32) * 2 - 1
    x[:, cue_step, :2] += cue_strength * bits
    return x, y.astype(np.int64)


def step_cue(
    n: int = 400,
    timesteps: int = 8,
    features: int = 3,
    classes: int = 3,
    strength: float = 3.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A small, quickly learnt task: the class shifts feature 0 at step 1, all else is noise.

    Feature 0 at step 1 gets `strength * (y - (classes - 1) / 2)` added, so the classes
    sit on a line a few noise widths apart: any sane model learns it in a few epochs,
    which makes it the clean control for planted faults (a fault is then the only
    reason a run fails). Returns x (n, timesteps, features) float32 and integer y (n,).
    """
    if timesteps < 2 or features < 1 or classes < 2:
        raise ValueError(
            f"step_cue needs timesteps >= 2, features >= 1, classes >= 2; got {timesteps}, {features}, {classes}"
        )
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.normal(size=(n, timesteps, features)).astype(np.float32)
    x[:, 1, 0] += strength * (y - (classes - 1) / 2)
    return x, y

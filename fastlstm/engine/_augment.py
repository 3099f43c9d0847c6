"""Time-series augmentations applied to each training batch inside the compiled program.

`fl.Jitter`, `fl.Scaling`, `fl.MagnitudeWarp`, `fl.TimeWarp` and `fl.WindowSlice` are the
augmentations of Um et al. (2017, "Data augmentation of wearable sensor data for
Parkinson's disease monitoring using convolutional neural networks") and Le Guennec et
al. (2016), as surveyed by Iwana & Uchida (2021, "An empirical survey of data
augmentation for time series classification with neural networks"):

- `Jitter(sigma)`: adds N(0, sigma^2) noise to every real step and feature;
- `Scaling(sigma)`: multiplies each feature of a sequence by one factor ~ N(1, sigma^2);
- `MagnitudeWarp(sigma, knots)`: multiplies each feature by a smooth random curve through
  `knots + 2` evenly spaced knots ~ N(1, sigma^2) (the originals fit a cubic spline
  through the knots; here the curve is **piecewise linear** between them);
- `TimeWarp(sigma, knots)`: resamples time through a smooth monotone warp: a random
  speed curve as in MagnitudeWarp (floored at 0.01 so time never runs backwards) is
  integrated and rescaled so the first and last real steps stay in place; the values
  at the warped times are linearly interpolated (one warp per sequence, shared by its
  features);
- `WindowSlice(ratio)`: crops a random window of `ratio` x the sequence's length and
  stretches it back to the full length by linear interpolation.

They are frozen, layer-like objects (`get_config` / `from_config`, a `type` in a config
file). Their strength (`sigma`, or `ratio` for WindowSlice) is a per-member number
`augment.<i>.<name>` (i: the position in the `augment` list), so a grid can vary it;
the strength that means "unchanged" (0, or ratio 1) gives exactly the input, bit for
bit. Random numbers come from the member's **augment** stream only.

Masks are respected: padded or masked steps keep their values exactly, and the warps
move values only between the real steps of a sequence (a post- or pre-padded sequence
is warped within its own length, never from or into its padding).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from fastlstm._common.coerce import object_from_config, to_python

MIN_SPEED = 0.01  # TimeWarp: the slowest a warped clock may run (keeps the warp monotone)


def _strength(cls_name: str, name: str, value: object) -> float:
    value = to_python(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"augment: {cls_name}.{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _knots(cls_name: str, value: object) -> int:
    value = to_python(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"augment: {cls_name}.knots must be an int >= 1, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """One augmentation: a strength (a per-member number) and static options."""

    strength_name: ClassVar[str] = "sigma"
    identity: ClassVar[float] = 0.0  # the strength that leaves the data unchanged

    @property
    def strength(self) -> float:
        return getattr(self, self.strength_name)

    def get_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Augmentation:
        return cls(**config)

    def apply(self, x: jax.Array, mask: jax.Array | None, strength: jax.Array, key: jax.Array) -> jax.Array:
        """The augmented batch (batch, time, features); masked steps as they were."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Jitter(Augmentation):
    """Adds N(0, sigma^2) noise to every real step (Um et al. 2017)."""

    sigma: float = 0.03

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _strength("Jitter", "sigma", self.sigma))

    def apply(self, x, mask, strength, key):
        return _on_real_steps(x + strength * jax.random.normal(key, x.shape, x.dtype), x, mask)


@dataclasses.dataclass(frozen=True)
class Scaling(Augmentation):
    """Multiplies each feature of a sequence by one factor ~ N(1, sigma^2) (Um et al. 2017)."""

    sigma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _strength("Scaling", "sigma", self.sigma))

    def apply(self, x, mask, strength, key):
        factor = 1.0 + strength * jax.random.normal(key, (x.shape[0], 1, x.shape[2]), x.dtype)
        return _on_real_steps(x * factor, x, mask)


@dataclasses.dataclass(frozen=True)
class MagnitudeWarp(Augmentation):
    """Multiplies each feature by a smooth random curve through `knots + 2` knots ~ N(1, sigma^2),
    piecewise linear between them (Um et al. 2017 use a cubic spline)."""

    sigma: float = 0.2
    knots: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _strength("MagnitudeWarp", "sigma", self.sigma))
        object.__setattr__(self, "knots", _knots("MagnitudeWarp", self.knots))

    def apply(self, x, mask, strength, key):
        rank, length = _ranks(x, mask)
        values = 1.0 + strength * jax.random.normal(key, (x.shape[0], self.knots + 2, x.shape[2]), x.dtype)
        curve = jax.vmap(_knot_curve)(values, rank, length)  # (batch, time, features)
        return _on_real_steps(x * curve, x, mask)


@dataclasses.dataclass(frozen=True)
class TimeWarp(Augmentation):
    """Resamples time through a smooth monotone warp whose speed curve has `knots + 2`
    knots ~ N(1, sigma^2) (Um et al. 2017); linear interpolation between steps."""

    sigma: float = 0.2
    knots: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _strength("TimeWarp", "sigma", self.sigma))
        object.__setattr__(self, "knots", _knots("TimeWarp", self.knots))

    def apply(self, x, mask, strength, key):
        _, length = _ranks(x, mask)
        grid = jnp.broadcast_to(jnp.arange(x.shape[1], dtype=x.dtype), x.shape[:2])
        values = 1.0 + strength * jax.random.normal(key, (x.shape[0], self.knots + 2, 1), x.dtype)
        speed = jnp.maximum(jax.vmap(_knot_curve)(values, grid, length)[..., 0], MIN_SPEED)
        clock = jnp.cumsum(speed, axis=1) - speed[:, :1]  # 0 at the first real step
        last = jnp.take_along_axis(clock, jnp.maximum(length - 1, 0)[:, None].astype(jnp.int32), axis=1)
        source = clock / jnp.where(last > 0, last, 1.0) * (length[:, None] - 1)
        return resample(x, mask, source)


@dataclasses.dataclass(frozen=True)
class WindowSlice(Augmentation):
    """Crops a random window of `ratio` x the length and stretches it back (Le Guennec et al.
    2016; Iwana & Uchida 2021's window slicing, default ratio 0.9)."""

    strength_name: ClassVar[str] = "ratio"
    identity: ClassVar[float] = 1.0

    ratio: float = 0.9

    def __post_init__(self) -> None:
        r = to_python(self.ratio)
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 < r <= 1.0:
            raise ValueError(f"augment: WindowSlice.ratio must be in (0, 1], got {r!r}")
        object.__setattr__(self, "ratio", float(r))

    def apply(self, x, mask, strength, key):
        _, length = _ranks(x, mask)
        span = (length - 1).astype(x.dtype)  # real steps 0 .. length-1
        start = jax.random.uniform(key, (x.shape[0],), x.dtype) * (1.0 - strength) * span
        source = start[:, None] + jnp.arange(x.shape[1], dtype=x.dtype)[None, :] * strength
        return resample(x, mask, source)


AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.__name__: cls for cls in (Jitter, Scaling, MagnitudeWarp, TimeWarp, WindowSlice)
}
WARPS = ("TimeWarp", "WindowSlice")  # move values in time (per-timestep targets would not follow)


# --- pure helpers -----------------------------------------------------------------------


def _on_real_steps(new: jax.Array, old: jax.Array, mask: jax.Array | None) -> jax.Array:
    return new if mask is None else jnp.where(mask[..., None], new, old)


def _ranks(x: jax.Array, mask: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """(batch, time) each step's position among its sequence's real steps, and (batch,) the
    number of real steps."""
    b, t = x.shape[:2]
    if mask is None:
        return jnp.broadcast_to(jnp.arange(t, dtype=x.dtype), (b, t)), jnp.full((b,), t, jnp.int32)
    count = jnp.cumsum(mask.astype(jnp.int32), axis=1)
    return jnp.maximum(count - 1, 0).astype(x.dtype), count[:, -1]


def _knot_curve(values: jax.Array, rank: jax.Array, length: jax.Array) -> jax.Array:
    """One sequence's curve through `values` (knots, features) at evenly spaced ranks
    0 .. length-1, read at `rank` (time,): (time, features), piecewise linear."""
    segments = values.shape[0] - 1
    u = rank / jnp.maximum(length - 1, 1).astype(rank.dtype) * segments
    lo = jnp.clip(jnp.floor(u), 0, segments - 1).astype(jnp.int32)
    frac = jnp.clip(u - lo, 0.0, 1.0)[:, None]
    return values[lo] * (1.0 - frac) + values[lo + 1] * frac


def resample(x: jax.Array, mask: jax.Array | None, source: jax.Array) -> jax.Array:
    """Each sequence's real steps read at `source` (batch, time): the r-th real step takes
    the value at real-step position source[r] (clipped to the real length), linearly
    interpolated between neighbouring real steps; masked steps keep their values."""
    b, t = x.shape[:2]
    rank, length = _ranks(x, mask)
    if mask is None:
        order = jnp.broadcast_to(jnp.arange(t), (b, t))
    else:  # positions of the real steps, in order, first
        order = jnp.argsort(jnp.where(mask, 0, t) + jnp.arange(t)[None, :], axis=1)
    by_rank = jnp.take_along_axis(x, order[..., None], axis=1)
    top = jnp.maximum(length - 1, 0)[:, None]
    s = jnp.clip(source, 0.0, top.astype(source.dtype))
    lo = jnp.minimum(jnp.floor(s).astype(jnp.int32), top)
    hi = jnp.minimum(lo + 1, top)
    frac = (s - lo)[..., None]
    warped = (
        jnp.take_along_axis(by_rank, lo[..., None], axis=1) * (1.0 - frac)
        + jnp.take_along_axis(by_rank, hi[..., None], axis=1) * frac
    )
    at_step = jnp.take_along_axis(warped, rank.astype(jnp.int32)[..., None], axis=1)
    return _on_real_steps(at_step, x, mask)


def augment_batch(
    live: Sequence[tuple[int, Augmentation]],
    x: jax.Array,
    mask: jax.Array | None,
    hp: Mapping[str, jax.Array],
    key: jax.Array,
) -> jax.Array:
    """One member's training batch through its augmentations, in list order.

    A member whose strength is the identity gets its input back exactly (a select, not
    arithmetic that could round), so strength 0 trains as without augmentation.
    """
    for i, aug in live:
        strength = hp[f"augment.{i}.{aug.strength_name}"].astype(x.dtype)
        changed = aug.apply(x, mask, strength, jax.random.fold_in(key, i))
        x = jnp.where(strength != aug.identity, changed, x)
    return x


def augmentation_to_config(aug: Augmentation) -> dict[str, Any]:
    """{"type": class name, **options}: what a config file holds (`[[augment]]`)."""
    if not isinstance(aug, Augmentation):
        raise ValueError(f"augment: expected a fastlstm augmentation like fl.Jitter(0.03), got {type(aug).__name__}")
    return {"type": type(aug).__name__, **aug.get_config()}


def augmentation_from_config(config: object) -> Augmentation:
    """An augmentation from `augmentation_to_config`'s dict (an augmentation is returned as it is)."""
    return object_from_config(config, AUGMENTATIONS, "augment", "an augmentation like fl.Jitter(0.03)")


def check_augment(augment: Any) -> tuple[Augmentation, ...]:
    """`augment=` as a tuple of augmentations (None: none), each checked."""
    if augment is None:
        return ()
    if isinstance(augment, (Augmentation, Mapping)):
        augment = [augment]
    if isinstance(augment, (str, bytes)) or not isinstance(augment, Sequence):
        raise ValueError(f"augment must be a list of augmentations like [fl.Jitter(0.03)], got {augment!r}")
    return tuple(augmentation_from_config(a) for a in augment)


__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "Jitter",
    "MagnitudeWarp",
    "Scaling",
    "TimeWarp",
    "WindowSlice",
    "augment_batch",
    "check_augment",
    "resample",
]

"""What a sweep returns: history, the member table, parameters, and their uses.

Saved as a folder of JSON and `.npz` files (no pickle), written to a temporary
folder and renamed into place, so an existing result is never half-overwritten.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from fastlstm.coerce import to_python
from fastlstm.data import prepare_data, prepare_inputs
from fastlstm.program import ModelConfig, evaluate_sums, forward
from fastlstm.stats import Summary, final_values, summarize

FORMAT_VERSION = 1
PREDICT_BATCH = 256  # rows per forward pass in `predict`: a memory bound, not a training setting


@dataclasses.dataclass
class GroupParams:
    """Parameters of the members that share one structure (leading member axis)."""

    members: tuple[int, ...]
    units: int
    layers: int
    params: Any


@dataclasses.dataclass
class SweepResult:
    """The outcome of `fastlstm.sweep`.

    history: metric -> (members, epochs), NaN after a member stopped or diverged.
    members: one dict per member (index, seed, config, hyperparameters, status, ...).
    params: the stacked parameters (leading member axis) when every member has the
        same structure; with `units`/`layers` in the grid, a list with one stacked
        tree per group (see `groups`), and `member_params(i)` for one member.
    """

    history: dict[str, np.ndarray]
    members: list[dict[str, Any]]
    groups: list[GroupParams]
    configs: list[dict[str, Any]]
    meta: dict[str, Any]  # task, loss, metrics, out_dim, mask_value, ...
    spec: Any = None  # the fastlstm.SweepSpec it was made from

    @property
    def params(self) -> Any:
        if len(self.groups) == 1:
            return self.groups[0].params
        return [g.params for g in self.groups]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.meta["metrics"])

    def member_params(self, i: int) -> Any:
        for g in self.groups:
            if i in g.members:
                row = g.members.index(i)
                return jax.tree.map(lambda a, row=row: a[row], g.params)
        raise IndexError(f"member {i} out of range (0..{len(self.members) - 1})")

    def _model_config(self, g: GroupParams) -> ModelConfig:
        meta = self.meta
        return ModelConfig(
            g.units,
            g.layers,
            meta["out_dim"],
            meta["task"],
            meta["loss"],
            self.metrics,
            precision=meta.get("precision", "float32"),
        )

    def _trained_features(self) -> int | None:
        """Features per timestep the model was trained on, from the first LSTM kernel.

        Its shape is (members, features, 4 * units), so this works for loaded results
        too and needs nothing in `meta`. None when the parameters are laid out otherwise.
        """
        layer = self.groups[0].params.get("lstm_0", {}) if self.groups else {}
        return int(np.shape(layer["kernel"])[-2]) if "kernel" in layer else None

    def _check_features(self, xs: np.ndarray) -> None:
        """A wrong feature count would surface as Flax's ScopeParamShapeError; say it in the user's terms."""
        expected, got = self._trained_features(), xs.shape[2]
        if expected is None or got == expected:
            return
        message = f"x has {got} feature{'' if got == 1 else 's'} per timestep, but the model was trained on {expected}"
        if got == 1 and xs.shape[1] == expected:  # a 2-D (timesteps, features) sample read as (samples, timesteps)
            message += "; if x is one sample of shape (timesteps, features), pass a batch: x[None]"
        raise ValueError(message)

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Every member's predictions (members, n, out), as Keras's `predict` gives them.

        `batch_size` only bounds memory (rows run through the model at once); None means
        PREDICT_BATCH. The predictions do not depend on it.
        """
        chunk = _predict_batch_size(batch_size)
        xs_np, mask_np = prepare_inputs(x, mask_value=self.meta["mask_value"])
        self._check_features(xs_np)
        xs = jnp.asarray(xs_np)
        mask = None if mask_np is None else jnp.asarray(mask_np)
        result = np.zeros((len(self.members), xs.shape[0], self.meta["out_dim"]), np.float32)
        for g in self.groups:
            fn = jax.jit(jax.vmap(functools.partial(forward, self._model_config(g)), in_axes=(0, None, None)))
            for start in range(0, xs.shape[0], chunk):
                xb = xs[start : start + chunk]
                mb = None if mask is None else mask[start : start + chunk]
                result[list(g.members), start : start + xb.shape[0]] = np.asarray(fn(g.params, xb, mb))
        return result

    def evaluate(self, x: Any, y: Any, sample_weight: Any = None) -> dict[str, np.ndarray]:
        """Loss and metrics of every member on (x, y): name -> (members,)."""
        data = prepare_data(
            x,
            y,
            loss=self.meta["loss"],
            metrics=self.metrics,
            num_classes=self.meta["num_classes"],
            mask_value=self.meta["mask_value"],
            sample_weight=sample_weight,
        )
        self._check_features(data.train.x)
        if data.out_dim != self.meta["out_dim"]:
            raise ValueError(f"y has {data.out_dim} outputs but the model has {self.meta['out_dim']}")
        split = data.train
        arrays = [jnp.asarray(a) if a is not None else None for a in (split.x, split.y, split.weight, split.mask)]
        out = {name: np.zeros(len(self.members), np.float32) for name in ("loss", *self.metrics)}
        for g in self.groups:
            cfg = self._model_config(g)
            sums = jax.jit(jax.vmap(lambda p, cfg=cfg: evaluate_sums(cfg, p, *arrays)))(g.params)
            for name, v in sums.items():
                out[name][list(g.members)] = np.asarray(v) / len(split)
        return out

    def final_metrics(self) -> dict[str, np.ndarray]:
        """Each member's metric at the epoch its parameters come from.

        That is the best epoch where EarlyStopping restored best weights, the last
        epoch it trained otherwise; validation metrics where there is validation data.
        """
        epoch_index = np.array([m["final_epoch"] for m in self.members])
        names = [n for n in self.history if n.startswith("val_")] or [n for n in self.history if n != "learning_rate"]
        return {n: final_values(self.history[n], epoch_index) for n in names}

    def summary(self) -> Summary:
        """Per configuration: seeds, mean, std, median, min, max, 95% CI of each final metric.

        Accuracies are compared with the data's majority-class rate (`meta`), so the
        printout can say when a model may just be answering the most frequent class.
        """
        ok = np.array([m["status"] != "diverged" for m in self.members])
        config = np.array([m["config"] for m in self.members])
        majority = self.meta.get("majority_class_rate")
        return summarize(self.final_metrics(), config, self.configs, ok, majority_class_rate=majority)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the result as a folder (JSON + .npz, no pickle); atomic rename."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"path {str(path)!r} exists; pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            doc = {
                "format_version": FORMAT_VERSION,
                "members": self.members,
                "configs": self.configs,
                "meta": self.meta,
                "groups": [{"members": list(g.members), "units": g.units, "layers": g.layers} for g in self.groups],
            }
            (tmp / "result.json").write_text(json.dumps(doc, indent=1, default=_json_default))
            np.savez(tmp / "history.npz", **self.history)
            for k, g in enumerate(self.groups):
                flat = traverse_util.flatten_dict(jax.device_get(g.params), sep="/")
                np.savez(tmp / f"params_{k}.npz", **{name: np.asarray(v) for name, v in flat.items()})
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
                os.replace(path, old / "x")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def _predict_batch_size(batch_size: Any) -> int:
    """None -> PREDICT_BATCH; a positive int (any NumPy int) as it is; anything else a ValueError.

    -1 used to run no batch and return zeros, 0 a bare range() error.
    """
    if batch_size is None:
        return PREDICT_BATCH
    value = to_python(batch_size)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    return value


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def load(path: str | os.PathLike) -> SweepResult:
    """Read a result written by `SweepResult.save`."""
    path = Path(path)
    doc_file = path / "result.json"
    if not doc_file.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a saved fastlstm result (no result.json)")
    doc = json.loads(doc_file.read_text())
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"path {str(path)!r}: unsupported format_version {doc.get('format_version')!r}")
    with np.load(path / "history.npz", allow_pickle=False) as f:
        history = {k: f[k] for k in f.files}
    groups = []
    for k, g in enumerate(doc["groups"]):
        with np.load(path / f"params_{k}.npz", allow_pickle=False) as f:
            params = traverse_util.unflatten_dict({name: jnp.asarray(f[name]) for name in f.files}, sep="/")
        groups.append(GroupParams(tuple(g["members"]), g["units"], g["layers"], params))
    return SweepResult(history, doc["members"], groups, doc["configs"], doc["meta"])


__all__ = ["GroupParams", "SweepResult", "load"]

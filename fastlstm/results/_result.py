"""What a sweep returns: history, the member table, parameters, and their uses.

Saved as a run folder (fastlstm/results/_run_folder.py) whose machine-readable core - strict
JSON and `.npz` files, no pickle - is written and read here; the folder is written to a
temporary name and renamed into place (see fastlstm/_common/files.py), so an existing result
is never half-overwritten and nothing but an earlier fastlstm folder is ever replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import jax
import jax.numpy as jnp
import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._loaded import LoadedData
from fastlstm.data._prepare import (
    Split,
    metrics_in_target_units,
    prepare_data,
    prepare_inputs,
    scale_target,
    unscale_target,
)
from fastlstm.data._preprocessing import apply_preprocessing
from fastlstm.engine._layer_specs import layer_from_config
from fastlstm.engine._model import ModelSpec, check_token_ids
from fastlstm.engine._program import ModelConfig, evaluate_sums, forward, normalized
from fastlstm.interop._keras import ensemble_keras, member_layers, to_keras
from fastlstm.report._notebook import result_html, result_repr
from fastlstm.results._ensemble import config_mean, ensemble_values, member_configs, usable_members
from fastlstm.results._importance import importance
from fastlstm.results._leaderboard import Leaderboard, leaderboard
from fastlstm.results._run_folder import (
    GroupParams,
    read_result,
    write_report,
    write_result_core,
    write_run_folder,
)
from fastlstm.results._scores import scores
from fastlstm.stats import (
    BestConfiguration,
    Importance,
    Ranking,
    Summary,
    best_configuration,
    final_values,
    member_pair_keys,
    rank_configurations,
    result_metric_values,
    summarize,
)

if TYPE_CHECKING:
    from fastlstm.spec._sweep_spec import SweepSpec

PREDICT_BATCH = 256  # rows per forward pass in `predict`: a memory bound, not a training setting


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
    spec: SweepSpec | None = None  # the fastlstm.SweepSpec it was made from
    # What was learnt about this run, as JSON-ready documents keyed by ANALYSIS_FILES'
    # names ("findings", "lr_range", "variance_sources"): saved as <name>.json beside
    # the core files and read back by `load`; the report draws from them.
    analysis: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def params(self) -> Any:
        if len(self.groups) == 1:
            return self.groups[0].params
        return [g.params for g in self.groups]

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """The input scaling fitted on the training rows (method and numbers; see
        fastlstm/data/_preprocessing.py), None when the sweep had no `standardize`.
        `predict` and `evaluate` apply it to raw inputs; it is saved in result.json."""
        return self.meta.get("preprocessing")

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """What the user called each class (`class_names[code]`: labels 1/2 are codes 0/1
        named "1" and "2"), None when the targets are not class labels."""
        names = self.meta.get("class_names")
        return None if names is None else tuple(names)

    @property
    def target_scaling(self) -> dict[str, float] | None:
        """`standardize_target`'s mean and std of the training targets, or None: the
        members trained on the scaled target; `predict` returns the user's units."""
        return self.meta.get("target_scaling")

    @property
    def budget(self) -> dict[str, Any] | None:
        """What a scheduler (`fl.SuccessiveHalving`, `fl.Hyperband`) spent, None without one:
        member_epochs executed, full_member_epochs (the whole grid to the end), and per
        rung its epoch, configurations, members, kept, member_epochs and seconds; also
        pruned_at (configuration -> rung epoch) and the decisions with their scores."""
        return self.meta.get("budget")

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
            architecture=self.architecture,
        )

    @property
    def architecture(self) -> tuple | None:
        """A layer-list model's layer specs (rebuilt from `meta`), None for the shorthand."""
        configs = self.meta.get("architecture")
        return None if configs is None else tuple(layer_from_config(c, i) for i, c in enumerate(configs))

    def _input_options(self) -> dict[str, Any]:
        """How inputs are read: steps first (the trained model's feature check catches a
        transposed x), masked by Masking's value and, with an Embedding first, mask_zero."""
        first = (self.meta.get("architecture") or [{}])[0]
        mask_zero = bool(first.get("mask_zero", False))
        return {"mask_value": self.meta["mask_value"], "mask_zero": mask_zero, "layout": "steps_first"}

    def _layer_hparams(self, g: GroupParams) -> dict[str, jax.Array] | None:
        """The group's members' `layers.<i>.<option>` numbers (regularizer strengths), stacked."""
        if self.architecture is None:
            return None
        keys = [k for k in self.members[g.members[0]] if k.startswith("layers.")]
        return {k: jnp.asarray([self.members[i][k] for i in g.members], jnp.float32) for k in keys}

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

    def predict_labels(self, x: object, batch_size: int | None = None, *, ensemble: bool = False) -> np.ndarray:
        """Every member's predicted class, by the user's names: (members, n) strings; with
        `ensemble=True` each configuration's ensemble's (configurations, n), from the mean of
        its members' probabilities ("" for a configuration without a usable member).

        The most probable class of a softmax, or the sigmoid's class at 0.5 (one output);
        labels 1/2 come back as "1"/"2", not as the codes 0/1 the model trained on."""
        names = self.class_names
        if names is None:
            raise ValueError(f"predict_labels: the targets were not class labels (task {self.meta['task']!r})")
        probs = self.predict(x, batch_size, ensemble=ensemble)
        if probs.shape[-1] == 1:
            codes = (probs[..., 0] >= 0.5).astype(int)
        else:
            codes = np.nan_to_num(probs, nan=-1.0).argmax(axis=-1)
        labels = np.asarray(names)[codes]
        if ensemble:  # NaN rows: no member to ask
            labels = np.where(np.isnan(probs).any(axis=-1), "", labels)
        return labels

    @overload
    def predict(
        self, x: object, batch_size: int | None = None, *, ensemble: bool = False, return_std: Literal[False] = False
    ) -> np.ndarray: ...

    @overload
    def predict(
        self, x: object, batch_size: int | None = None, *, ensemble: bool = False, return_std: Literal[True]
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def predict(
        self, x: object, batch_size: int | None = None, *, ensemble: bool = False, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Every member's predictions (members, n, out), as Keras's `predict` gives them.

        `batch_size` only bounds memory (rows run through the model at once); None means
        PREDICT_BATCH. The predictions do not depend on it. With `standardize_target` they
        are in the target's own units (scaled back). Class probabilities are indexed by
        code: `class_names[k]` names column k.

        `ensemble=True`: each configuration's seeds as one model (a deep ensemble), shape
        (configurations, n, [steps,] out): the mean of its usable members' outputs (not
        diverged, all finite) - probabilities for classes, predictions in the target's units
        for regression - NaN rows for a configuration with none. `return_std=True` also
        returns their std over members (ddof=0), the ensemble's uncertainty, as sklearn's
        `return_std` does.
        """
        if return_std and not ensemble:
            raise ValueError("predict: return_std=True needs ensemble=True (the std is over a configuration's members)")
        members = unscale_target(self._predict_trained(x, batch_size), self.target_scaling)
        if not ensemble:
            return members
        usable = usable_members(self, members)
        mean, std, _ = config_mean(members, member_configs(self), usable, len(self.configs))
        return (mean, std) if return_std else mean

    def _predict_trained(self, x: object, batch_size: int | None) -> np.ndarray:
        """The members' outputs in the units they trained on."""
        xs_np, mask_np = prepare_inputs(x, **self._input_options())
        self._check_features(xs_np)
        self._check_inputs(xs_np, mask_np)
        return self.predict_prepared(apply_preprocessing(xs_np, mask_np, self.preprocessing), mask_np, batch_size)

    def predict_prepared(
        self, xs: np.ndarray | jax.Array, mask: np.ndarray | jax.Array | None, batch_size: int | None = None
    ) -> np.ndarray:
        """The members' outputs, in the units they trained on, for inputs already padded and
        scaled as a `Dataset` holds them (`ds.val.x`, `ds.val.mask`): scoring the validation
        rows after a sweep needs no second reading of the raw data."""
        chunk = _predict_batch_size(batch_size)
        xs = jnp.asarray(xs)
        mask = None if mask is None else jnp.asarray(mask)
        steps = (xs.shape[1],) if self.meta.get("sequence_output") else ()
        result = np.zeros((len(self.members), xs.shape[0], *steps, self.meta["out_dim"]), np.float32)
        for g in self.groups:
            fn = _members_forward(self._model_config(g))
            for start in range(0, xs.shape[0], chunk):
                xb = xs[start : start + chunk]
                mb = None if mask is None else mask[start : start + chunk]
                result[list(g.members), start : start + xb.shape[0]] = np.asarray(fn(g.params, xb, mb))
        return result

    def evaluate(
        self, x: object, y: object, sample_weight: object = None, *, ensemble: bool = False
    ) -> dict[str, np.ndarray]:
        """Loss and metrics of every member on (x, y): name -> (members,).

        `ensemble=True`: of each configuration's ensemble instead (the mean of its usable
        members' outputs, see `predict`), name -> (configurations,), with the same loss and
        metric functions and weighting; the loss adds the members' mean regularization
        penalty, so a one-member ensemble scores exactly as its member."""
        split = self._evaluation_split(x, y, sample_weight)
        if ensemble:
            outputs = self.predict_prepared(split.x, split.mask)
            values, _ = ensemble_values(self, outputs, split.y, split.weight, split.mask)
            return metrics_in_target_units(values, self.target_scaling)
        x_dev, y_dev, w_dev = jnp.asarray(split.x), jnp.asarray(split.y), jnp.asarray(split.weight)
        mask_dev = jnp.asarray(split.mask) if split.mask is not None else None
        out = {name: np.zeros(len(self.members), np.float32) for name in ("loss", *self.metrics)}
        for g in self.groups:
            cfg = self._model_config(g)
            hp = self._layer_hparams(g)
            sums = jax.jit(jax.vmap(lambda p, h, cfg=cfg: evaluate_sums(cfg, p, x_dev, y_dev, w_dev, mask_dev, h)))(
                g.params, hp
            )
            for name, v in normalized(cfg, sums, len(split)).items():
                out[name][list(g.members)] = np.asarray(v)
        return metrics_in_target_units(out, self.target_scaling)

    def _evaluation_split(self, x: object, y: object, sample_weight: object) -> Split:
        """(x, y) checked and prepared as the members trained: inputs scaled, the target in
        the units they trained on (the loss is of those units)."""
        data = prepare_data(
            x,
            y,
            loss=self.meta["loss"],
            metrics=self.metrics,
            num_classes=self.meta["num_classes"],
            sample_weight=sample_weight,
            sequence_targets=bool(self.meta.get("sequence_output")),
            classes=self.class_names,
            **self._input_options(),
        )
        self._check_features(data.train.x)
        self._check_inputs(data.train.x, data.train.mask)
        if data.out_dim != self.meta["out_dim"]:
            raise ValueError(f"y has {data.out_dim} outputs but the model has {self.meta['out_dim']}")
        split = data.train
        split.x = apply_preprocessing(split.x, split.mask, self.preprocessing)
        split.y = scale_target(split.y, self.target_scaling)
        return split

    def scores(self, x: object, y: object, forecast: Mapping[str, object] | None = None) -> dict[str, Any]:
        """Balanced accuracy, macro F1, ROC AUC, per-class recall and confusion matrix (or MAE
        and RMSE in the target's units) of every member on (x, y), with each configuration's
        mean ± std: `fl.scores` (fastlstm/results/_scores.py), the document `fastlstm sweep`
        saves as scores.json."""

        return scores(self, x, y, forecast)

    def _model_spec(self) -> ModelSpec:
        """The member's architecture as a ModelSpec (from the spec, or `meta` for a layer list)."""
        if self.architecture is not None:
            return ModelSpec(layers=self.architecture, mask_value=self.meta["mask_value"])
        if self.spec is None:
            raise ValueError("to_keras: this result has no spec (saved before run folders); cannot rebuild the model")
        units, layers = self.spec.model.units, self.spec.model.layers
        return ModelSpec(units=units, layers=layers, mask_value=self.meta["mask_value"])

    def to_keras(self, member: int = 0, *, ensemble: bool = False, config: int | None = None) -> Any:
        """An uncompiled `keras.Model` with member `member`'s weights and its own dropout
        rates and regularizer strengths (needs `fastlstm[keras]`). A `standardize_target`
        scaling is folded into the linear head, so Keras predicts in the target's units.

        `ensemble=True`: one functional model of configuration `config`'s usable members (not
        diverged, finite weights), each its own sub-model `member_<i>`, their outputs averaged
        by `keras.layers.Average` - `predict(x, ensemble=True)[config]`. `config` may be left
        out only when the sweep has one configuration; `member` is then not used."""
        if not ensemble:
            if config is not None:
                raise ValueError("to_keras: config= chooses an ensemble's configuration; pass ensemble=True with it")
            return self._member_keras(member)
        used = self._ensemble_members(self._ensemble_config(config))
        return ensemble_keras([self._member_keras(i, name=f"member_{i}") for i in used])

    def _member_keras(self, member: int, name: str | None = None) -> Any:
        params = _head_in_units(jax.tree.map(np.asarray, self.member_params(member)), self.target_scaling)
        spec, row = self._model_spec(), self.members[member]
        if spec.layer_list is None:  # units/layers/dropout may be in the grid: the member's own
            options = {k: row[k] for k in ("units", "layers", "dropout") if k in row}
            spec = ModelSpec(**options, mask_value=self.meta["mask_value"])
        else:  # dropout rates and regularizer strengths: the member's own
            spec = ModelSpec(layers=member_layers(spec.layer_list, row), mask_value=self.meta["mask_value"])
        return to_keras(spec, params, self.meta["task"], self.preprocessing, name=name)

    def _ensemble_config(self, config: int | None) -> int:
        """The configuration an exported ensemble is of: `config`, required with several."""
        n = len(self.configs)
        if config is None:
            if n == 1:
                return 0
            raise ValueError(f"to_keras(ensemble=True): this sweep has {n} configurations; pass config= (0..{n - 1})")
        value = to_python(config)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise ValueError(f"to_keras: config must be a configuration index 0..{n - 1}, got {config!r}")
        return value

    def _ensemble_members(self, config: int) -> list[int]:
        """The members an exported ensemble averages: not diverged, every weight finite (the
        Keras model is built before any input is seen, so its outputs cannot be checked)."""
        used = [
            m["index"]
            for m in self.members
            if m["config"] == config
            and m.get("status") != "diverged"
            and all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(self.member_params(m["index"])))
        ]
        if not used:
            raise ValueError(f"to_keras: configuration {config} has no usable member (all diverged or non-finite)")
        return used

    def save_keras(
        self, path: str | os.PathLike, member: int = 0, *, ensemble: bool = False, config: int | None = None
    ) -> Path:
        """Write member `member` - or with `ensemble=True` configuration `config`'s ensemble
        (see `to_keras`) - as a `.keras` file (Keras's zip of config and weights)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"save_keras: path must end in .keras, got {str(path)!r}")
        self.to_keras(member, ensemble=ensemble, config=config).save(path)
        return path

    def _check_inputs(self, x: np.ndarray, mask: np.ndarray | None) -> None:
        """Token ids in range for an Embedding model (before anything compiles)."""
        if self.architecture is not None:
            check_token_ids(ModelSpec(layers=self.architecture, mask_value=self.meta["mask_value"]), x, mask)

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

    def compare(self, metric: str | None = None, *, against: str | int = "best", confidence: float = 0.95) -> Ranking:
        """Configurations ranked by their mean `metric` over seeds, each tested against the top one.

        Never by the single best seed: Reimers & Gurevych (2017, 2018) found that comparing
        one score per approach gave up to 26% false conclusions. Each row has the mean,
        its interval, std and n, then against the reference (`against`: "best" or a
        configuration index) Welch's t-test - the paired t-test when every configuration
        ran the same seeds on every RNG stream and none diverged - with `p_adj`: against
        the best, adjusted for having chosen it (a max-t step-down over all pairs, see
        `fastlstm.stats._multiple`); against a named reference, Holm over the pairs. Then
        P(a seed beats one of the reference's), Hedges' g, and a verdict: "best", "not
        distinguishable from the best" or "worse (p_adj=...)". `metric` defaults to
        `fastlstm.stats.primary_metric` (val_accuracy, val_loss, accuracy, loss).
        """
        name, values = result_metric_values(self, metric)
        config = np.array([m["config"] for m in self.members])
        return rank_configurations(
            values,
            config,
            self.configs,
            metric=name,
            against=against,
            pair_keys=member_pair_keys(self.members),
            confidence=confidence,
        )

    def best(self, metric: str | None = None) -> BestConfiguration:
        """The configuration with the best mean `metric` over seeds (not the best single seed).

        Gives its index, settings and statistics, and `member`: the index of its median
        seed, a typical model to pass to `to_keras(member=...)` or to pick from `predict`;
        `runner_up`, `significant` and `verdict` say whether it is significantly better
        than the second best: the runner-up's row of `compare()` over the same
        configurations, so the two never disagree. With a scheduler
        only the configurations that trained to the end are ranked, by default by the
        scheduler's metric.
        """
        if metric is None and self.budget is not None:
            metric = self.budget["scheduler"]["metric"]  # what the rungs ranked by
        name, values = result_metric_values(self, metric)
        config = np.array([m["config"] for m in self.members])
        pruned = {m["config"] for m in self.members if m["status"] == "pruned"}
        eligible = [c not in pruned for c in range(len(self.configs))]
        return best_configuration(
            values, config, self.configs, metric=name, pair_keys=member_pair_keys(self.members), eligible=eligible
        )

    def __repr__(self) -> str:  # one line: the dataclass repr dumped every array

        return result_repr(self)

    def _repr_html_(self) -> str:
        """In a notebook: the report's summary tables and learning curves inline."""

        return result_html(self)

    def leaderboard(self, metric: str | None = None, top: int = 10) -> Leaderboard:
        """The configurations ranked as a search's user reads them: those that trained to the
        end by mean `metric` over seeds (± its 95% CI), then the pruned by how long they
        lasted; `str()` prints it with the best as `--set` assignments to rerun it alone.
        `metric` defaults to the scheduler's, else `fastlstm.stats.primary_metric`."""

        return leaderboard(self, metric, top)

    def importance(self, metric: str | None = None, *, confidence: float = 0.95) -> Importance:
        """What moves `metric`: each varied hyperparameter's (and each two-way interaction's)
        share of its variance beside the seeds' share, each with an interval and whether it is
        distinguishable from seed noise (`fastlstm.results.importance`). A full grid with >= 2
        seeds: a fixed-effects ANOVA; random search: an additive surrogate with a permutation
        null; after successive halving, at its first rung (the epoch every configuration reached)."""

        return importance(self, metric, confidence=confidence)

    def save(
        self,
        path: str | os.PathLike,
        overwrite: bool = False,
        *,
        data: LoadedData | None = None,
        extra_environment: Mapping[str, object] | None = None,
        report: bool = True,
    ) -> Path:
        """Write the result as a run folder (fastlstm/results/_run_folder.py): strict JSON, CSV,
        TOML and .npz files, no pickle; `fl.load(path)` reads it back.

        The folder is written under a temporary name next to `path` and renamed into place
        with its `.fastlstm` marker, so an existing result is never half-overwritten and a
        failed save leaves nothing behind. `overwrite=True` replaces only an earlier
        fastlstm folder (or an empty one); any other existing path raises `ValueError`
        (`fastlstm.data.OutputPathError`) before anything is written. `data` is the file the
        sweep read (recorded with its SHA-256 in environment.json); `extra_environment`
        adds keys there. The folder holds report.html and plots/*.png (the run for people);
        `report=False` skips drawing them, which saves matplotlib's time on many small saves.
        """
        return write_run_folder(
            self, path, overwrite=overwrite, data=data, extra_environment=extra_environment, report=report
        )

    def write_core(self, folder: Path) -> None:
        """Write the files `load` reads into `folder`: result.json, history.npz, params_k.npz.

        The run folder writer calls this inside its temporary folder; call `save` instead.
        """
        write_result_core(self, folder)


@functools.lru_cache(maxsize=16)
def _members_forward(cfg: ModelConfig) -> Any:
    """One jitted, member-vmapped forward pass per model configuration: `predict` is called
    several times after a sweep (scores, ensembles, the user's own), and a fresh `jax.jit`
    each time would trace and compile it again."""
    return jax.jit(jax.vmap(functools.partial(forward, cfg), in_axes=(0, None, None)))


def _head_in_units(params: Any, scaling: Mapping[str, float] | None) -> Any:
    """Params whose linear head outputs the user's units: (h K + b) std + mean is
    h (K std) + (b std + mean), exactly, with no extra layer to convert."""
    if scaling is None:
        return params
    head = params["head"]
    std, mean = np.float32(scaling["std"]), np.float32(scaling["mean"])
    return {**params, "head": {**head, "kernel": head["kernel"] * std, "bias": head["bias"] * std + mean}}


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


def load(path: str | os.PathLike) -> SweepResult:
    """Read a result written by `SweepResult.save` (a run folder, or a result folder saved
    before run folders: then `spec` is None, as it is when config.toml is absent).

    A folder that holds no result raises `fastlstm.data.NotAResultFolderError`; one whose
    files are missing, truncated or altered raises `fastlstm.data.DamagedResultError`
    (both `ValueError`s) naming the folder and the file. Nothing is ever unpickled.
    """
    return SweepResult(**read_result(Path(path)))


def rebuild_report(folder: str | Path) -> Path:
    """report.html and its figures again, from the run folder alone (`fl.load` and environment.json).

    A folder that holds no finished run raises `fastlstm.data.NotAResultFolderError`, a damaged
    one `DamagedResultError` (both `ValueError`s), before anything is written.
    """
    return write_report(load(folder), folder)


__all__ = ["GroupParams", "SweepResult", "load"]

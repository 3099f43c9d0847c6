"""The names people give the arrays in an `.npz`, mapped to fastlstm's.

fastlstm's own keys are `x`, `y`, `sample_weight`, `lengths` and their `_val` twins.
Files made elsewhere use other names for the same things: Keras's datasets and
tutorials save `x_train, y_train, x_test, y_test`, scikit-learn users `X, y` or
`X_train ... y_test`, others `data, labels`. Those are read without asking (the test
arrays as validation data); a file whose keys say nothing sure (`arr_0`, `arr_1` from
a positional `np.savez`) is refused with the keys it holds, rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastlstm.data._loaded import DataFileError

NPZ_KEYS = ("x", "y", "sample_weight", "lengths", "x_val", "y_val", "sample_weight_val", "lengths_val")

# fastlstm's key -> the names (compared in lower case) that mean it.
ALIASES: dict[str, tuple[str, ...]] = {
    "x": ("x", "x_train", "train_x", "xtrain", "trainx", "data", "inputs", "features"),
    "y": ("y", "y_train", "train_y", "ytrain", "trainy", "labels", "label", "targets", "target"),
    "x_val": ("x_val", "x_test", "test_x", "xtest", "testx", "x_valid", "x_validation", "val_x", "data_test"),
    "y_val": ("y_val", "y_test", "test_y", "ytest", "testy", "y_valid", "y_validation", "val_y", "labels_test"),
    "sample_weight": ("sample_weight", "sample_weights"),
    "lengths": ("lengths",),
    "sample_weight_val": ("sample_weight_val",),
    "lengths_val": ("lengths_val",),
}
_MEANING = {alias: key for key, aliases in ALIASES.items() for alias in aliases}
KNOWN_NAMES = "x/y, X_train/y_train/X_test/y_test, X/y or data/labels"


def canonical_keys(source: Path, keys: Iterable[str]) -> dict[str, str]:
    """{fastlstm key: the archive's key} for an archive's keys, or a `DataFileError` that
    lists the keys found when one of them means nothing known or two mean the same."""
    found = sorted(keys)
    mapping: dict[str, str] = {}
    for key in found:
        meaning = _MEANING.get(key.lower())
        if meaning is None:
            raise DataFileError(
                source,
                f"cannot tell what key {key!r} holds (keys found: {found}); name the arrays {KNOWN_NAMES} "
                f"(np.savez(path, x=x, y=y)), optionally with {list(NPZ_KEYS[2:])}",
            )
        if meaning in mapping:
            raise DataFileError(
                source, f"keys {mapping[meaning]!r} and {key!r} both read as {meaning} (keys found: {found}); keep one"
            )
        mapping[meaning] = key
    return mapping


def renamed(mapping: dict[str, str]) -> str:
    """' (keys X_train -> x, y_train -> y)' when some key was not fastlstm's own name, else ''."""
    moved = [f"{mapping[key]} -> {key}" for key in NPZ_KEYS if key in mapping and mapping[key] != key]
    return f" (keys {', '.join(moved)})" if moved else ""

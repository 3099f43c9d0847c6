"""Keras-style layer specs and the Flax module that runs a list of them."""

from fastlstm.engine._layer_modules import SequentialModel, has_regularizers, layer_name, regularization_penalty
from fastlstm.engine._layer_specs import (
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Layer,
    Masking,
    Regularizer,
    check_architecture,
    hparam_defaults,
    layer_from_config,
    sequence_output,
)

__all__ = [
    "LSTM",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Embedding",
    "Layer",
    "Masking",
    "Regularizer",
    "SequentialModel",
    "check_architecture",
    "has_regularizers",
    "hparam_defaults",
    "layer_from_config",
    "layer_name",
    "regularization_penalty",
    "sequence_output",
]

"""Keras models in and out: `from_keras` reads a model's architecture, weights and compile settings."""

from fastlstm.interop._keras import KerasConverted, from_keras

__all__ = ["KerasConverted", "from_keras"]

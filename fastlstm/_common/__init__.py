"""Helpers every layer may use: value coercion, "did you mean", atomic files. Private."""

"""The package version, in one place (the run folder records it)."""

__version__ = "0.1.0"

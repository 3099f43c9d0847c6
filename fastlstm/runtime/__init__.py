"""The runtime of a plan: the driver, chunks, streaming, rungs, controllers, checkpoints and devices."""

from fastlstm.runtime._controllers import Controller, Decision, EpochEnd
from fastlstm.runtime._devices import configure_host_devices
from fastlstm.runtime._driver import SweepHalted

__all__ = ["Controller", "Decision", "EpochEnd", "SweepHalted", "configure_host_devices"]

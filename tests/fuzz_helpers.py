"""Shared rules of the hypothesis suites (tests/test_fuzz_*.py).

A fuzzed call passes when it either works or raises fastlstm's own clear error: a
`ValueError` raised from a frame inside the fastlstm package (never NumPy's, JAX's or
pydantic's own exception escaping), whose message names the argument. A call that
runs past its deadline fails the example as a hang. NumPy's RuntimeWarnings (overflow
in a cast, the imaginary part dropped) are errors here: they are silent data damage.

Example counts: each suite's `max_examples` is fixed and `derandomize=True`, so every
`pytest` run draws the same examples. The long mode is opt-in, for a nightly run or a
local hunt: `FASTLSTM_FUZZ=1` (or `long`, `nightly`) runs FUZZ_LONG_FACTOR times as many,
freshly drawn each run; `FASTLSTM_FUZZ=N` (N >= 2) runs N times as many, freshly drawn.
Unset, empty or 0: the fixed counts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings

import fastlstm

PACKAGE_DIR = Path(fastlstm.__file__).resolve().parent
FUZZ_LONG_FACTOR = 20


def fuzz_factor(mode: str) -> int:
    """How many times the fixed example counts FASTLSTM_FUZZ=`mode` asks for."""
    mode = mode.strip().lower()
    if mode in ("1", "long", "nightly"):
        return FUZZ_LONG_FACTOR
    if mode.isdigit():
        return max(int(mode), 1)  # 0: the fixed counts; N >= 2: N x
    if mode:
        raise ValueError(f"FASTLSTM_FUZZ: expected 1, long, nightly or a whole number, got {mode!r}")
    return 1


FACTOR = fuzz_factor(os.environ.get("FASTLSTM_FUZZ", ""))
LONG = FACTOR > 1


def fuzz_settings(examples: int) -> settings:
    """`examples` reproducible examples; FACTOR x as many freshly drawn ones in the long mode."""
    return settings(
        max_examples=examples * FACTOR,
        derandomize=not LONG,
        deadline=None,  # the wall clock is shared; hangs are caught by `deadline` below
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
        print_blob=True,
    )


class Hang(AssertionError):
    """A fuzzed call ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the main thread if the block runs longer than `seconds`."""

    def expired(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def raised_by_fastlstm(err: BaseException) -> bool:
    """Whether the innermost frame of `err`'s traceback is fastlstm's own code."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_DIR)


def check_clean_error(err: BaseException, names: Sequence[str]) -> None:
    """`err` is fastlstm's clear error: a ValueError raised by fastlstm naming one of `names`."""
    where = "".join(traceback.format_exception(err)[-6:])
    assert isinstance(err, ValueError), f"not a ValueError:\n{where}"
    assert raised_by_fastlstm(err), f"escaped from outside fastlstm:\n{where}"
    message = str(err)
    assert message.strip(), f"an empty message:\n{where}"
    assert any(n in message for n in names), f"the message names none of {list(names)}: {message!r}"


def outcome(call: Callable[[], Any], names: Sequence[str], seconds: float = 30.0) -> Any:
    """Run `call` under a deadline; return its value, or None after a clean error (checked)."""
    try:
        with deadline(seconds), warnings.catch_warnings():
            warnings.simplefilter("ignore", fastlstm.TaskInferenceWarning)
            warnings.simplefilter("error", RuntimeWarning)
            value = call()
    except Hang:
        raise
    except Exception as err:
        check_clean_error(err, names)
        event("refused with a clear error")
        return None
    event("accepted")
    return value

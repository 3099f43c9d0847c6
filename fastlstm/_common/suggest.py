"""'Did you mean' for a misspelt key, field or choice: the closest known names, if any is close."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(given: str, known: Iterable[str]) -> str:
    """' (did you mean 'model'?)' when a known name is close to `given`, else ''.

    Case is ignored (`Adam` is `adam`); difflib's ratio of 0.6 catches one or two
    swapped, missing or extra letters in names of four letters or more."""
    names = {name.lower(): name for name in known}
    close = difflib.get_close_matches(given.lower(), list(names), n=2, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(names[c]) for c in close) + "?)"

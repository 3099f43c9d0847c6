"""config.toml's text for a sweep: the resolved spec behind a comment that says how to rerun it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult


def config_toml(result: SweepResult) -> tuple[str | None, str | None]:
    """(config.toml's text, None), or (None, why it is not written).

    The text is `result.spec.to_toml()` behind a comment; a result without a spec (made
    by hand, or loaded from a folder without config.toml) has none, and a spec whose
    `to_toml()` refuses is left out rather than written as something that would run a
    different sweep.
    """
    spec = result.spec
    if spec is None:
        return None, "the result carries no spec"
    try:
        text = spec.to_toml()
    except (TypeError, ValueError) as err:
        return None, f"the spec has no TOML form ({err})"
    header = "# The resolved spec of this run; run it again with: fastlstm sweep config.toml\n"
    if spec.data is None:
        header += "# Its data were arrays passed to fl.sweep: add a [data] table to run it from the command line.\n"
    return header + text, None

"""What a diagnosis says: `Finding` (one problem, its numbers and its fix) and `Findings`.

A finding is a document first: the id is stable (DESIGN.md §4, users and tests match on
it), the evidence holds the numbers that triggered it, and `change` is the SweepSpec
override that `fastlstm doctor` runs as a second sweep to show the fix works (None when
no spec change fixes it: NaN in the data, leakage, shuffled labels). Keys of `change`
are SweepSpec keys; a dotted key ("model.dropout") names a key inside a table, as
`--set` does (see `apply_change`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from fastlstm._common.coerce import to_python
from fastlstm.report._notebook import findings_html, findings_repr

if TYPE_CHECKING:
    from fastlstm.spec._sweep_spec import SweepSpec

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")  # the order findings are listed in
# The stable ids (DESIGN.md §4), in the order findings of equal severity are listed:
# data before training (a data fault explains a training symptom, not the reverse).
FINDING_IDS: tuple[str, ...] = (
    "data.nan",
    "data.constant_feature",
    "data.unscaled",
    "data.imbalance",
    "data.leakage",
    "data.label_shift",
    "data.short_or_ragged",
    "train.divergence",
    "train.plateau",
    "train.no_signal",
    "train.underfit",
    "train.overfit",
    "train.collapse",
    "seeds.instability",
    "lr.too_high",
    "lr.too_low",
)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: a stable `id`, how bad it is, the numbers, and a concrete fix.

    `title` is one line a user reads; `evidence` the numbers that triggered it (JSON-ready:
    numbers, strings, lists, dicts); `recommendation` the change in words; `change` the
    SweepSpec overrides that apply it as a second sweep, or None.
    """

    id: str
    severity: Severity
    title: str
    evidence: dict[str, Any]
    recommendation: str
    change: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.id not in FINDING_IDS:
            raise ValueError(f"Finding.id must be one of {', '.join(FINDING_IDS)}; got {self.id!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding.severity must be one of info, warning, error; got {self.severity!r}")
        if not isinstance(self.evidence, Mapping):
            raise ValueError(f"Finding.evidence must be a dict, got {type(self.evidence).__name__}")
        if self.change is not None and not isinstance(self.change, Mapping):
            raise ValueError(f"Finding.change must be a dict of spec overrides or None, got {self.change!r}")
        object.__setattr__(self, "evidence", _plain(self.evidence))
        object.__setattr__(self, "change", None if self.change is None else _plain(self.change))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "evidence": dict(self.evidence),
            "recommendation": self.recommendation,
            "change": None if self.change is None else dict(self.change),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Finding:
        """Read `to_dict`'s document back; a missing title/recommendation reads as ""."""
        if not isinstance(doc, Mapping) or "id" not in doc or "severity" not in doc:
            raise ValueError(f"a finding must be a dict with at least 'id' and 'severity', got {doc!r}")
        return cls(
            id=doc["id"],
            severity=doc["severity"],
            title=doc.get("title", ""),
            evidence=dict(doc.get("evidence") or {}),
            recommendation=doc.get("recommendation", ""),
            change=None if doc.get("change") is None else dict(doc["change"]),
        )

    def sort_key(self) -> tuple[int, int]:
        return SEVERITIES.index(self.severity), FINDING_IDS.index(self.id)


class Findings(list):
    """Findings, most severe first, then in FINDING_IDS order; prints as a readable listing."""

    def __init__(self, findings: Iterable[Finding] = ()):
        super().__init__(sorted(findings, key=Finding.sort_key))

    def ids(self) -> list[str]:
        return [f.id for f in self]

    def by_id(self, finding_id: str) -> Finding | None:
        return next((f for f in self if f.id == finding_id), None)

    def at_least(self, severity: Severity) -> Findings:
        """The findings as bad as `severity` or worse ("warning" -> warnings and errors)."""
        limit = SEVERITIES.index(severity)
        return Findings(f for f in self if SEVERITIES.index(f.severity) <= limit)

    def actionable(self) -> Findings:
        """The findings whose fix is a spec change (what `fastlstm doctor` can verify), most severe first."""
        return Findings(f for f in self if f.change)

    def to_dict(self) -> dict[str, Any]:
        """The `findings` document (prompts/schemas.md); `verification` is filled by doctor."""
        return {"findings": [f.to_dict() for f in self], "verification": None}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Findings:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("findings"), list):
            raise ValueError("a findings document must be a dict with a 'findings' list")
        return cls(Finding.from_dict(f) for f in doc["findings"])

    def __str__(self) -> str:
        if not self:
            return "No findings: nothing in the checks looked wrong."
        return "\n\n".join(_finding_text(f) for f in self)

    def __repr__(self) -> str:  # one line; print() gives the listing

        return findings_repr(self)

    def _repr_html_(self) -> str:

        return findings_html(self)


def _finding_text(f: Finding) -> str:
    lines = [f"{f.severity.upper():7} {f.id}: {f.title}"]
    for key, value in f.evidence.items():
        lines.append(f"        {key}: {_short(value)}")
    lines.append(f"        -> {f.recommendation}")
    if f.change:
        lines.append(f"        change: {', '.join(f'{k}={_short(v)}' for k, v in f.change.items())}")
    return "\n".join(lines)


def _short(value: object, limit: int = 160) -> str:
    """A value as a reader sees it: floats to 4 significant digits, long lists cut."""
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_short(v, limit) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {_short(v, limit)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> Any:
    """Python values all the way down (NumPy scalars and arrays converted), dicts copied."""
    value = to_python(value)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def apply_change(spec: SweepSpec, change: Mapping[str, object]) -> SweepSpec:
    """`spec` (a fastlstm.SweepSpec) with a finding's `change` applied, validated again.

    Top-level keys replace the spec's key; a dotted key ("model.dropout") sets one key of
    a table and keeps the others (a plain "model" would replace the whole model).
    """
    values = spec.to_dict()
    for key, value in change.items():
        *tables, last = key.split(".")
        node = values
        for part in tables:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"change: {key!r}: {part!r} is not a table of the spec")
        node[last] = value
    return type(spec).from_dict(values)

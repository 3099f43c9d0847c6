"""The run folder: one experiment as files a person, a spreadsheet and `fl.load` can read.

```
RUN/
  result.json, history.npz, params_k.npz   the machine-readable core `fl.load` reads
  config.toml        the resolved spec: `fastlstm sweep RUN/config.toml` runs it again
  members.csv        one row per member: seeds, settings, status, epochs
  history.csv        tidy: member, epoch, metric, value (epochs the member trained)
  summary.json       per-configuration statistics (`result.summary()` rows)
  environment.json   versions, devices, precision, the data file and its SHA-256, git commit
  findings.json, lr_range.json, variance_sources.json, scores.json
                     what analysis found (`result.analysis`), when it ran
  report.html, plots/*.png
                     the run for people, offline (fastlstm/report/_html.py); `fastlstm report`
                     rebuilds them from the other files
  .fastlstm          the marker, written last (kind "run")
```

Every file is written into a temporary folder that is renamed into place only when all
of them are there (`write_folder_atomically`), so a crash leaves the earlier run folder,
never half of a new one. Epochs are counted from 0 everywhere, as `best_epoch` and
`final_epoch` are. The CSV and summary files are views for people: `fl.load` reads the
core files and `config.toml`, checks that members.csv and config.toml agree with them, and
that no file the marker sealed (its SHA-256 of every file but the analysis documents,
environment.json and report.html) was edited or truncated since: a tampered folder is a `DamagedResultError`.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import importlib.metadata
import io
import json
import math
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from fastlstm._common.coerce import to_python
from fastlstm._common.files import (
    MARKER,
    DamagedResultError,
    NotAResultFolderError,
    check_seal,
    marker_kind,
    read_json_file,
    read_npz_file,
    write_file_atomically,
    write_folder_atomically,
)
from fastlstm._common.version import __version__
from fastlstm.data._loaded import LoadedData
from fastlstm.report._html import PLOT_FILES, PLOTS_FOLDER, REPORT_FILE, build_report, write_report_files
from fastlstm.results._importance import importance_document
from fastlstm.spec._config_file import config_toml
from fastlstm.spec._sweep_spec import SpecError, SweepSpec
from fastlstm.stats import (
    Summary,
)

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult
    from fastlstm.spec._sweep_spec import SweepSpec
    from fastlstm.stats import Summary

RUN_KIND = "run"  # the marker's kind for a run folder
CONFIG_FILE = "config.toml"
MEMBERS_FILE = "members.csv"
HISTORY_CSV = "history.csv"
SUMMARY_FILE = "summary.json"
ENVIRONMENT_FILE = "environment.json"
ENVIRONMENT_FORMAT = 1
# result.analysis keys and their files; `fl.load` reads back the ones present
ANALYSIS_FILES = {
    "findings": "findings.json",
    "lr_range": "lr_range.json",
    "variance_sources": "variance_sources.json",
    "scores": "scores.json",  # validation scores after a CLI sweep (fastlstm/results/_scores.py)
    "ensemble": "ensemble.json",  # each configuration's seeds as one model (fastlstm/results/_ensemble.py)
    "importance": "importance.json",  # what moves the metric (fastlstm/results/_importance.py)
}
# not sealed by the marker's digests: analysis documents may be saved into the folder later,
# `fastlstm report` draws report.html again from the rest (plots/ is a folder: not sealed), and
# environment.json is a record `fl.load` does not read (tools may annotate it)
UNSEALED_FILES = (*ANALYSIS_FILES.values(), "report.html", ENVIRONMENT_FILE)
VERSIONED_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy")
GIT_TIMEOUT_S = 2.0
ENVIRONMENT_KEYS = (
    "format_version",
    "written_at",
    "versions",
    "platform",
    "devices",
    "precision",
    "data",
    "git_commit",
    "working_directory",
    "not_written",
)

# members.csv puts these last, in this order, whatever else a member row holds
OUTCOME_COLUMNS = ("status", "epochs_trained", "stopped_epoch", "pruned_epoch", "best_epoch", "final_epoch")


def write_run_folder(
    result: SweepResult,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    data: LoadedData | None = None,
    extra_environment: Mapping[str, object] | None = None,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True",
    report: bool = True,
) -> Path:
    """Write `result` as a run folder at `path` (see the module docstring); return the path.

    `data` is the file the sweep read (its name, path, format and SHA-256 go into
    environment.json); None means arrays passed in memory. `extra_environment` adds
    JSON-ready keys to environment.json (say, the command line). An existing `path` is
    replaced only when it is a fastlstm folder (or empty) and `overwrite` is True;
    otherwise `fastlstm.data.OutputPathError` (a `ValueError`) is raised before anything is
    written, worded with `name` and `overwrite_hint` ("--out", "pass --overwrite" for the CLI).
    `report=False` leaves out report.html and its figures (they cost matplotlib's time;
    `fastlstm report` writes them later from the folder).
    """
    if data is not None and not isinstance(data, LoadedData):
        raise ValueError(f"data must be a fastlstm.data.LoadedData (from read_data) or None, got {type(data).__name__}")
    extra = _checked_extra(extra_environment)
    if report:
        result = with_importance(result)
    analysis = _checked_analysis(result.analysis)
    path = Path(path)
    with write_folder_atomically(
        path, overwrite, kind=RUN_KIND, name=name, overwrite_hint=overwrite_hint, unsealed=UNSEALED_FILES
    ) as tmp:
        result.write_core(tmp)
        config, config_missing = config_toml(result)
        if config is not None:
            _write_text(tmp / CONFIG_FILE, config)
        _write_text(tmp / MEMBERS_FILE, members_csv(result.members))
        _write_text(tmp / HISTORY_CSV, history_csv(result.history))
        summary = result.summary()  # once: from 10 seeds on its intervals are bootstrapped
        _write_text(tmp / SUMMARY_FILE, summary_json(result, summary))
        environment = strict_json({**environment_record(result, data, config_missing), **extra})
        _write_text(tmp / ENVIRONMENT_FILE, environment)
        for key, document in analysis.items():
            _write_text(tmp / ANALYSIS_FILES[key], strict_json(document))
        if report:
            write_report_into(tmp, result, environment, summary)
    return path


def write_report_into(folder: Path, result: SweepResult, environment_json: str, summary: Summary) -> None:
    """report.html and plots/ in the folder being written, from the environment as saved
    (read back from its JSON, so a later `fastlstm report` draws the very same page)."""
    write_report_files(folder, build_report(result, json.loads(environment_json), summary=summary))


def with_importance(result: SweepResult) -> SweepResult:
    """`result` with what moves the metric among its analysis documents, when the sweep can
    say (a grid or a search with 2 or more seeds) and has not said yet: the report draws it for
    people. A copy: the caller's `result.analysis` is left as it was."""
    if "importance" in result.analysis:
        return result
    document = importance_document(result)
    if document is None:
        return result
    return dataclasses.replace(result, analysis={**result.analysis, "importance": document})


def _checked_analysis(analysis: Mapping[str, object]) -> dict[str, Any]:
    """result.analysis, checked before anything is written: known keys, JSON-ready documents."""
    unknown = sorted(set(analysis) - set(ANALYSIS_FILES))
    if unknown:
        raise ValueError(f"result.analysis: unknown keys {unknown}; expected some of {sorted(ANALYSIS_FILES)}")
    for key, document in analysis.items():
        try:
            strict_json(document)
        except (TypeError, ValueError) as e:
            raise ValueError(f"result.analysis[{key!r}] is not JSON-ready: {e}") from None
    return dict(analysis)


def read_analysis(folder: Path) -> dict[str, Any]:
    """The analysis documents saved in `folder` (absent files are simply not there)."""
    return {key: read_json_file(folder, name) for key, name in ANALYSIS_FILES.items() if (folder / name).exists()}


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _checked_extra(extra: Mapping[str, object] | None) -> dict[str, Any]:
    """extra_environment as a dict of JSON-ready values whose keys do not hide a recorded one."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"extra_environment must be a dict or None, got {type(extra).__name__}")
    for key, value in extra.items():
        if not isinstance(key, str) or key in ENVIRONMENT_KEYS:
            raise ValueError(
                f"extra_environment: key {key!r} must be a string other than {', '.join(ENVIRONMENT_KEYS)}"
            )
        try:
            strict_json(value)
        except (TypeError, ValueError):
            raise ValueError(f"extra_environment[{key!r}] is not JSON-ready: {type(value).__name__}") from None
    return dict(extra)


# --- the files ---------------------------------------------------------------------------


def members_csv(members: list[dict[str, Any]]) -> str:
    """One row per member; columns are every key a member has, outcomes last; None is empty."""
    keys = list(dict.fromkeys(k for m in members for k in m))
    columns = [k for k in keys if k not in OUTCOME_COLUMNS] + [k for k in OUTCOME_COLUMNS if k in keys]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for m in members:
        writer.writerow([_csv_cell(m.get(k)) for k in columns])
    return out.getvalue()


def _csv_cell(value: object) -> str:
    value = to_python(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # 'inf', 'nan' and every digit needed to read the same float back
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return strict_json(value, indent=None)
    return str(value)


def history_csv(history: Mapping[str, np.ndarray]) -> str:
    """Tidy rows (member, epoch, metric, value) for every finite entry, by member then epoch.

    NaN marks epochs a member did not train (stopped or diverged), so those rows are left
    out. Values are float32, written with the fewest digits that read back to the same
    float32 (`np.float32(text)` gives the stored value exactly).
    """
    names = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("member", "epoch", "metric", "value"))
    if names:
        cube = np.stack([np.asarray(history[n], np.float32) for n in names], axis=-1)  # (members, epochs, metrics)
        members, epochs, metrics = np.nonzero(np.isfinite(cube))  # C order: by member, epoch, metric
        values = cube[members, epochs, metrics]
        writer.writerows((int(m), int(e), names[k], str(v)) for m, e, k, v in zip(members, epochs, metrics, values))
    return out.getvalue()


def summary_json(result: SweepResult, summary: Summary | None = None) -> str:
    """`result.summary()` (or `summary`, already computed) as strict JSON: the rows, and what
    they were computed over."""
    summary = result.summary() if summary is None else summary
    return strict_json(
        {
            "metrics": list(summary.metrics),
            "grid_keys": list(summary.grid_keys),
            "majority_class_rate": summary.majority_class_rate,
            "rows": list(summary),
        }
    )


def environment_record(
    result: SweepResult, data: LoadedData | None, config_missing: str | None = None
) -> dict[str, Any]:
    """What the run ran on, as far as this process can tell when the folder is written.

    Devices are those JAX sees now: write the folder from the process that trained.
    """
    record: dict[str, Any] = {
        "format_version": ENVIRONMENT_FORMAT,
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "platform": platform.platform(),
        "devices": device_record(),
        "precision": result.meta.get("precision", "float32"),
        "data": data_record(data),
        "git_commit": git_commit(),  # fastlstm's own checkout (None when installed as a package)
        "working_directory": working_directory_record(),  # the user's project, where the run was started
    }
    if config_missing is not None:
        record["not_written"] = {CONFIG_FILE: config_missing}
    return record


def package_versions() -> dict[str, str | None]:
    """Python's and the numerical stack's versions (None for a package that is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "fastlstm": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_record() -> dict[str, Any]:
    """The default backend's platform, device kind and device count."""
    import jax

    devices = jax.devices()
    return {"platform": devices[0].platform, "kind": devices[0].device_kind, "count": len(devices)}


def data_record(data: LoadedData | None) -> dict[str, Any]:
    if data is None:
        return {"source": "in-memory arrays", "sha256": None}
    return {
        "source": "file",
        "name": Path(data.path).name,
        "path": str(Path(data.path).resolve()),
        "format": data.format,
        "sha256": data.sha256,
        "description": data.description,
    }


def working_directory_record(folder: Path | None = None) -> dict[str, Any]:
    """The folder the run was started in and the HEAD of the git repository holding it (None
    outside one): the user's code and data at the time, which `git_commit` - fastlstm's own
    checkout - is not."""
    folder = Path.cwd() if folder is None else folder
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
        commit = done.stdout.strip() if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"path": str(folder), "git_commit": commit or None}


def git_commit(package_dir: Path | None = None) -> str | None:
    """HEAD of the git checkout fastlstm runs from; None when it is not one, or git fails.

    Only a checkout whose top folder holds this very package counts: a fastlstm installed
    inside someone else's repository (a venv in a project) must not report that commit.
    """
    if package_dir is None:
        package_dir = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "-C", str(package_dir), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return None
    top, commit = lines
    if (Path(top) / package_dir.name).resolve() != package_dir.resolve():
        return None
    return commit


# --- reading back ------------------------------------------------------------------------


def read_config(folder: Path) -> SweepSpec | None:
    """The spec in `folder/config.toml`, or None without one; a damaged file is a
    `DamagedResultError` naming it (its data path is kept as written, not re-resolved)."""

    file = folder / CONFIG_FILE
    if not file.exists():
        return None
    try:
        return SweepSpec.from_toml(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SpecError) as err:
        reason = " ".join(str(err).split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise DamagedResultError(f"{str(folder)!r}: {CONFIG_FILE} is damaged ({reason})") from None


def check_views(folder: Path, members: list[dict[str, Any]], spec: SweepSpec | None) -> None:
    """The files for people must say what the core files say: members.csv row for row, and
    config.toml the same number of members; `DamagedResultError` naming the file otherwise
    (absent files pass: a folder saved before run folders has neither)."""
    _check_members_csv(folder, members)
    if spec is not None:
        described = len(spec.plan().members)
        if described != len(members):
            raise DamagedResultError(
                f"{str(folder)!r}: {CONFIG_FILE} is damaged (it describes {described} members, "
                f"but the results hold {len(members)})"
            )


def _check_members_csv(folder: Path, members: list[dict[str, Any]]) -> None:
    """members.csv against the rows result.json holds, cell by cell (as `members_csv` writes them)."""
    file = folder / MEMBERS_FILE
    if not file.exists():
        return
    where = f"{str(folder)!r}: {MEMBERS_FILE} is damaged"
    try:
        got = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DamagedResultError(f"{where} ({type(err).__name__}: {err})") from None
    want = list(csv.reader(io.StringIO(members_csv(members))))
    if not got or got[0] != want[0]:
        raise DamagedResultError(f"{where} (its columns {got[0] if got else []} are not {want[0]})")
    if len(got) != len(want):
        raise DamagedResultError(f"{where} ({len(got) - 1} rows for {len(want) - 1} members)")
    for row, (have, expected) in enumerate(zip(got[1:], want[1:])):
        for column, a, b in zip(want[0], have, expected):
            if a != b:
                raise DamagedResultError(f"{where} (member {row}: {column} is {a!r}, the results say {b!r})")
        if len(have) != len(expected):
            raise DamagedResultError(f"{where} (member {row} has {len(have)} cells, expected {len(expected)})")


# --- strict JSON -------------------------------------------------------------------------


def strict_json(value: object, indent: int | None = 1) -> str:
    """RFC 8259 JSON: NaN and infinities become null (a report, read by people and tools)."""
    return json.dumps(_finite_or_null(to_python(value)), indent=indent, allow_nan=False)


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    return value


__all__ = [
    "CONFIG_FILE",
    "ENVIRONMENT_FILE",
    "HISTORY_CSV",
    "MEMBERS_FILE",
    "RUN_KIND",
    "SUMMARY_FILE",
    "check_views",
    "read_config",
    "strict_json",
    "write_run_folder",
]


def write_report(result: SweepResult, folder: str | Path, environment: Mapping[str, object] | None = None) -> Path:
    """Rewrite report.html and plots/*.png in an existing run folder, each file under a
    temporary name renamed over the old one, the page last; no other file is touched.
    `environment` None means the folder's environment.json, when it has one. Figures a
    new page no longer draws (say, lr_range.png) are removed. Returns the page's path."""

    folder = Path(folder)
    if environment is None and (folder / ENVIRONMENT_FILE).exists():
        environment = read_json_file(folder, ENVIRONMENT_FILE)
    report = build_report(with_importance(result), environment)
    plots_folder = folder / PLOTS_FOLDER
    plots_folder.mkdir(exist_ok=True)
    for name, png in report.images.items():
        write_file_atomically(plots_folder / name, png)
    for name in set(PLOT_FILES) - set(report.images):
        (plots_folder / name).unlink(missing_ok=True)
    return write_file_atomically(folder / REPORT_FILE, report.html)


FORMAT_VERSION = 1


IN_PROGRESS_KIND = "run-in-progress"  # the marker of a run folder claimed before training


RESULT_FILE = "result.json"


HISTORY_FILE = "history.npz"


NON_FINITE_KEY = "non_finite"  # where the document lists the inf/nan values it wrote as null


REQUIRED_META = ("task", "loss", "metrics", "out_dim", "num_classes", "mask_value")


REQUIRED_MEMBER = ("index", "config", "status", "final_epoch")


@dataclasses.dataclass
class GroupParams:
    """Parameters of the members that share one structure (leading member axis)."""

    members: tuple[int, ...]
    units: int
    layers: int
    params: Any


def _params_file(k: int) -> str:
    return f"params_{k}.npz"


def _strict_json(doc: Mapping[str, object]) -> str:
    """`doc` as strict JSON (RFC 8259): inf/nan become null, and their places are listed
    under `non_finite` so `load` puts them back (an infinite clipnorm means "no clipping")."""
    non_finite: list[list[Any]] = []
    ready = _json_ready(to_python(doc), [], non_finite)
    if non_finite:
        ready[NON_FINITE_KEY] = non_finite
    return json.dumps(ready, indent=1, allow_nan=False, default=_json_default)


def _json_ready(value: Any, where: list[Any], non_finite: list[list[Any]]) -> Any:
    """Plain JSON values (NumPy scalars already Python ones): non-finite floats as None, recorded."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        non_finite.append([*where, repr(value)])  # 'inf', '-inf' or 'nan'
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v, [*where, k], non_finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, [*where, i], non_finite) for i, v in enumerate(value)]
    return value


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot save a {type(o).__name__} in result.json")


def _read_document(path: Path) -> dict[str, Any]:
    """result.json, checked for every field `load` and the result's methods rely on."""
    doc = read_json_file(path, RESULT_FILE)
    where = f"{str(path)!r}: {RESULT_FILE}"
    if not isinstance(doc, dict):
        raise DamagedResultError(f"{where} is damaged (expected a JSON object, got a {type(doc).__name__})")
    if "format_version" not in doc:
        raise DamagedResultError(f"{where} is damaged (no 'format_version')")
    if doc["format_version"] != FORMAT_VERSION:
        raise ValueError(f"{where}: unsupported format_version {doc['format_version']!r} (expected {FORMAT_VERSION})")
    for key, kind in (("members", list), ("configs", list), ("meta", dict), ("groups", list)):
        if not isinstance(doc.get(key), kind):
            raise DamagedResultError(f"{where} is damaged ({key!r} is missing or not a JSON {kind.__name__})")
    _require_keys(where, "meta", [doc["meta"]], REQUIRED_META)
    _require_keys(where, "members", doc["members"], REQUIRED_MEMBER)
    _require_keys(where, "groups", doc["groups"], ("members", "units", "layers"))
    listed = sorted(i for g in doc["groups"] for i in _int_list(where, g["members"]))
    if listed != list(range(len(doc["members"]))):
        raise DamagedResultError(f"{where} is damaged (the groups do not list each member once)")
    _restore_non_finite(where, doc)
    return doc


def _require_keys(where: str, field: str, rows: list[Any], keys: tuple[str, ...]) -> None:
    for row in rows:
        missing = [k for k in keys if k not in row] if isinstance(row, dict) else list(keys)
        if missing:
            raise DamagedResultError(f"{where} is damaged ({field!r} lacks {', '.join(map(repr, missing))})")


def _int_list(where: str, value: object) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise DamagedResultError(f"{where} is damaged (a group's 'members' is not a list of integers)")
    return value


def _restore_non_finite(where: str, doc: dict[str, Any]) -> None:
    """Put back the inf/nan values `_strict_json` wrote as null."""
    for entry in doc.pop(NON_FINITE_KEY, []):
        try:
            *keys, last, text = entry
            target = doc
            for key in keys:
                target = target[key]
            if target[last] is not None:
                raise ValueError("not null")
            target[last] = float(text)
        except (TypeError, ValueError, KeyError, IndexError):
            raise DamagedResultError(f"{where} is damaged (bad {NON_FINITE_KEY!r} entry {entry!r})") from None


def _check_history(path: Path, history: dict[str, np.ndarray], n_members: int) -> None:
    if "loss" not in history:
        raise DamagedResultError(f"{str(path)!r}: {HISTORY_FILE} is damaged (no 'loss' array)")
    for name, values in history.items():
        if values.ndim != 2 or values.shape[0] != n_members:
            raise DamagedResultError(
                f"{str(path)!r}: {HISTORY_FILE} is damaged ({name!r} has shape {values.shape}, "
                f"expected ({n_members}, epochs))"
            )


def _check_params(path: Path, file: str, arrays: dict[str, np.ndarray], n_members: int) -> None:
    if not arrays:
        raise DamagedResultError(f"{str(path)!r}: {file} is damaged (no arrays)")
    for name, a in arrays.items():
        if a.ndim == 0 or a.shape[0] != n_members:
            raise DamagedResultError(
                f"{str(path)!r}: {file} is damaged ({name!r} has shape {a.shape}, expected a leading axis of {n_members} members)"
            )


def read_result(path: Path) -> dict[str, Any]:
    """The fields of a `SweepResult` from its folder (`fl.load` builds the result from them),
    every file checked against the others and the seal."""
    if not path.is_dir() or not ((path / RESULT_FILE).exists() or (path / MARKER).exists()):
        raise NotAResultFolderError(f"path {str(path)!r} is not a saved fastlstm result (no {RESULT_FILE})")
    if marker_kind(path) == IN_PROGRESS_KIND:
        raise NotAResultFolderError(
            f"path {str(path)!r} is a run that did not finish (interrupted, or still running); "
            f"continue it with: fastlstm sweep --resume {path}"
        )
    doc = _read_document(path)
    history = read_npz_file(path, HISTORY_FILE)
    _check_history(path, history, len(doc["members"]))
    groups = []
    for k, g in enumerate(doc["groups"]):
        arrays = read_npz_file(path, _params_file(k))
        _check_params(path, _params_file(k), arrays, len(g["members"]))
        params = traverse_util.unflatten_dict({name: jnp.asarray(a) for name, a in arrays.items()}, sep="/")
        groups.append(GroupParams(tuple(g["members"]), g["units"], g["layers"], params))
    spec = read_config(path)
    check_views(path, doc["members"], spec)
    analysis = read_analysis(path)
    check_seal(path)  # last: the checks above say what is wrong where they can tell
    return {
        "history": history,
        "members": doc["members"],
        "groups": groups,
        "configs": doc["configs"],
        "meta": doc["meta"],
        "spec": spec,
        "analysis": analysis,
    }


def write_result_core(result: SweepResult, folder: Path) -> None:
    """result.json, history.npz and params_k.npz: the files `read_result` reads."""
    doc = {
        "format_version": FORMAT_VERSION,
        "members": result.members,
        "configs": result.configs,
        "meta": result.meta,
        "groups": [{"members": list(g.members), "units": g.units, "layers": g.layers} for g in result.groups],
    }
    (folder / RESULT_FILE).write_text(_strict_json(doc))
    # numpy's stubs let **arrays fill savez's allow_pickle: bool; these names never do
    np.savez(folder / HISTORY_FILE, **result.history)  # type: ignore[arg-type]
    for k, g in enumerate(result.groups):
        flat = traverse_util.flatten_dict(jax.device_get(g.params), sep="/")
        np.savez(folder / _params_file(k), **{name: np.asarray(v) for name, v in flat.items()})  # type: ignore[arg-type]

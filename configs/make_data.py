"""Write the small data files the example configs in this folder train on.

    python configs/make_data.py            # (re)writes configs/data/
    python configs/make_data.py OUT_DIR    # writes the same files somewhere else

Everything is drawn from NumPy generators with fixed seeds and written byte for byte
the same way every time (fixed zip timestamps, fixed number formats), so the files
committed in configs/data/ are exactly what this script makes; tests/test_configs.py
checks that. Each problem is synthetic but shaped like a real one, small (well under
300 KB) and learnable by a small LSTM in a few epochs, so a first sweep shows the
accuracy move. NumPy only: no pandas needed to make them.
"""

from __future__ import annotations

import datetime
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILES = ("multiclass.npz", "binary.csv", "forecast.csv", "variable_length.npz")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can say: no clock in the bytes


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like `np.savez` (an uncompressed .npz, no pickle), but with fixed entry timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE), buffer.getvalue())


def save_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    text = "\n".join(",".join(row) for row in [header, *rows]) + "\n"
    path.write_bytes(text.encode())


def motifs(n: int = 1000, timesteps: int = 24, seed: int = 1) -> dict[str, np.ndarray]:
    """multiclass.npz: which shape hides in a noisy trace - rise, fall, peak or dip.

    Channel 0 is noise plus one 6-step motif at a random place; channel 1 is noise
    only (not every input helps). The label is the motif's name, a string, so the
    reader maps classes to 0..3 in sorted order (dip, fall, peak, rise)."""
    rng = np.random.default_rng(seed)
    names = np.array(["rise", "fall", "peak", "dip"])
    ramp = np.linspace(-1.0, 1.0, 6)
    tent = 1.0 - np.abs(np.linspace(-1.0, 1.0, 6)) * 2.0
    shapes = 1.5 * np.stack([ramp, -ramp, tent, -tent])
    label = rng.integers(0, 4, size=n)
    x = rng.normal(scale=0.5, size=(n, timesteps, 2))
    start = rng.integers(0, timesteps - 6 + 1, size=n)
    for i in range(n):
        x[i, start[i] : start[i] + 6, 0] += shapes[label[i]]
    return {"x": x.astype(np.float32), "y": names[label]}


def sensor_rows(n: int = 360, timesteps: int = 16, positive_rate: float = 0.3, seed: int = 2) -> list[list[str]]:
    """binary.csv: machines' sensor traces, label 1 = the machine failed afterwards (30%).

    Long format, one row per (machine, step): id, step, temperature, vibration, label.
    A failing machine's vibration creeps up over the second half of its trace and its
    temperature drifts a little; healthy ones are noise around a steady level."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < positive_rate).astype(int)
    steps = np.arange(timesteps)
    creep = np.clip(steps - timesteps // 2, 0, None) / (timesteps // 2)  # 0 then up to 1
    rows = []
    for i in range(n):
        temperature = 0.2 * rng.normal(size=timesteps) + 0.15 * label[i] * steps / timesteps
        vibration = 0.5 * rng.normal(size=timesteps) + 0.6 * label[i] * creep
        for t in steps:
            rows.append([f"m{i:03d}", str(t), f"{temperature[t]:.3f}", f"{vibration[t]:.3f}", str(label[i])])
    return rows


def demand_rows(days: int = 3 * 365, seed: int = 3) -> list[list[str]]:
    """forecast.csv: daily electricity demand (GW) of a small grid, 2021-2023.

    Demand = a yearly cycle (more in winter) + a weekly one (less at weekends) + slowly
    wandering noise (AR(1)). Columns: date, weekend (0/1, known in advance), demand_gw.
    Values stay near 1: fastlstm feeds inputs as they are, and an LSTM learns best on
    inputs of about unit scale."""
    rng = np.random.default_rng(seed)
    start = datetime.date(2021, 1, 1)
    dates = [start + datetime.timedelta(days=d) for d in range(days)]
    weekend = np.array([d.weekday() >= 5 for d in dates], dtype=int)
    day_of_year = np.arange(days) % 365
    noise = np.zeros(days)
    shocks = rng.normal(scale=0.03, size=days)
    for d in range(1, days):
        noise[d] = 0.8 * noise[d - 1] + shocks[d]
    demand = 1.0 + 0.25 * np.cos(2 * np.pi * day_of_year / 365) - 0.15 * weekend + noise
    return [[d.isoformat(), str(w), f"{v:.4f}"] for d, w, v in zip(dates, weekend, demand)]


def drifts(n: int = 900, shortest: int = 6, longest: int = 40, seed: int = 4) -> dict[str, np.ndarray]:
    """variable_length.npz: does a noisy walk drift up, down or not at all?

    Each sequence is a walk's steps (one feature: unit noise plus a drift of +0.5, 0 or
    -0.5) and has its own length, 6 to 40 steps; short ones are harder, as the noise has
    less time to average out. Saved post-padded with zeros plus `lengths`, which is how
    an .npz holds ragged data without pickle; the reader hands back the unpadded
    sequences and fl.sweep pads and masks them again."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, size=n)  # 0 down, 1 flat, 2 up
    lengths = rng.integers(shortest, longest + 1, size=n)
    x = np.zeros((n, longest, 1), np.float32)
    for i in range(n):
        x[i, : lengths[i], 0] = rng.normal(size=lengths[i]) + 0.5 * (label[i] - 1)
    return {"x": x, "y": label.astype(np.int64), "lengths": lengths.astype(np.int64)}


def write_all(out: Path) -> list[Path]:
    """Write every data file into `out` (created if needed); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    save_npz(out / "multiclass.npz", **motifs())
    save_csv(out / "binary.csv", ["id", "step", "temperature", "vibration", "label"], sensor_rows())
    save_csv(out / "forecast.csv", ["date", "weekend", "demand_gw"], demand_rows())
    save_npz(out / "variable_length.npz", **drifts())
    return [out / name for name in FILES]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "data"
    for path in write_all(target):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")

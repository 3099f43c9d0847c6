"""`fastlstm` command line: a thin layer over the library.

`fastlstm sweep` with no arguments trains 8 seeds on the built-in early-cue task
with Keras's defaults, shows a progress bar and prints the spread across seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastlstm", description="Batched multi-seed LSTM sweeps in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="train seeds x settings of one LSTM (default: the built-in task)")
    sw.add_argument("--seeds", type=_positive, default=8, help="number of seeds (default 8)")
    sw.add_argument("--epochs", type=_positive, default=15, help="epochs (default 15)")
    sw.add_argument("--units", type=_positive, default=32, help="LSTM units (default 32)")
    sw.add_argument("--layers", type=_positive, default=1, help="stacked LSTM layers (default 1)")
    sw.add_argument("--batch-size", type=_positive, default=32, help="batch size (default 32, as Keras)")
    sw.add_argument(
        "--learning-rate",
        type=_positive_float,
        nargs="+",
        default=None,
        help="one value, or several for a grid (default: the optimizer's, 1e-3 for Adam)",
    )
    sw.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd", "rmsprop"])
    sw.add_argument("--validation-split", type=float, default=0.2, help="last fraction of rows held out (default 0.2)")
    sw.add_argument("--samples", type=_positive, default=2048, help="built-in task: number of sequences (default 2048)")
    sw.add_argument("--timesteps", type=_positive, default=24, help="built-in task: sequence length (default 24)")
    sw.add_argument("--out", type=Path, default=None, help="save the result to this folder")
    sw.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def summary_table(result) -> Table:
    """The per-configuration spread as a rich table: one row per configuration and metric."""
    summary = result.summary()
    table = Table(title="Spread across seeds (each member's final epoch)")
    keys = list(result.meta["grid_keys"])
    for k in [*keys, "metric", "seeds", "diverged", "mean ± std", "95% CI of mean", "min … max"]:
        table.add_column(k, justify="left" if k == "metric" else "right")
    for row in summary:
        config = [f"{row[k]:g}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        for m in summary.metrics:
            table.add_row(
                *config,
                m,
                str(row["seeds"]),
                str(row["diverged"]),
                f"{row[m + '_mean']:.4f} ± {row[m + '_std']:.4f}",
                f"[{row[m + '_ci_low']:.4f}, {row[m + '_ci_high']:.4f}]",
                f"{row[m + '_min']:.4f} … {row[m + '_max']:.4f}",
            )
    return table


def run_sweep(args: argparse.Namespace, console: Console) -> int:
    import jax

    import fastlstm as fl
    from fastlstm.tasks import early_cue

    x, y = early_cue(n=args.samples, timesteps=args.timesteps)
    grid = {"learning_rate": args.learning_rate} if args.learning_rate and len(args.learning_rate) > 1 else None
    lr = args.learning_rate[0] if args.learning_rate and len(args.learning_rate) == 1 else None
    if args.out is not None and args.out.exists() and not args.overwrite:
        console.print(f"[red]--out {args.out} exists; pass --overwrite to replace it[/red]")
        return 2
    console.print(
        f"fastlstm {fl.__version__} on {jax.default_backend()} ({jax.device_count()} device): "
        f"built-in early-cue task, {x.shape[0]} sequences x {x.shape[1]} steps x {x.shape[2]} features, 4 classes; "
        f"{args.seeds} seeds{' x ' + str(len(grid['learning_rate'])) + ' learning rates' if grid else ''}"
    )
    start = time.perf_counter()
    result = fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=args.units, layers=args.layers),
        seeds=args.seeds,
        grid=grid,
        optimizer=args.optimizer,
        learning_rate=lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=args.validation_split,
        verbose=0 if args.quiet else 1,
    )
    elapsed = time.perf_counter() - start
    console.print(summary_table(result))
    console.print(f"{len(result.members)} members trained in {elapsed:.1f} s (compilation included)")
    if args.out is not None:
        result.save(args.out, overwrite=args.overwrite)
        console.print(f"saved to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "sweep":
            return run_sweep(args, console)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())

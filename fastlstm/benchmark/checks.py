"""Answer checks, so that a fast wrong answer cannot win the comparison.

Every system's mean final train accuracy must clear a floor (default: the
majority-class rate + 0.02; on W1 a model that does not train, e.g. PyTorch with
lr=0, ends its 3rd epoch at 0.24-0.26, one that trains at 0.28-0.31) and lie within
a tolerance of the others; fastlstm batched and sequential train the same members
from the same seeds and must agree member by member; every system must report the
same data digest. A failed check is a WARNING line, printed and stored in the JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastlstm.benchmark.systems import FASTLSTM_SYSTEMS

PER_MEMBER_TOLERANCE = 0.02  # fastlstm batched vs sequential, same member


def check_runs(runs: list[dict[str, Any]], floor: float | None, tolerance: float, max_others: float) -> list[str]:
    """The WARNING lines for the runs of one S (empty when every check passes).

    `floor` None (a workload too small to learn anything) skips the floor and the
    spread between systems; data digests and batched-vs-sequential are still checked.
    """
    warnings = []
    ok = [r for r in runs if r["result"] is not None]
    for r in runs:
        if r["result"] is None:
            warnings.append(f"{r['system']} S={r['seeds']}: did not finish (rc={r['rc']})")
    means = {r["system"]: float(np.mean(r["result"]["final_train_accuracy"])) for r in ok}
    for r in ok:
        name = f"{r['system']} S={r['seeds']}"
        accs = np.asarray(r["result"]["final_train_accuracy"], np.float64)
        if not np.all(np.isfinite(accs)):
            warnings.append(f"{name}: non-finite final accuracy {accs.tolist()}")
        if floor is not None and means[r["system"]] < floor:
            warnings.append(
                f"{name}: mean final train accuracy {means[r['system']]:.3f} is below the floor {floor:.3f}"
            )
        others = r.get("others_cpu_fraction")
        if others is not None and others > max_others:
            warnings.append(
                f"{name}: other processes used {others:.0%} of the CPUs during the run; its time is not trustworthy"
            )
    if not runs:
        return warnings
    seeds = runs[0]["seeds"]
    if floor is not None and len(means) > 1 and max(means.values()) - min(means.values()) > tolerance:
        spread = ", ".join(f"{k} {v:.3f}" for k, v in means.items())
        warnings.append(f"S={seeds}: mean final train accuracies differ by more than {tolerance}: {spread}")
    digests = {r["result"]["data_digest"] for r in ok}
    if len(digests) > 1:
        warnings.append(f"S={seeds}: systems trained on different data (digests {sorted(digests)})")
    fl = {r["system"]: r["result"] for r in ok if r["system"] in FASTLSTM_SYSTEMS}
    if len(fl) == 2:
        a = np.asarray(fl["fastlstm"]["final_train_accuracy"])
        b = np.asarray(fl["fastlstm_sequential"]["final_train_accuracy"])
        diff = float(np.max(np.abs(a - b)))
        if diff > PER_MEMBER_TOLERANCE:
            warnings.append(f"S={seeds}: fastlstm batched and sequential differ per member by up to {diff:.3f}")
    return warnings

"""Case d, Python mirt half: likelihood-ratio DIF test of every item between two groups, with
all other items as anchors (mirt's scheme="drop", as R mirt::DIF).

Peer of `irtlab dif DATA.csv --group group --focal focal --method lr --json`. The driver times
this whole process (interpreter start, imports, reading the CSV, the baseline multiple-group
fit and one refit per item).

    python mirt_dif_lr.py DATA.csv [--group group] [--focal focal] [--quadpts 61] [--jobs 1]

mirt.dif() is the top-level function, but it returns a pandas/polars DataFrame and so needs
one of those installed; it is a thin wrapper over mirt.diagnostics.compute_dif, which returns
the same numbers as a dict and is used here. The test: 2PL, every item constrained equal in
both groups except the studied one (slope and intercept freed, df 2), focal latent mean and
variance estimated. Quadrature: 61 points (mirt's default 21). --jobs is mirt's n_jobs for
the refits (default 1, mirt's default: one process).
"""

from __future__ import annotations

import argparse
import time

t_start = time.perf_counter()
import mirt  # noqa: E402
import mirt.diagnostics  # noqa: E402
import numpy as np  # noqa: E402

from _mirt_io import emit_summary, read_wide, require  # noqa: E402

t_import = time.perf_counter() - t_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--group", default="group")
    parser.add_argument("--focal", default="focal")
    parser.add_argument("--quadpts", type=int, default=61)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    require(mirt.diagnostics, "compute_dif")

    t0 = time.perf_counter()
    _, items, x, groups = read_wide(args.data, group_column=args.group)
    t1 = time.perf_counter()
    result = mirt.diagnostics.compute_dif(
        x, groups, model="2PL", method="likelihood_ratio", scheme="drop", anchors=None,
        focal_group=args.focal, n_quadpts=args.quadpts, n_jobs=args.jobs,
    )
    t2 = time.perf_counter()

    stat = np.asarray(result["statistic"], dtype=float)
    p = np.asarray(result["p_value"], dtype=float)
    flagged = [items[j] for j in np.flatnonzero(p < 0.05)]
    print(f"mirt {mirt.__version__}: LR DIF, 2PL, {x.shape[0]} persons x {x.shape[1]} items, "
          f"focal={args.focal}")
    for j in range(min(5, len(items))):
        print(f"{items[j]}: LR {stat[j]:.3f}  df {result['df'][j]:.0f}  p {p[j]:.4g}  "
              f"ETS {result['classification'][j]}")
    print(f"items with p < .05: {', '.join(flagged) or 'none'}")
    print(f"converged: {bool(np.all(result['converged']))}")
    print(f"phases: import {t_import:.2f}s  read {t1 - t0:.2f}s  DIF {t2 - t1:.2f}s")
    emit_summary(LR_1=stat[0], LR_2=stat[1], LR_3=stat[2], LR_4=stat[3],
                 flagged=flagged, converged=bool(np.all(result["converged"])), dif_s=t2 - t1)


if __name__ == "__main__":
    main()

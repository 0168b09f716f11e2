"""Simulate the peer-benchmark data sets as wide CSV files (run with the venv's python).

Every file has a header row, a first column `id` and one column per item (item01, item02,
...), one row per person; the DIF file has a `group` column (ref/focal) after `id`. A fixed
seed per data set and the pinned numpy make the files identical on every machine. Next to each
data file, `<name>.params.csv` holds the generating item parameters (for checking recovery).

    python gendata.py [--out DIR] [--only NAME ...] [--force]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SEED = 20240611


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def item_names(n: int) -> list[str]:
    return [f"item{j + 1:02d}" for j in range(n)]


def write_wide(path: Path, responses: np.ndarray, groups: np.ndarray | None = None) -> None:
    """Write `id[,group],item01,...` rows; responses are small non-negative integers."""
    n_persons, n_items = responses.shape
    header = ["id"] + (["group"] if groups is not None else []) + item_names(n_items)
    with open(path, "w", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for i in range(n_persons):
            lead = f"p{i + 1:06d}," + (f"{groups[i]}," if groups is not None else "")
            f.write(lead + ",".join(map(str, responses[i].tolist())) + "\n")


def write_params(path: Path, columns: dict[str, np.ndarray]) -> None:
    n_items = len(next(iter(columns.values())))
    names = item_names(n_items)
    with open(path, "w") as f:
        f.write("item," + ",".join(columns) + "\n")
        for j in range(n_items):
            f.write(names[j] + "," + ",".join(f"{columns[c][j]:.6f}" for c in columns) + "\n")


def sim_2pl(rng: np.random.Generator, n_persons: int, n_items: int):
    """2PL, P = 1 / (1 + exp(-a(θ - b))), θ ~ N(0, 1), a ~ lognormal(0, 0.25), b ~ N(0, 1)."""
    a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(0.0, 1.0, n_persons)
    p = logistic(a[None, :] * (theta[:, None] - b[None, :]))
    x = (rng.random(p.shape) < p).astype(np.int8)
    return x, {"a": a, "b": b}


def sim_graded(rng: np.random.Generator, n_persons: int, n_items: int, n_categories: int):
    """Samejima's graded model: P(X >= k) = 1 / (1 + exp(-a(θ - b_k))), k = 1..K-1.

    Thresholds are increasing: b_1 ~ U(-2, -1), then steps of U(0.5, 1.2).
    """
    a = rng.lognormal(0.2, 0.25, n_items)
    first = rng.uniform(-2.0, -1.0, n_items)
    steps = rng.uniform(0.5, 1.2, (n_items, n_categories - 2))
    b = np.concatenate([first[:, None], first[:, None] + np.cumsum(steps, axis=1)], axis=1)
    theta = rng.normal(0.0, 1.0, n_persons)
    # Cumulative probabilities, shape (persons, items, K-1), decreasing in k.
    p_at_least = logistic(a[None, :, None] * (theta[:, None, None] - b[None, :, :]))
    # One uniform per response: the category is the number of thresholds passed.
    u = rng.random((n_persons, n_items, 1))
    x = (u < p_at_least).sum(axis=2).astype(np.int8)
    columns = {"a": a} | {f"b{k + 1}": b[:, k] for k in range(n_categories - 1)}
    return x, columns


def sim_dif(rng: np.random.Generator, n_per_group: int, n_items: int):
    """Two groups of 2PL responses; items 1-3 have DIF in the focal group.

    ref θ ~ N(0, 1), focal θ ~ N(-0.25, 1) (impact, which is not DIF). Focal parameters:
    item 1 b + 0.5 and item 2 b - 0.5 (uniform DIF), item 3 a × 0.5 (non-uniform DIF).
    Rows are shuffled so the groups interleave.
    """
    a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    a_focal, b_focal = a.copy(), b.copy()
    b_focal[0] += 0.5
    b_focal[1] -= 0.5
    a_focal[2] *= 0.5
    groups = np.array(["ref"] * n_per_group + ["focal"] * n_per_group)
    theta = np.concatenate([rng.normal(0.0, 1.0, n_per_group), rng.normal(-0.25, 1.0, n_per_group)])
    focal = groups == "focal"
    a_by_person = np.where(focal[:, None], a_focal[None, :], a[None, :])
    b_by_person = np.where(focal[:, None], b_focal[None, :], b[None, :])
    p = logistic(a_by_person * (theta[:, None] - b_by_person))
    x = (rng.random(p.shape) < p).astype(np.int8)
    order = rng.permutation(len(groups))
    return x[order], groups[order], {"a_ref": a, "b_ref": b, "a_focal": a_focal, "b_focal": b_focal}


# name -> (seed offset, generator). Case c (item fit + M2) reuses the 2PL file of case a.
DATASETS = {
    "2pl_10000x50": lambda rng: sim_2pl(rng, 10_000, 50),
    "graded_10000x20": lambda rng: sim_graded(rng, 10_000, 20, 5),
    "dif_20000x20": lambda rng: sim_dif(rng, 10_000, 20),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--only", nargs="*", choices=sorted(DATASETS), help="data sets to write")
    parser.add_argument("--force", action="store_true", help="rewrite files that exist")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for offset, (name, simulate) in enumerate(DATASETS.items()):
        if args.only and name not in args.only:
            continue
        path = args.out / f"{name}.csv"
        if path.exists() and not args.force:
            continue
        # One independent stream per data set, so adding a data set changes no other file.
        rng = np.random.default_rng([SEED, offset])
        result = simulate(rng)
        if name.startswith("dif"):
            x, groups, params = result
        else:
            (x, params), groups = result, None
        tmp = path.with_suffix(".csv.tmp")
        write_wide(tmp, x, groups)
        tmp.replace(path)
        write_params(args.out / f"{name}.params.csv", params)
        print(f"wrote {path} ({x.shape[0]} persons x {x.shape[1]} items)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

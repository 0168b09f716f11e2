"""Helpers shared by the Python-mirt halves (mirt_*.py): reading the wide CSV with numpy,
checking that mirt has a function, and printing one machine-readable summary line.

Kept import-light (numpy only) so that the timed process spends its time in mirt.
"""

from __future__ import annotations

import json
import sys

import numpy as np

# Exit status that tells compare.py "this installed mirt cannot do the case" (not a failure).
EXIT_UNSUPPORTED = 3


def read_header(path: str) -> list[str]:
    with open(path) as f:
        return f.readline().rstrip("\r\n").split(",")


def read_wide(path: str, id_column: str = "id", group_column: str | None = None):
    """Read a wide CSV: returns (ids, item names, int response matrix, group labels or None).

    Every column but the id and the group is an item (0/1 or 0..K-1, no missing values in the
    simulated data).
    """
    header = read_header(path)
    skip = {id_column} | ({group_column} if group_column else set())
    item_columns = [j for j, name in enumerate(header) if name not in skip]
    responses = np.loadtxt(path, delimiter=",", skiprows=1, usecols=item_columns, dtype=np.int64)
    ids = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[header.index(id_column)], dtype=str)
    groups = None
    if group_column:
        groups = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[header.index(group_column)],
                            dtype=str)
    return ids, [header[j] for j in item_columns], responses, groups


def require(module, *names: str) -> None:
    """Exit with EXIT_UNSUPPORTED when `module` lacks any of `names`."""
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        package = sys.modules[module.__name__.split(".")[0]]
        version = getattr(package, "__version__", "?")
        print(f"UNSUPPORTED: {module.__name__} {version} has no {', '.join(missing)}", flush=True)
        sys.exit(EXIT_UNSUPPORTED)


def write_scores(path: str, ids, theta, se) -> None:
    """Write `id,theta,se` rows (what `irtlab fit --scores-out` writes, in spirit)."""
    with open(path, "w") as f:
        f.write("id,theta,se\n")
        f.writelines(f"{i},{t:.6f},{s:.6f}\n" for i, t, s in zip(ids, theta, se))


def emit_summary(**values) -> None:
    """One line `SUMMARY {json}` that compare.py parses for the key numbers."""
    def plain(value):
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        return value

    print("SUMMARY " + json.dumps({k: plain(v) for k, v in values.items()}), flush=True)

"""Case c, Python mirt half: 2PL calibration, then Orlando-Thissen S-X2 item fit for every item
and the M2 limited-information goodness-of-fit statistic (with RMSEA etc.).

Peer of `irtlab fit DATA.csv --id id --diagnostics --json`. The driver times this whole
process (interpreter start, imports, reading the CSV, fitting with default SEs, S-X2, M2).

    python mirt_itemfit_m2.py DATA.csv [--quadpts 61]

mirt.itemfit() and mirt.compute_fit_indices() are the top-level functions, but itemfit()
returns a pandas/polars DataFrame and so needs one of those installed; the dict-returning
functions underneath (mirt.diagnostics.compute_itemfit, mirt.compute_m2) compute the same
numbers without that dependency, so they are used here. Quadrature: 61 points for the fit,
S-X2 and M2 (mirt's defaults: 21 for the fit and M2, 41 for S-X2); S-X2 pools sparse cells at
expected counts below 1 (mirt's default).
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
    parser.add_argument("--quadpts", type=int, default=61)
    args = parser.parse_args()
    require(mirt, "fit_mirt", "compute_m2")
    require(mirt.diagnostics, "compute_itemfit")

    t0 = time.perf_counter()
    _, items, x, _ = read_wide(args.data)
    t1 = time.perf_counter()
    fit = mirt.fit_mirt(x, model="2PL", n_quadpts=args.quadpts, item_names=items)
    t2 = time.perf_counter()
    item_fit = mirt.diagnostics.compute_itemfit(fit.model, x, ["S_X2"], n_quadpts=args.quadpts)
    t3 = time.perf_counter()
    m2 = mirt.compute_m2(fit, x, n_quadpts=args.quadpts)
    t4 = time.perf_counter()

    s_x2 = np.asarray(item_fit["S_X2"], dtype=float)
    df = np.asarray(item_fit["df"], dtype=float)
    p = np.asarray(item_fit["p_value"], dtype=float)
    print(f"mirt {mirt.__version__}: 2PL, {x.shape[0]} persons x {x.shape[1]} items")
    print(f"logLik {fit.log_likelihood:.4f}  iterations {fit.n_iterations}  converged {fit.converged}")
    print(f"M2 {m2['M2']:.3f}  df {m2['df']}  p {m2['p_value']:.4g}")
    print(f"S-X2 item1 {s_x2[0]:.3f} (df {df[0]:.0f}, p {p[0]:.4g}); "
          f"items with p < .05: {int((p < 0.05).sum())} of {len(p)}")
    print(f"phases: import {t_import:.2f}s  read {t1 - t0:.2f}s  fit+SE {t2 - t1:.2f}s  "
          f"S-X2 {t3 - t2:.2f}s  M2 {t4 - t3:.2f}s")
    emit_summary(logLik=fit.log_likelihood, M2=m2["M2"], M2_df=m2["df"], M2_p=m2["p_value"],
                 sx2_1=s_x2[0], sx2_df_1=df[0], sx2_p05=int((p < 0.05).sum()),
                 fit_s=t2 - t1, sx2_s=t3 - t2, m2_s=t4 - t3)


if __name__ == "__main__":
    main()

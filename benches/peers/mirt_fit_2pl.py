"""Case a, Python mirt half: 2PL calibration with mirt's default standard errors, then EAP
scores for every person, written to a CSV.

Peer of `irtlab fit DATA.csv --id id --scores-out scores.csv`. The driver times this whole
process (interpreter start, imports, reading the CSV, fitting, SEs, scoring, writing).

    python mirt_fit_2pl.py DATA.csv [--scores-out FILE] [--quadpts 61]

Settings: EM (mirt's native 2PL path), tol 1e-4 and at most 500 cycles (mirt's defaults, and
irtlab's); 61 quadrature points for the fit and the EAP scores to match irtlab's 61 nodes
(mirt's own defaults are 21 Gauss-Hermite points for the fit, 49 for EAP); standard errors
se_method="auto", which for a unidimensional 2PL is Oakes' observed information.
"""

from __future__ import annotations

import argparse
import time

t_start = time.perf_counter()
import mirt  # noqa: E402  (imported after the clock starts so the import is reported too)
import numpy as np  # noqa: E402

from _mirt_io import emit_summary, read_wide, require, write_scores  # noqa: E402

t_import = time.perf_counter() - t_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--scores-out")
    parser.add_argument("--quadpts", type=int, default=61)
    args = parser.parse_args()
    require(mirt, "fit_mirt", "fscores")

    t0 = time.perf_counter()
    ids, items, x, _ = read_wide(args.data)
    t1 = time.perf_counter()
    fit = mirt.fit_mirt(x, model="2PL", n_quadpts=args.quadpts, item_names=items)
    t2 = time.perf_counter()
    scores = mirt.fscores(fit, x, method="EAP", n_quadpts=args.quadpts)
    theta = np.asarray(scores.theta).ravel()
    se = np.asarray(scores.standard_error).ravel()
    t3 = time.perf_counter()
    if args.scores_out:
        write_scores(args.scores_out, ids, theta, se)
    t4 = time.perf_counter()

    a = fit.model.parameters["discrimination"]
    b = fit.model.parameters["difficulty"]
    se_a = fit.standard_errors.get("discrimination", np.full_like(a, np.nan))
    print(f"mirt {mirt.__version__}: 2PL, {x.shape[0]} persons x {x.shape[1]} items")
    print(f"logLik {fit.log_likelihood:.4f}  iterations {fit.n_iterations}  "
          f"converged {fit.converged}  se_method {fit.se_method}")
    print(f"item1 a {a[0]:.4f} (SE {se_a[0]:.4f})  b {b[0]:.4f}")
    print(f"EAP mean {theta.mean():.4f}  mean SE {se.mean():.4f}")
    print(f"phases: import {t_import:.2f}s  read {t1 - t0:.2f}s  fit+SE {t2 - t1:.2f}s  "
          f"EAP {t3 - t2:.2f}s  write {t4 - t3:.2f}s")
    emit_summary(logLik=fit.log_likelihood, iterations=fit.n_iterations, converged=fit.converged,
                 se_method=fit.se_method, a1=a[0], b1=b[0], se_a1=se_a[0],
                 eap_mean=theta.mean(), fit_s=t2 - t1)


if __name__ == "__main__":
    main()

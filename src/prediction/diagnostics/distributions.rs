//! The distribution functions the fit statistics need: the central χ² survival function (the
//! p-values), the non-central χ² distribution function (the RMSEA confidence interval) and the
//! root finding (Brent's method) that inverts it.
//!
//! `ln Γ`, the incomplete gamma functions and the χ² survival function are the crate's shared ones
//! ([`crate::prediction::distributions`]), re-exported here:
//!
//! - `ln Γ` by Lanczos' approximation (g = 7, nine coefficients; relative error about 1e-15).
//! - The regularised incomplete gamma functions `P(a, x)` and `Q(a, x)` by the power series
//!   below `x < a + 1` and Lentz's continued fraction above (Press, Teukolsky, Vetterling &
//!   Flannery, *Numerical Recipes*, 3rd ed., 2007, §6.2). The χ² survival function is
//!   `Q(df/2, x/2)`.
//! - The non-central χ² distribution function as the Poisson mixture
//!   `F(x; k, λ) = Σ_i e^{−λ/2} (λ/2)^i / i! · P(k/2 + i, x/2)`, summed outward from the
//!   Poisson mode with the recurrences `P(a + 1, y) = P(a, y) − y^a e^{−y} / Γ(a + 1)` for the
//!   gamma terms and the ratio of consecutive Poisson weights (Ding, 1992, *Applied Statistics*
//!   41, algorithm AS 275, in the summation order R's `pnchisq` uses), so that a large
//!   non-centrality costs a few thousand terms, not an incomplete gamma function each.

pub use crate::prediction::distributions::{chi_square_sf, gamma_p_q, ln_gamma};

/// Distribution function `P(X ≤ x)` of the non-central χ² distribution with `df` degrees of
/// freedom and non-centrality `lambda` (see the module docs for the method).
pub fn noncentral_chi_square_cdf(x: f64, df: f64, lambda: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || lambda.is_nan() || lambda < 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    let y = x / 2.0;
    let half = lambda / 2.0;
    if half == 0.0 {
        return gamma_p_q(df / 2.0, y).0;
    }
    // Start at the Poisson mode.
    let mode = half.floor();
    let a0 = df / 2.0 + mode;
    let log_weight0 = -half + mode * half.ln() - ln_gamma(mode + 1.0);
    let p0 = gamma_p_q(a0, y).0;
    let mut total = log_weight0.exp() * p0;
    // The gamma term that links P(a) and P(a + 1): t(a) = y^a e^{−y} / Γ(a + 1), whose
    // logarithm steps by ln y − ln(a + 1) (one ln Γ for the whole sum).
    let (ln_y, ln_half) = (y.ln(), half.ln());
    let log_t0 = a0 * ln_y - y - ln_gamma(a0 + 1.0);
    // Upward: weights w_{i+1} = w_i · half / (i + 1), P(a + 1) = P(a) − t(a).
    let mut log_weight = log_weight0;
    let mut log_t = log_t0;
    let mut p = p0;
    let mut i = mode;
    let mut a = a0;
    loop {
        p -= log_t.exp();
        a += 1.0;
        // t(a + 1) = t(a)·y / (a + 1).
        log_t += ln_y - a.ln();
        log_weight += ln_half - (i + 1.0).ln();
        i += 1.0;
        let term = log_weight.exp() * p.max(0.0);
        total += term;
        if (i > half && log_weight < -40.0) || p <= 0.0 || i - mode > 1e7 {
            break;
        }
    }
    // Downward: w_{i−1} = w_i · i / half, P(a − 1) = P(a) + t(a − 1).
    let mut log_weight = log_weight0;
    let mut log_t = log_t0;
    let mut p = p0;
    let mut i = mode;
    let mut a = a0;
    while i > 0.0 {
        // t(a − 1) = t(a)·(a / y).
        log_t += a.ln() - ln_y;
        a -= 1.0;
        p += log_t.exp();
        log_weight += i.ln() - ln_half;
        i -= 1.0;
        total += log_weight.exp() * p.min(1.0);
        if log_weight < -40.0 {
            break;
        }
    }
    total.clamp(0.0, 1.0)
}

/// A root of `f` on `[lo, hi]` by Brent's method (inverse quadratic interpolation and secant
/// steps, falling back to bisection; Brent, 1973, as `zbrent` in *Numerical Recipes*), to the
/// tolerance `tolerance·(1 + |x|)`, when `f` changes sign there; `None` otherwise. Each
/// evaluation of the non-central χ² costs a few thousand terms, and Brent needs about a
/// fifth of bisection's.
pub fn find_root(f: &dyn Fn(f64) -> f64, lo: f64, hi: f64, tolerance: f64) -> Option<f64> {
    let (mut a, mut b) = (lo, hi);
    let (mut fa, mut fb) = (f(a), f(b));
    if !(fa.is_finite() && fb.is_finite()) || fa * fb > 0.0 {
        return None;
    }
    if fa == 0.0 {
        return Some(a);
    }
    let (mut c, mut fc) = (b, fb);
    let (mut d, mut e) = (b - a, b - a);
    for _ in 0..200 {
        if (fb > 0.0) == (fc > 0.0) {
            // Keep the root between b and c.
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * tolerance * (1.0 + b.abs());
        let half = 0.5 * (c - b);
        if half.abs() <= tol || fb == 0.0 {
            return Some(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * half * s, 1.0 - s)
            } else {
                let q = fa / fc;
                let r = fb / fc;
                (
                    s * (2.0 * half * q * (q - r) - (b - a) * (r - 1.0)),
                    (q - 1.0) * (r - 1.0) * (s - 1.0),
                )
            };
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            if 2.0 * p < (3.0 * half * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = half;
                e = d;
            }
        } else {
            d = half;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(half) };
        fb = f(b);
        if !fb.is_finite() {
            return None;
        }
    }
    Some(b)
}

/// The root mean square error of approximation of a χ² statistic, as mirt's `rmsea`:
/// `√(max(X² − df, 0) / (df·(N − 1)))`; NaN when `df ≤ 0`.
pub fn rmsea(statistic: f64, df: f64, n: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || !statistic.is_finite() || n <= 1.0 {
        return f64::NAN;
    }
    ((statistic - df).max(0.0) / (df * (n - 1.0))).sqrt()
}

/// The 90 % confidence interval of the RMSEA (Browne & Cudeck, 1993), as mirt's `RMSEA.CI`:
/// the non-centralities λ_L, λ_U at which `X²` is the 95th and 5th percentile of the
/// non-central χ²(df, λ), turned into `√(λ / (N·df))`; a bound is 0 when there is no root.
pub fn rmsea_interval(statistic: f64, df: f64, n: f64) -> [f64; 2] {
    if df.is_nan() || df <= 0.0 || !statistic.is_finite() || n <= 0.0 {
        return [f64::NAN, f64::NAN];
    }
    let at =
        |level: f64| move |lambda: f64| noncentral_chi_square_cdf(statistic, df, lambda) - level;
    let lower = find_root(&at(0.95), 0.0, statistic, 1e-10).unwrap_or(0.0);
    let upper = find_root(&at(0.05), 0.0, n.max(5.0 * statistic), 1e-10).unwrap_or(0.0);
    [(lower / (n * df)).sqrt(), (upper / (n * df)).sqrt()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_tails_match_r() {
        // scipy.stats.chi2.sf (R's pchisq(…, lower.tail = FALSE)).
        let cases = [
            (3.84, 1.0, 0.050_043_521_248_705_19),
            (11.938412, 5.0, 0.035_641_493_285_218_04),
            (31.700541, 21.0, 0.062_763_426_238_972_71),
            (0.5, 2.0, 0.778_800_783_071_404_9),
        ];
        for (x, df, expected) in cases {
            let got = chi_square_sf(x, df);
            assert!(
                (got - expected).abs() < 1e-13,
                "χ²({df}) > {x}: {got} vs {expected}"
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880.0f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn noncentral_matches_r() {
        // scipy.stats.ncx2.cdf (the same as R's pchisq with ncp).
        let cases = [
            (10.0, 5.0, 3.0, 0.717_236_846_431_143_4),
            (30.0, 10.0, 15.0, 0.735_400_871_492_951),
            (115_000.0, 5000.0, 110_000.0, 0.500_590_303_445_431),
            (60_000.0, 4850.0, 55_000.0, 0.623_554_796_815_153_9),
        ];
        for (x, df, lambda, expected) in cases {
            let got = noncentral_chi_square_cdf(x, df, lambda);
            assert!(
                (got - expected).abs() < 1e-8,
                "F({x}; {df}, {lambda}) = {got}, not {expected}"
            );
        }
        assert_eq!(noncentral_chi_square_cdf(0.0, 3.0, 1.0), 0.0);
        // The central case.
        let central = noncentral_chi_square_cdf(3.84, 1.0, 0.0);
        assert!((central - (1.0 - 0.050043521248705)).abs() < 1e-9);
    }

    #[test]
    fn lsat7_m2_rmsea_interval() {
        // The reference port of mirt: M2 = 11.938412 on 5 df, N = 1000 → [0.0089547, 0.0649674].
        let [lo, hi] = rmsea_interval(11.938412, 5.0, 1000.0);
        assert!((lo - 0.0089547).abs() < 2e-6, "{lo}");
        assert!((hi - 0.0649674).abs() < 2e-6, "{hi}");
        assert!((rmsea(11.938412, 5.0, 1000.0) - 0.0372703).abs() < 1e-6);
    }

    #[test]
    fn rmsea_interval_bounds_are_the_percentiles() {
        // At λ_L the statistic is the 95th percentile, at λ_U the 5th.
        for (statistic, df, n) in [(1400.0, 1175.0, 10_000.0), (250.0, 35.0, 500.0)] {
            let [lo, hi] = rmsea_interval(statistic, df, n);
            assert!(lo > 0.0 && hi > lo, "{lo} {hi}");
            let lambda = |r: f64| r * r * n * df;
            let at_lo = noncentral_chi_square_cdf(statistic, df, lambda(lo));
            let at_hi = noncentral_chi_square_cdf(statistic, df, lambda(hi));
            assert!((at_lo - 0.95).abs() < 1e-7, "{at_lo}");
            assert!((at_hi - 0.05).abs() < 1e-7, "{at_hi}");
        }
        // Below its df the statistic has no lower bound.
        assert_eq!(rmsea_interval(3.0, 5.0, 1000.0)[0], 0.0);
    }
}

//! Mantel–Haenszel DIF (Holland & Thayer, 1988) for right/wrong items, and Mantel's test of
//! conditional mean differences with the standardised mean difference for items with more
//! categories (Mantel, 1963; Zwick, Donoghue & Grima, 1993; Dorans & Schmitt, 1991), with the
//! ETS classes (Zwick, 2012, ETS RR-12-08; Zwick, Thayer & Mazzeo, 1997). The formulas follow
//! difR's `mantelHaenszel` (Magis et al., 2010):
//!
//! Per matching-score stratum k with reference right/wrong A, B, focal C, D and T persons
//! (strata with T ≤ 1 dropped):
//! `χ²_MH = (|Σ(A − n_R m_1/T)| − ½)² / Σ n_R n_F m_1 m_0 / (T²(T − 1))` (continuity corrected,
//! df 1); `α_MH = Σ(AD/T) / Σ(BC/T)`; `Δ_MH = −2.35 ln α_MH` with the Phillips & Holland (1987)
//! variance of `ln α_MH`. A negative Δ means the item favours the reference group.
//!
//! ETS classes: **A** when |Δ| < 1 or the χ² test is not significant; **C** when |Δ| ≥ 1.5 and
//! |Δ| is significantly above 1 (`(|Δ| − 1)/SE > z`, one-sided, z = 1.645 by default); **B**
//! otherwise; `-` marks an item favouring the reference group, `+` the focal group.

use super::tables::StratifiedTable;
use crate::prediction::distributions::chi_square_sf;

/// The Mantel–Haenszel statistics of a right/wrong item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MantelHaenszel {
    /// Continuity-corrected χ² (df 1).
    pub chi_square: f64,
    /// Its p-value.
    pub p: f64,
    /// Common odds ratio α_MH (> 1: the reference group's odds of a right answer are higher).
    pub alpha: f64,
    /// ETS delta, `−2.35 ln α_MH`.
    pub delta: f64,
    /// Standard error of delta.
    pub delta_se: f64,
    /// Persons in the strata used.
    pub n: f64,
}

/// Mantel–Haenszel statistics from 2 × 2 tables, one per stratum: `[A, B, C, D]` = reference
/// right, reference wrong, focal right, focal wrong.
pub fn mantel_haenszel(strata: &[[f64; 4]]) -> MantelHaenszel {
    let (mut deviation, mut variance) = (0.0, 0.0);
    let (mut r, mut s) = (0.0, 0.0);
    let mut n = 0.0;
    let used: Vec<[f64; 4]> = strata
        .iter()
        .copied()
        .filter(|t| t.iter().sum::<f64>() > 1.0)
        .collect();
    for &[a, b, c, d] in &used {
        let t = a + b + c + d;
        let (n_r, n_f, m1, m0) = (a + b, c + d, a + c, b + d);
        deviation += a - n_r * m1 / t;
        variance += n_r * n_f * m1 * m0 / (t * t * (t - 1.0));
        r += a * d / t;
        s += b * c / t;
        n += t;
    }
    let chi_square = if variance > 0.0 {
        (deviation.abs() - 0.5).powi(2) / variance
    } else {
        f64::NAN
    };
    let alpha = if s > 0.0 { r / s } else { f64::NAN };
    // Phillips & Holland (1987).
    let log_variance = if r > 0.0 && alpha.is_finite() {
        used.iter()
            .map(|&[a, b, c, d]| {
                let t = a + b + c + d;
                (a * d + alpha * b * c) * (a + d + alpha * (b + c)) / (t * t)
            })
            .sum::<f64>()
            / (2.0 * r * r)
    } else {
        f64::NAN
    };
    MantelHaenszel {
        chi_square,
        p: chi_square_sf(chi_square, 1.0),
        alpha,
        delta: -2.35 * alpha.ln(),
        delta_se: 2.35 * log_variance.sqrt(),
        n,
    }
}

/// The ETS class of a right/wrong item from its Δ_MH, its SE and the MH test's p-value:
/// `A`, `B±`, `C±` (see the module docs); `z` is the critical value of the one-sided test of
/// |Δ| > 1. `NA` when Δ is undefined.
pub fn ets_class(delta: f64, delta_se: f64, p: f64, alpha: f64, z: f64) -> String {
    if delta.is_nan() || p.is_nan() {
        return "NA".into();
    }
    let size = delta.abs();
    if size < 1.0 || p >= alpha {
        return "A".into();
    }
    let sign = if delta < 0.0 { "-" } else { "+" };
    let beyond_one = if delta_se > 0.0 {
        (size - 1.0) / delta_se > z
    } else {
        size.is_infinite()
    };
    if size >= 1.5 && beyond_one {
        format!("C{sign}")
    } else {
        format!("B{sign}")
    }
}

/// Mantel's test and the standardised mean difference of an item with scores 0…K−1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MantelTest {
    /// Mantel's χ² (df 1, no continuity correction).
    pub chi_square: f64,
    /// Its p-value.
    pub p: f64,
    /// Standardised mean difference, focal − reference, weighted by the focal group's strata.
    pub smd: f64,
    /// Standard error of the SMD.
    pub smd_se: f64,
}

/// Mantel's χ² and the SMD from per-stratum counts: `strata[k][g][c]`, group 0 reference,
/// 1 focal, item score c.
pub fn mantel_test(strata: &[[Vec<f64>; 2]]) -> MantelTest {
    let (mut f_sum, mut e_sum, mut v_sum) = (0.0, 0.0, 0.0);
    let (mut smd_focal, mut smd_reference, mut smd_variance, mut focal_total) =
        (0.0, 0.0, 0.0, 0.0);
    let mut pieces = Vec::new();
    for [reference, focal] in strata {
        let n_r: f64 = reference.iter().sum();
        let n_f: f64 = focal.iter().sum();
        let t = n_r + n_f;
        if t <= 1.0 {
            continue;
        }
        let (mut sum_y, mut sum_y2, mut f) = (0.0, 0.0, 0.0);
        let mut sum_reference = 0.0;
        for c in 0..reference.len().max(focal.len()) {
            let y = c as f64;
            let (r, fc) = (
                reference.get(c).copied().unwrap_or(0.0),
                focal.get(c).copied().unwrap_or(0.0),
            );
            let both = r + fc;
            sum_y += y * both;
            sum_y2 += y * y * both;
            f += y * fc;
            sum_reference += y * r;
        }
        let expected = n_f / t * sum_y;
        let variance = n_r * n_f / (t * t * (t - 1.0)) * (t * sum_y2 - sum_y * sum_y);
        f_sum += f;
        e_sum += expected;
        v_sum += variance;
        if n_r > 0.0 && n_f > 0.0 {
            pieces.push((n_f, n_r, f / n_f, sum_reference / n_r, variance));
            focal_total += n_f;
        }
    }
    for &(n_f, n_r, mean_f, mean_r, variance) in &pieces {
        let weight = n_f / focal_total;
        smd_focal += weight * mean_f;
        smd_reference += weight * mean_r;
        smd_variance += weight * weight * (1.0 / n_f + 1.0 / n_r).powi(2) * variance;
    }
    let chi_square = if v_sum > 0.0 {
        (f_sum - e_sum).powi(2) / v_sum
    } else {
        f64::NAN
    };
    let smd = if focal_total > 0.0 {
        smd_focal - smd_reference
    } else {
        f64::NAN
    };
    MantelTest {
        chi_square,
        p: chi_square_sf(chi_square, 1.0),
        smd,
        smd_se: smd_variance.sqrt(),
    }
}

/// The ETS class of an item with several categories (Zwick, Thayer & Mazzeo, 1997): `AA` when
/// Mantel's test is not significant or |SMD/SD| ≤ .17, `CC±` when |SMD/SD| > .25, `BB±`
/// between.
pub fn polytomous_class(effect_size: f64, p: f64, alpha: f64) -> String {
    if effect_size.is_nan() || p.is_nan() {
        return "NA".into();
    }
    let size = effect_size.abs();
    if p >= alpha || size <= 0.17 {
        return "AA".into();
    }
    let sign = if effect_size < 0.0 { "-" } else { "+" };
    if size > 0.25 {
        format!("CC{sign}")
    } else {
        format!("BB{sign}")
    }
}

/// The 2 × 2 tables of a right/wrong item's stratified counts.
pub(crate) fn two_by_two(table: &StratifiedTable) -> Vec<[f64; 4]> {
    (0..table.n_strata)
        .map(|s| {
            [
                table.at(s, 0, 1),
                table.at(s, 0, 0),
                table.at(s, 1, 1),
                table.at(s, 1, 0),
            ]
        })
        .collect()
}

/// The per-stratum counts of an item for [`mantel_test`].
pub(crate) fn by_stratum(table: &StratifiedTable) -> Vec<[Vec<f64>; 2]> {
    (0..table.n_strata)
        .map(|s| {
            [
                (0..table.k).map(|c| table.at(s, 0, c)).collect(),
                (0..table.k).map(|c| table.at(s, 1, c)).collect(),
            ]
        })
        .collect()
}

//! Reliability: marginal (from the test information and the latent density), empirical (of the
//! EAP scores), the summed-score EAP table with its own reliability, and the conditional
//! standard error of measurement over θ.
//!
//! - **Marginal reliability** (Green, Bock, Humphreys, Linn & Reckase, 1984; mirt's
//!   `marginal_rxx`): `ρ = ∫ I(θ) / (I(θ) + σ²) g(θ) dθ`, with `I` the test information, σ²
//!   the latent variance and `g` the latent density N(μ, σ²) (mirt uses N(0, 1), the same
//!   unless the latent variance was estimated), integrated on 801 nodes over μ ± 8σ.
//! - **Empirical reliability** of EAP scores (mirt's `empirical_rxx`):
//!   `var(θ̂) / (var(θ̂) + mean(SE²))`, with the variance's denominator n − 1.
//! - **Summed-score EAP** (Thissen, Pommerich, Billeaud & Williams, 1995; mirt's
//!   `fscores(method = "EAPsum")`): the likelihood of each sum score at each node by the
//!   Lord–Wingersky (1984) recursion `L'[s + c] += L[s]·P_c`, then per score
//!   `P(s) = Σ_q L[s, q] w_q`, `θ_s = Σ θ_q L w / P(s)` and the posterior SD; the expected
//!   count is `N·P(s)`, and the table's reliability is the empirical reliability of `θ_s`
//!   over the persons (0.4319948 for LSAT7's 2PL in mirt's tests). Its fit is Pearson's X²
//!   after pooling scores whose expected count is below 1 (mirt's `collapseTotals`), on
//!   (scores − 1) degrees of freedom.
//! - **Conditional SEM**: `1 / √I(θ)`.
//!
//! The summed-score table uses the persons who answered every item (as mirt with
//! `na.rm = TRUE`); the empirical reliability every person with a response.

use serde::{Deserialize, Serialize};

use super::context::{Grid, ItemTable};
use super::distributions::chi_square_sf;
use crate::prediction::model::{self, ItemParameters};

/// One row of the summed-score EAP table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SumScoreRow {
    /// The sum of the item scores (categories scored 0, 1, …).
    pub sum_score: usize,
    /// EAP of θ given the sum score.
    pub theta: f64,
    /// Posterior SD of θ given the sum score.
    pub theta_se: f64,
    /// Persons with this sum score (among those who answered every item).
    pub observed: f64,
    /// Expected count: persons × P(sum score).
    pub expected: f64,
}

/// A Pearson χ² test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PearsonTest {
    /// The statistic.
    pub x2: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Upper-tail p.
    pub p: f64,
}

/// The conditional standard error of measurement at one θ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionalSem {
    /// θ.
    pub theta: f64,
    /// Test information.
    pub information: f64,
    /// `1/√information` (infinite without information).
    pub sem: f64,
}

/// Reliability of the test under the fitted model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    /// Marginal reliability.
    pub marginal: f64,
    /// Empirical reliability of the EAP scores.
    pub empirical: f64,
    /// Reliability of the summed-score EAPs; `None` without complete cases.
    pub sum_score: Option<f64>,
    /// The summed-score EAP table (empty without complete cases).
    pub sum_score_table: Vec<SumScoreRow>,
    /// Fit of the sum-score distribution.
    pub sum_score_fit: Option<PearsonTest>,
    /// Persons who answered every item (the table's persons).
    pub sum_score_persons: usize,
    /// Persons behind the empirical reliability.
    pub empirical_persons: usize,
    /// Conditional SEM over θ = μ + σ·z, z from −4 to 4 in steps of 0.1.
    pub conditional_sem: Vec<ConditionalSem>,
}

/// The likelihood of every sum score at every node, (max score + 1) × Q row-major, by the
/// Lord–Wingersky recursion over `tables`, in order.
pub(crate) fn lord_wingersky(tables: &[&ItemTable], q: usize) -> Vec<f64> {
    let max: usize = tables.iter().map(|t| t.n_categories - 1).sum();
    let mut l = vec![0.0; (max + 1) * q];
    l[..q].iter_mut().for_each(|v| *v = 1.0);
    let mut top = 0usize;
    let mut next = vec![0.0; (max + 1) * q];
    for table in tables {
        let k = table.n_categories;
        let to = &mut next[..(top + k) * q];
        to.iter_mut().for_each(|v| *v = 0.0);
        lord_wingersky_step(&l[..(top + 1) * q], table, q, to);
        top += k - 1;
        std::mem::swap(&mut l, &mut next);
    }
    l
}

/// One step of the recursion: `to[s + c] += from[s]·P_c` at every node, `from` the table of
/// some items (scores 0..rows), `to` (zeroed, `k − 1` rows longer) the table with `table` added.
pub(crate) fn lord_wingersky_step(from: &[f64], table: &ItemTable, q: usize, to: &mut [f64]) {
    for s in 0..from.len() / q {
        let row = &from[s * q..(s + 1) * q];
        for c in 0..table.n_categories {
            let target = &mut to[(s + c) * q..(s + c + 1) * q];
            for ((t, f), pc) in target.iter_mut().zip(row).zip(table.category(c)) {
                *t += f * pc;
            }
        }
    }
}

/// The summed-score EAP table on `grid` (mirt: 121 nodes) for complete cases counted in
/// `counts` (persons per sum score).
pub(crate) fn sum_score_table(
    tables: &[ItemTable],
    grid: &Grid,
    counts: &[f64],
) -> Vec<SumScoreRow> {
    let q = grid.len();
    let refs: Vec<&ItemTable> = tables.iter().collect();
    let l = lord_wingersky(&refs, q);
    let persons: f64 = counts.iter().sum();
    (0..l.len() / q)
        .map(|s| {
            let row = &l[s * q..(s + 1) * q];
            let mut total = 0.0;
            let mut mean = 0.0;
            for ((v, w), t) in row.iter().zip(&grid.weights).zip(&grid.nodes) {
                total += v * w;
                mean += v * w * t;
            }
            let theta = if total > 0.0 { mean / total } else { f64::NAN };
            let variance = if total > 0.0 {
                row.iter()
                    .zip(&grid.weights)
                    .zip(&grid.nodes)
                    .map(|((v, w), t)| v * w * (t - theta) * (t - theta))
                    .sum::<f64>()
                    / total
            } else {
                f64::NAN
            };
            SumScoreRow {
                sum_score: s,
                theta,
                theta_se: variance.sqrt(),
                observed: counts.get(s).copied().unwrap_or(0.0),
                expected: persons * total,
            }
        })
        .collect()
}

/// The reliability of the summed-score EAPs over the persons of the table: the empirical
/// reliability of `θ_s` expanded by the observed counts.
pub(crate) fn sum_score_reliability(table: &[SumScoreRow]) -> Option<f64> {
    let n: f64 = table.iter().map(|r| r.observed).sum();
    if n < 2.0 {
        return None;
    }
    let used = || {
        table
            .iter()
            .filter(|r| r.observed > 0.0 && r.theta.is_finite())
    };
    let mean = used().map(|r| r.observed * r.theta).sum::<f64>() / n;
    let variance = used()
        .map(|r| r.observed * (r.theta - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    let error = used().map(|r| r.observed * r.theta_se.powi(2)).sum::<f64>() / n;
    let total = variance + error;
    (total > 0.0).then(|| variance / total)
}

/// Pearson's X² of the sum-score distribution after pooling small expected counts (mirt's
/// `collapseTotals` with `min_expected = 1`, including its order of pooling).
pub(crate) fn sum_score_fit(table: &[SumScoreRow]) -> Option<PearsonTest> {
    let mut observed: Vec<f64> = table.iter().map(|r| r.observed).collect();
    let mut expected: Vec<f64> = table.iter().map(|r| r.expected).collect();
    if expected.len() < 2 || expected.iter().any(|e| !e.is_finite()) {
        return None;
    }
    loop {
        let small: Vec<bool> = expected.iter().map(|&e| e < 1.0).collect();
        if !small.iter().any(|&s| s) || expected.len() < 2 {
            break;
        }
        let len = expected.len();
        let mut removed = vec![false; len];
        for i in 0..len - 1 {
            if small[i] {
                expected[i + 1] += expected[i];
                observed[i + 1] += observed[i];
                removed[i] = true;
            }
        }
        if small[len - 1] {
            // mirt adds the last into the one before it, even when that one was pooled.
            if removed[len - 2] {
                // The value there is gone (NA in R), so the pooled bin is dropped too.
                removed[len - 1] = true;
            } else {
                expected[len - 2] += expected[len - 1];
                observed[len - 2] += observed[len - 1];
                removed[len - 1] = true;
            }
        }
        let keep = |v: &Vec<f64>| -> Vec<f64> {
            v.iter()
                .zip(&removed)
                .filter(|(_, r)| !**r)
                .map(|(x, _)| *x)
                .collect()
        };
        observed = keep(&observed);
        expected = keep(&expected);
        if observed.is_empty() {
            return None;
        }
    }
    let df = observed.len() as f64 - 1.0;
    let x2: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    Some(PearsonTest {
        x2,
        df,
        p: chi_square_sf(x2, df),
    })
}

/// Marginal reliability of `items` with latent N(mean, variance).
pub(crate) fn marginal_reliability(items: &[ItemParameters], mean: f64, variance: f64) -> f64 {
    let sd = variance.sqrt();
    let points = 801;
    let mut total = 0.0;
    let mut weights = 0.0;
    for k in 0..points {
        let z = -8.0 + 16.0 * k as f64 / (points - 1) as f64;
        let w = (-0.5 * z * z).exp();
        let information = model::test_information(items, mean + sd * z);
        total += w * information / (information + variance);
        weights += w;
    }
    total / weights
}

/// Empirical reliability of scores `(θ̂, SE)`: `var(θ̂) / (var(θ̂) + mean(SE²))`.
pub(crate) fn empirical_reliability(scores: &[(f64, f64)]) -> f64 {
    let n = scores.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = scores.iter().map(|s| s.0).sum::<f64>() / n;
    let variance = scores.iter().map(|s| (s.0 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let error = scores.iter().map(|s| s.1 * s.1).sum::<f64>() / n;
    variance / (variance + error)
}

/// The conditional SEM of `items` at `μ + σ·z`, z from −4 to 4 in steps of 0.1.
pub(crate) fn conditional_sem(items: &[ItemParameters], mean: f64, sd: f64) -> Vec<ConditionalSem> {
    (0..=80)
        .map(|k| {
            let theta = mean + sd * (-4.0 + 0.1 * k as f64);
            let information = model::test_information(items, theta);
            ConditionalSem {
                theta,
                information,
                sem: if information > 0.0 {
                    1.0 / information.sqrt()
                } else {
                    f64::INFINITY
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lord_wingersky_counts_patterns() {
        // Two items with P = 0.5 at a single node: sum scores 0, 1, 2 with 1/4, 1/2, 1/4.
        let table = ItemTable {
            n_categories: 2,
            p: vec![0.5, 0.5],
            expected: vec![0.5],
            second: vec![0.5],
        };
        let l = lord_wingersky(&[&table, &table], 1);
        assert_eq!(l, vec![0.25, 0.5, 0.25]);
    }

    #[test]
    fn pooling_small_expected_counts() {
        let row = |s, o, e| SumScoreRow {
            sum_score: s,
            theta: 0.0,
            theta_se: 1.0,
            observed: o,
            expected: e,
        };
        let table = vec![row(0, 1.0, 0.5), row(1, 5.0, 4.0), row(2, 10.0, 11.5)];
        let fit = sum_score_fit(&table).unwrap();
        // Scores 0 and 1 pool: (6 − 4.5)²/4.5 + (10 − 11.5)²/11.5 on 1 df.
        let x2 = 1.5f64.powi(2) / 4.5 + 1.5f64.powi(2) / 11.5;
        assert!((fit.x2 - x2).abs() < 1e-12);
        assert_eq!(fit.df, 1.0);
    }
}

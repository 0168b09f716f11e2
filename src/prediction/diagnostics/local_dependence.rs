//! Local dependence between pairs of items: Yen's (1984) Q3 — the correlation of the
//! residuals `x − E[X | θ̂]` at the EAP θ̂, over the persons who answered both items — with
//! Marais' (2013) mean-adjusted `Q3* = Q3 − mean(Q3)` (pairs with Q3* above 0.2 are flagged,
//! Christensen, Makransky & Horton, 2017), and Chen & Thissen's (1997) LD χ²: the Pearson χ²
//! of the pair's observed contingency table against the model's
//! `E[k, m] = N_ij Σ_q P_ik(θ_q) P_jm(θ_q) w_q` (the calibration's quadrature), on
//! `(K_i − 1)(K_j − 1)` df, with the signed standardised value (Cramér's V)
//! `sign(γ_obs − γ_exp)·√(X² / (N_ij (min(K_i, K_j) − 1)))`, γ being Goodman & Kruskal's gamma
//! — mirt's `residuals(type = "Q3")` and `residuals(type = "LD")`.
//!
//! Both use the persons who answered both items of a pair (their count is reported per pair).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::context::{Grid, ItemTable};
use super::distributions::chi_square_sf;
use super::residuals::Grams;
use crate::prediction::p_adjust::{PAdjust, adjust};

/// One pair of items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalDependencePair {
    /// First item.
    pub item1: String,
    /// Second item.
    pub item2: String,
    /// Persons who answered both.
    pub persons: usize,
    /// Yen's Q3.
    pub q3: f64,
    /// Q3 minus the mean Q3 of all pairs.
    pub q3_star: f64,
    /// Chen & Thissen's LD χ².
    pub ld_x2: f64,
    /// Its degrees of freedom.
    pub ld_df: f64,
    /// Its p (adjusted over the pairs as asked).
    pub ld_p: f64,
    /// Signed Cramér's V (positive: the items agree more than the model expects).
    pub cramers_v: f64,
}

/// Which matrix a heat map shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LdMatrix {
    /// Yen's Q3.
    Q3,
    /// Q3 minus its mean.
    Q3Star,
    /// LD χ².
    LdChiSquare,
    /// Signed Cramér's V.
    CramersV,
}

/// A symmetric item × item matrix ready to draw as a heat map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatMap {
    /// Title.
    pub title: String,
    /// Item names, for both axes.
    pub labels: Vec<String>,
    /// Row-major values; `None` on the diagonal (and where undefined).
    pub values: Vec<Vec<Option<f64>>>,
    /// The colour scale's range (symmetric around 0 for signed values).
    pub range: [f64; 2],
}

/// Local dependence of every pair of items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalDependence {
    /// Item names.
    pub items: Vec<String>,
    /// Q3, n × n row-major (1 on the diagonal).
    pub q3: Vec<f64>,
    /// Mean Q3 over the pairs.
    pub q3_mean: f64,
    /// Q3*, n × n row-major.
    pub q3_star: Vec<f64>,
    /// LD χ², n × n row-major (NaN on the diagonal).
    pub ld_x2: Vec<f64>,
    /// Its degrees of freedom.
    pub ld_df: Vec<f64>,
    /// Its p, adjusted over the pairs.
    pub ld_p: Vec<f64>,
    /// Signed Cramér's V.
    pub cramers_v: Vec<f64>,
    /// Persons behind each pair.
    pub persons: Vec<f64>,
    /// Pairs with Q3* above this are flagged.
    pub threshold: f64,
    /// The flagged pairs, largest Q3* first.
    pub flagged: Vec<LocalDependencePair>,
}

impl LocalDependence {
    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Pair (i, j).
    pub fn pair(&self, i: usize, j: usize) -> LocalDependencePair {
        let n = self.n_items();
        let at = i * n + j;
        LocalDependencePair {
            item1: self.items[i].clone(),
            item2: self.items[j].clone(),
            persons: self.persons[at] as usize,
            q3: self.q3[at],
            q3_star: self.q3_star[at],
            ld_x2: self.ld_x2[at],
            ld_df: self.ld_df[at],
            ld_p: self.ld_p[at],
            cramers_v: self.cramers_v[at],
        }
    }

    /// Every pair i < j, in order.
    pub fn pairs(&self) -> Vec<LocalDependencePair> {
        let n = self.n_items();
        (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| self.pair(i, j))
            .collect()
    }

    /// A matrix as a heat map.
    pub fn heat_map(&self, which: LdMatrix) -> HeatMap {
        let n = self.n_items();
        let (title, values, signed) = match which {
            LdMatrix::Q3 => ("Q3 (residual correlations)", &self.q3, true),
            LdMatrix::Q3Star => ("Q3* (Q3 minus its mean)", &self.q3_star, true),
            LdMatrix::LdChiSquare => ("LD χ² (Chen & Thissen)", &self.ld_x2, false),
            LdMatrix::CramersV => ("Signed Cramér's V", &self.cramers_v, true),
        };
        let rows: Vec<Vec<Option<f64>>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let v = values[i * n + j];
                        (i != j && v.is_finite()).then_some(v)
                    })
                    .collect()
            })
            .collect();
        let largest = rows
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let range = if signed {
            [-largest.max(1e-9), largest.max(1e-9)]
        } else {
            [0.0, largest.max(1e-9)]
        };
        HeatMap {
            title: title.to_string(),
            labels: self.items.clone(),
            values: rows,
            range,
        }
    }
}

/// Goodman & Kruskal's gamma of a K_i × K_j table, `(C − D)/(C + D)`.
fn gamma(table: &[f64], rows: usize, columns: usize) -> f64 {
    let mut concordant = 0.0;
    let mut discordant = 0.0;
    for r in 0..rows {
        for c in 0..columns {
            let x = table[r * columns + c];
            if x == 0.0 {
                continue;
            }
            for r2 in r + 1..rows {
                for c2 in 0..columns {
                    let y = table[r2 * columns + c2];
                    if c2 > c {
                        concordant += x * y;
                    } else if c2 < c {
                        discordant += x * y;
                    }
                }
            }
        }
    }
    (concordant - discordant) / (concordant + discordant)
}

/// Q3, Q3*, LD χ² and Cramér's V of every pair.
pub(crate) fn local_dependence(
    names: &[String],
    tables: &[ItemTable],
    grid: &Grid,
    grams: &Grams,
    threshold: f64,
    method: PAdjust,
) -> LocalDependence {
    let n = tables.len();
    let q = grid.len();
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    struct PairResult {
        q3: f64,
        x2: f64,
        df: f64,
        p: f64,
        v: f64,
        persons: f64,
    }
    let results: Vec<PairResult> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let persons = grams.pair_count(i, j);
            // Q3: the residuals' correlation over the persons answering both.
            let a = grams.residual_sum(i, j);
            let b = grams.residual_sum(j, i);
            let ss_i = grams.residual_squares(i, j) - a * a / persons;
            let ss_j = grams.residual_squares(j, i) - b * b / persons;
            let cross = grams.residual_product(i, j) - a * b / persons;
            let q3 = cross / (ss_i * ss_j).sqrt();
            // LD χ².
            let (ki, kj) = (tables[i].n_categories, tables[j].n_categories);
            let observed = grams.table(i, ki, j, kj);
            let mut expected = vec![0.0; ki * kj];
            for c in 0..ki {
                let pc = tables[i].category(c);
                for d in 0..kj {
                    let pd = tables[j].category(d);
                    let mut s = 0.0;
                    for x in 0..q {
                        s += pc[x] * pd[x] * grid.weights[x];
                    }
                    expected[c * kj + d] = persons * s;
                }
            }
            let x2: f64 = observed
                .iter()
                .zip(&expected)
                .filter(|(_, e)| **e > 0.0)
                .map(|(o, e)| (o - e) * (o - e) / e)
                .sum();
            let difference = gamma(&observed, ki, kj) - gamma(&expected, ki, kj);
            let sign = if difference < 0.0 { -1.0 } else { 1.0 };
            let v = sign * (x2.abs() / (persons * (ki.min(kj) - 1) as f64)).sqrt();
            let df = ((ki - 1) * (kj - 1)) as f64;
            PairResult {
                q3,
                x2,
                df,
                p: chi_square_sf(x2, df),
                v,
                persons,
            }
        })
        .collect();
    let finite: Vec<f64> = results
        .iter()
        .map(|r| r.q3)
        .filter(|v| v.is_finite())
        .collect();
    let q3_mean = if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    let adjusted = adjust(&results.iter().map(|r| r.p).collect::<Vec<_>>(), method);
    let mut q3 = vec![f64::NAN; n * n];
    let mut q3_star = vec![f64::NAN; n * n];
    let mut ld_x2 = vec![f64::NAN; n * n];
    let mut ld_df = vec![f64::NAN; n * n];
    let mut ld_p = vec![f64::NAN; n * n];
    let mut cramers_v = vec![f64::NAN; n * n];
    let mut persons = vec![0.0; n * n];
    for i in 0..n {
        q3[i * n + i] = 1.0;
        persons[i * n + i] = grams.pair_count(i, i);
    }
    for ((&(i, j), r), p) in pairs.iter().zip(&results).zip(&adjusted) {
        for (a, b) in [(i, j), (j, i)] {
            let at = a * n + b;
            q3[at] = r.q3;
            q3_star[at] = r.q3 - q3_mean;
            ld_x2[at] = r.x2;
            ld_df[at] = r.df;
            ld_p[at] = *p;
            cramers_v[at] = r.v;
            persons[at] = r.persons;
        }
    }
    let mut result = LocalDependence {
        items: names.to_vec(),
        q3,
        q3_mean,
        q3_star,
        ld_x2,
        ld_df,
        ld_p,
        cramers_v,
        persons,
        threshold,
        flagged: Vec::new(),
    };
    let mut flagged: Vec<LocalDependencePair> = pairs
        .iter()
        .filter(|&&(i, j)| result.q3_star[i * n + j] > threshold)
        .map(|&(i, j)| result.pair(i, j))
        .collect();
    flagged.sort_by(|a, b| b.q3_star.total_cmp(&a.q3_star));
    result.flagged = flagged;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_of_two_by_two() {
        // (ad − bc)/(ad + bc).
        let table = [10.0, 5.0, 2.0, 20.0];
        let expected = (200.0 - 10.0) / (200.0 + 10.0);
        assert!((gamma(&table, 2, 2) - expected).abs() < 1e-12);
    }
}

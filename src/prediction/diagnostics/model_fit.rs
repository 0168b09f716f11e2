//! Overall model fit: the limited-information statistics M2 (Maydeu-Olivares & Joe, 2005,
//! 2006) for right/wrong items, M2* for polytomous items (Cai & Hansen, 2013: the first and
//! second moments of the item scores) and C2 (Cai & Monroe, 2014: category margins and score
//! cross-moments) where M2* has no degrees of freedom; their RMSEA with its 90 % interval,
//! SRMSR, CFI and TLI against the independence model; and, for tests small enough that every
//! response pattern can be listed, the full-information G². As mirt's `M2()` and its fit
//! summary compute them (see the module docs of `diagnostics` for the grids).
//!
//! **The statistic.** With `p` the observed moments, `e` the model's, `Ξ` the covariance of the
//! moment vector of one person under the model and `Δ = ∂e/∂ψ` over the free parameters,
//!
//! ```text
//! M2 = N · r̃ᵀ (Ξ⁻¹ − Ξ⁻¹Δ (ΔᵀΞ⁻¹Δ)⁻¹ ΔᵀΞ⁻¹) r̃,      r̃_u = (p_u − e_u)·N_u / N,
//! ```
//!
//! on `moments − parameters` degrees of freedom. `N_u` is the number of persons behind moment
//! u: with missing responses each mean and cross-moment uses the persons who answered its
//! item(s) (mirt since 1.43). It is computed as a generalised least-squares residual: `Ξ` is
//! factored once (Cholesky, `Ξ = LLᵀ`), `y = L⁻¹r̃` and `Y = L⁻¹Δ` by triangular solves, and
//! `M2/N = ‖y‖² − ‖P_Y y‖²` with the projection from a column-pivoted QR decomposition of `Y`,
//! which also copes with linearly dependent parameters.
//!
//! `Ξ` is `∫ E[m mᵀ | θ] dG(θ) − e eᵀ`. By local independence, its entries are integrals of
//! products of per-item functions, so `Ξ` is one matrix product `F Fᵀ` (F: moment functions at
//! the nodes, scaled by √w) except where two moments share an item, whose entries use
//! `E[X²|θ]` (or the category's own probability) instead of a product and are set directly
//! (mirt's `buildXi2els` and `buildXi2els_C2`). `Δ`'s columns are the free item parameters
//! (a shared parameter is one column summing its items'), plus the latent mean and variance
//! when they were estimated; the Rasch family's scale is the common-slope column, which spans
//! the same direction as the latent variance (mirt leaves latent parameters out of Δ; the
//! difference is in the fourth decimal).
//!
//! **Independence model.** Its fit is closed form: with every slope zero the items are
//! independent, and in the basis of centred scores `(X_i − μ_i)(X_j − μ_j)` its `Ξ` is
//! diagonal and `Δ` touches only the univariate moments, so `M2₀ = N Σ_{i<j} r̃₀ᵢⱼ² / (v_i v_j)`
//! (squared residual correlations), on `moments − Σ(K_j − 1)` degrees of freedom. CFI
//! `= 1 − (M2 − df)/(M2₀ − df₀)` (clamped to [0, 1]) and TLI
//! `= (M2₀/df₀ − M2/df)/(M2₀/df₀ − 1)` are reported when `M2₀ > M2`.
//!
//! **SRMSR** is the root mean square of the differences between the observed correlations of
//! the item scores (pairwise available persons) and the model's.
//!
//! **RMSEA** `= √(max(M2 − df, 0)/(df (N − 1)))`, its 90 % interval from the non-central χ²
//! with N (mirt's `RMSEA.CI`).
//!
//! **Full-information G²** `= 2 Σ_p n_p ln(n_p / (N·P(x_p)))` over the observed patterns, on
//! `Π K_j − 1 − parameters` degrees of freedom, with RMSEA, CFI and TLI against the
//! independence model's `G²₀` (`P₀(x) = Π_j p̂_j,x_j`, `Π K_j − 1 − Σ(K_j − 1)` df). Only with
//! complete data and at most `max_cells` possible patterns.

use std::sync::atomic::{AtomicBool, Ordering};

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::{Mat, MatMut, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::context::{FreeStructure, Grid, ItemTable};
use super::distributions::{chi_square_sf, rmsea, rmsea_interval};
use super::residuals::Grams;
use crate::prediction::ItemType;
use crate::prediction::PredictionError;
use crate::prediction::estimation::estep::dot_lanes;
use crate::prediction::linalg::{ClearVectorState, gemm_a_bt};
use crate::prediction::model::ItemParameters;
use crate::prediction::responses::{Patterns, ResponseMatrix};

/// Which limited-information statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitedStatistic {
    /// M2: right/wrong items (univariate and bivariate margins).
    #[serde(rename = "M2")]
    M2,
    /// M2*: the first and second moments of the item scores (polytomous items).
    #[serde(rename = "M2*")]
    M2Star,
    /// C2: category margins and score cross-moments (when M2* has no degrees of freedom).
    #[serde(rename = "C2")]
    C2,
}

impl LimitedStatistic {
    /// `M2`, `M2*` or `C2`.
    pub fn name(self) -> &'static str {
        match self {
            LimitedStatistic::M2 => "M2",
            LimitedStatistic::M2Star => "M2*",
            LimitedStatistic::C2 => "C2",
        }
    }
}

/// A limited-information test of the whole model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitedInformationFit {
    /// M2, M2* or C2.
    pub statistic: LimitedStatistic,
    /// Its value.
    pub value: f64,
    /// Degrees of freedom: moments − free parameters.
    pub df: f64,
    /// Upper-tail p.
    pub p: f64,
    /// RMSEA.
    pub rmsea: f64,
    /// Its 90 % confidence interval.
    pub rmsea_ci: [f64; 2],
    /// Standardised root mean square residual of the item-score correlations (`None` with
    /// nominal items, whose scores are not ordered).
    pub srmsr: Option<f64>,
    /// Comparative fit index against the independence model (`None` when that model fits at
    /// least as well).
    pub cfi: Option<f64>,
    /// Tucker–Lewis index (not clamped; above 1 is common).
    pub tli: Option<f64>,
    /// The independence model's statistic.
    pub null_value: f64,
    /// Its degrees of freedom.
    pub null_df: f64,
    /// Number of moments.
    pub moments: usize,
    /// Persons (N).
    pub persons: usize,
    /// Whether some moments used fewer persons (missing responses: pairwise available data).
    pub pairwise: bool,
}

/// The full-information likelihood-ratio test against the saturated multinomial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FullInformationFit {
    /// G².
    pub g2: f64,
    /// Degrees of freedom `Π K_j − 1 − parameters`.
    pub df: f64,
    /// Upper-tail p.
    pub p: f64,
    /// RMSEA.
    pub rmsea: f64,
    /// CFI against the independence model.
    pub cfi: f64,
    /// TLI against the independence model.
    pub tli: f64,
    /// The independence model's G².
    pub null_g2: f64,
    /// Its degrees of freedom.
    pub null_df: f64,
    /// Possible response patterns `Π K_j`.
    pub cells: f64,
    /// Distinct patterns observed.
    pub observed_patterns: usize,
}

/// `1 − (X² − df)/(X²₀ − df₀)`, clamped to [0, 1].
pub(crate) fn cfi(value: f64, df: f64, null_value: f64, null_df: f64) -> f64 {
    (1.0 - (value - df) / (null_value - null_df)).clamp(0.0, 1.0)
}

/// `(X²₀/df₀ − X²/df) / (X²₀/df₀ − 1)`.
pub(crate) fn tli(value: f64, df: f64, null_value: f64, null_df: f64) -> f64 {
    (null_value / null_df - value / df) / (null_value / null_df - 1.0)
}

/// What the model's side of the limited-information statistic needs.
pub(crate) struct LimitedInput<'a> {
    pub items: &'a [ItemParameters],
    /// Trace lines on `grid`.
    pub tables: &'a [ItemTable],
    /// The calibration's grid.
    pub grid: &'a Grid,
    pub structure: &'a FreeStructure,
    /// Free parameters of the calibration.
    pub parameters: usize,
    /// Latent mean and variance (for the latent columns of Δ when they were estimated).
    pub latent: (f64, f64),
    /// Refuse above this many moments (Ξ has moments² entries).
    pub max_moments: usize,
}

/// Rows of rows handled per parallel task when building Ξ.
const ROW_BLOCK: usize = 64;

/// The model's side of M2 / M2* / C2, which needs no data: the moments, Ξ factored and
/// `L⁻¹Δ` (the fit statistics compute it while the persons are being counted).
pub(crate) struct MomentModel {
    statistic: LimitedStatistic,
    /// Univariate moments: (item, 0) for the mean score, (item, c) for P(X = c).
    univariate: Vec<(usize, usize)>,
    /// The model's moments.
    e: Vec<f64>,
    /// `L`, Ξ's Cholesky factor, column-major in the lower part (the strict upper part is not
    /// read and holds leftovers).
    factor: Vec<f64>,
    /// Column 0 left for `L⁻¹r̃`, then `L⁻¹Δ`.
    rhs: Mat<f64>,
}

/// `Σ_q values_q·w_q`: an expectation over the grid.
fn integral(values: &[f64], weights: &[f64]) -> f64 {
    values.iter().zip(weights).map(|(x, w)| x * w).sum()
}

/// The index of the pair moment (i, j), i < j, after `u_count` univariate ones.
fn pair_index(n: usize, u_count: usize, i: usize, j: usize) -> usize {
    u_count + i * n - i * (i + 1) / 2 + (j - i - 1)
}

/// The model's side of the statistic (see [`MomentModel`]); `Err` says why it cannot be
/// computed.
pub(crate) fn moment_model(
    input: &LimitedInput<'_>,
    cancel: &AtomicBool,
) -> Result<Result<MomentModel, String>, PredictionError> {
    let tables = input.tables;
    let n = tables.len();
    let q = input.grid.len();
    let n_pairs = n * n.saturating_sub(1) / 2;
    let k = input.parameters;
    let dichotomous = tables.iter().all(|t| t.n_categories == 2);
    let statistic = if dichotomous {
        LimitedStatistic::M2
    } else if n + n_pairs > k {
        LimitedStatistic::M2Star
    } else {
        LimitedStatistic::C2
    };
    let univariate: Vec<(usize, usize)> = match statistic {
        LimitedStatistic::C2 => (0..n)
            .flat_map(|i| (1..tables[i].n_categories).map(move |c| (i, c)))
            .collect(),
        _ => (0..n).map(|i| (i, 0)).collect(),
    };
    let u_count = univariate.len();
    let m = u_count + n_pairs;
    if m <= k {
        return Ok(Err(format!(
            "{} cannot be computed: {m} moments for {k} parameters leave no degrees of freedom",
            statistic.name()
        )));
    }
    if m > input.max_moments {
        return Ok(Err(format!(
            "{} not computed: {n} items give {m} moments, above the limit of {} (its covariance matrix alone would need {})",
            statistic.name(),
            input.max_moments,
            crate::text::human_bytes((m * m * 8) as f64)
        )));
    }
    let pair_index = |i: usize, j: usize| pair_index(n, u_count, i, j);
    // Moment functions at the nodes, scaled by √w, and the model's moments.
    let weights = &input.grid.weights;
    let root_w: Vec<f64> = weights.iter().map(|w| w.sqrt()).collect();
    let mut f = vec![0.0; m * q];
    for (u, &(i, c)) in univariate.iter().enumerate() {
        let source = if c == 0 {
            &tables[i].expected[..]
        } else {
            tables[i].category(c)
        };
        for (x, (s, r)) in f[u * q..(u + 1) * q]
            .iter_mut()
            .zip(source.iter().zip(&root_w))
        {
            *x = s * r;
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let at = pair_index(i, j);
            let (ei, ej) = (&tables[i].expected, &tables[j].expected);
            for (x, qq) in f[at * q..(at + 1) * q].iter_mut().zip(0..q) {
                *x = ei[qq] * ej[qq] * root_w[qq];
            }
        }
    }
    let e: Vec<f64> = (0..m)
        .map(|u| {
            f[u * q..(u + 1) * q]
                .iter()
                .zip(&root_w)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect();
    if cancel.load(Ordering::Relaxed) {
        return Err(PredictionError::Cancelled);
    }
    // Ξ, row-major upper triangle = faer's column-major lower triangle.
    let mut xi = vec![0.0; m * m];
    let pairs_of: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let integral2 = |a: &[f64], b: &[f64]| -> f64 {
        let mut s = 0.0;
        for qq in 0..q {
            s += weights[qq] * a[qq] * b[qq];
        }
        s
    };
    xi.par_chunks_mut(ROW_BLOCK * m)
        .enumerate()
        .for_each(|(block, chunk)| {
            let r0 = block * ROW_BLOCK;
            let rows = chunk.len() / m;
            let (mut with_i, mut with_j) = (vec![0.0; q], vec![0.0; q]);
            for (ra, row) in chunk.chunks_mut(m).enumerate() {
                let a = r0 + ra;
                for b in r0..m {
                    row[b] = -e[a] * e[b];
                }
            }
            gemm_a_bt(
                rows,
                q,
                m - r0,
                &f[r0 * q..],
                q,
                &f[r0 * q..],
                q,
                1.0,
                &mut chunk[r0..],
                m,
            );
            // Entries of moments that share an item.
            for (ra, row) in chunk.chunks_mut(m).enumerate() {
                let a = r0 + ra;
                if a < u_count {
                    let (t, c) = univariate[a];
                    let table = &tables[t];
                    // Same item, univariate.
                    match statistic {
                        LimitedStatistic::C2 => {
                            for (b, &(t2, d)) in univariate.iter().enumerate().skip(a) {
                                if t2 != t {
                                    break;
                                }
                                let joint = if d == c { e[a] } else { 0.0 };
                                row[b] = joint - e[a] * e[b];
                            }
                        }
                        _ => {
                            row[a] = integral(&table.second, weights) - e[a] * e[a];
                        }
                    }
                    // Pairs containing the item.
                    for o in 0..n {
                        if o == t {
                            continue;
                        }
                        let b = if t < o {
                            pair_index(t, o)
                        } else {
                            pair_index(o, t)
                        };
                        let joint = match statistic {
                            LimitedStatistic::C2 => {
                                c as f64 * integral2(table.category(c), &tables[o].expected)
                            }
                            _ => integral2(&table.second, &tables[o].expected),
                        };
                        row[b] = joint - e[a] * e[b];
                    }
                } else {
                    let (i, j) = pairs_of[a - u_count];
                    let (ti, tj) = (&tables[i], &tables[j]);
                    row[a] = integral2(&ti.second, &tj.second) - e[a] * e[a];
                    // E[X_i² X_j X_l] and E[X_i X_j² X_l] are dot products of X_l's curve
                    // with a weight fixed for the row.
                    for qq in 0..q {
                        with_i[qq] = weights[qq] * ti.second[qq] * tj.expected[qq];
                        with_j[qq] = weights[qq] * tj.second[qq] * ti.expected[qq];
                    }
                    for l in j + 1..n {
                        let b = pair_index(i, l);
                        row[b] = dot_lanes(&with_i, &tables[l].expected) - e[a] * e[b];
                        let b = pair_index(j, l);
                        row[b] = dot_lanes(&with_j, &tables[l].expected) - e[a] * e[b];
                    }
                    for kk in i + 1..j {
                        let b = pair_index(kk, j);
                        row[b] = dot_lanes(&with_j, &tables[kk].expected) - e[a] * e[b];
                    }
                }
            }
        });
    if cancel.load(Ordering::Relaxed) {
        return Err(PredictionError::Cancelled);
    }
    crate::trace("M2: covariance built");
    // Δ as right-hand sides after a column left for the residual.
    let delta = jacobian(input, &univariate, u_count, &pair_index, &pairs_of);
    let columns = delta.len();
    let mut rhs = Mat::<f64>::zeros(m, 1 + columns);
    for (c, column) in delta.iter().enumerate() {
        for u in 0..m {
            rhs[(u, c + 1)] = column[u];
        }
    }
    drop(f);
    let par = Par::rayon(0);
    // faer from here to the projection (see `linalg`'s module docs).
    let faer_calls = ClearVectorState;
    let factored = {
        let matrix = MatMut::from_column_major_slice_mut(&mut xi, m, m);
        let mut buffer =
            MemBuffer::new(cholesky_in_place_scratch::<f64>(m, par, Default::default()));
        cholesky_in_place(
            matrix,
            Default::default(),
            par,
            MemStack::new(&mut buffer),
            Default::default(),
        )
        .is_ok()
    };
    crate::trace("M2: covariance factored");
    if !factored {
        return Ok(Err(format!(
            "{} cannot be computed: the covariance matrix of the moments is singular (items that always agree, or extreme estimates)",
            statistic.name()
        )));
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PredictionError::Cancelled);
    }
    // The strict upper part of the column-major buffer is left as it is: the factorisation
    // and faer's triangular solves read the lower part only (clearing it wrote 6 MB for
    // nothing).
    let factor = faer::MatRef::from_column_major_slice(&xi, m, m);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        factor,
        rhs.subcols_mut(1, columns),
        par,
    );
    drop(faer_calls);
    crate::trace("M2: triangular solves");
    Ok(Ok(MomentModel {
        statistic,
        univariate,
        e,
        factor: xi,
        rhs,
    }))
}

/// M2, M2* or C2 with RMSEA, SRMSR, CFI and TLI from the model's side `model` and the
/// persons' cross-products `grams` (`persons` with responses); `Err` says why it cannot be
/// computed.
pub(crate) fn limited_information(
    input: &LimitedInput<'_>,
    model: MomentModel,
    grams: &Grams,
    persons: f64,
) -> Result<LimitedInformationFit, String> {
    let MomentModel {
        statistic,
        univariate,
        e,
        factor,
        mut rhs,
    } = model;
    let tables = input.tables;
    let weights = &input.grid.weights;
    let n = tables.len();
    let n_pairs = n * n.saturating_sub(1) / 2;
    let k = input.parameters;
    let u_count = univariate.len();
    let m = u_count + n_pairs;
    let pair_index = |i: usize, j: usize| pair_index(n, u_count, i, j);
    let pairs_of: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    // Observed moments and the persons behind each.
    let mut observed = vec![0.0; m];
    let mut counts = vec![0.0; m];
    let score_sum = |i: usize, power: i32| -> f64 {
        (1..tables[i].n_categories)
            .map(|c| (c as f64).powi(power) * grams.category_answering(i, c, i))
            .sum()
    };
    let cross = |i: usize, j: usize| -> f64 {
        let mut total = 0.0;
        for c in 1..tables[i].n_categories {
            for d in 1..tables[j].n_categories {
                total += (c * d) as f64 * grams.both(i, c, j, d);
            }
        }
        total
    };
    for (u, &(i, c)) in univariate.iter().enumerate() {
        let n_i = grams.pair_count(i, i);
        let value = if c == 0 {
            score_sum(i, 1)
        } else {
            grams.category_answering(i, c, i)
        };
        observed[u] = value / n_i;
        counts[u] = n_i;
    }
    for &(i, j) in &pairs_of {
        let both = grams.pair_count(i, j);
        if both <= 0.0 {
            return Err(format!(
                "{} cannot be computed: items {} and {} were never answered by the same person",
                statistic.name(),
                crate::text::quoted(&input.items[i].item),
                crate::text::quoted(&input.items[j].item)
            ));
        }
        let at = pair_index(i, j);
        observed[at] = cross(i, j) / both;
        counts[at] = both;
    }
    let pairwise = counts.iter().any(|&c| c < persons);
    // y = L⁻¹r̃ into the column left for it.
    for u in 0..m {
        rhs[(u, 0)] = (observed[u] - e[u]) * counts[u] / persons;
    }
    let faer_calls = ClearVectorState;
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        faer::MatRef::from_column_major_slice(&factor, m, m),
        rhs.subcols_mut(0, 1),
        Par::Seq,
    );
    drop(factor);
    let unexplained = unexplained_square(rhs.as_ref());
    drop(faer_calls);
    let Some(unexplained) = unexplained else {
        return Err(format!(
            "{} cannot be computed: the decomposition of the Jacobian failed",
            statistic.name()
        ));
    };
    crate::trace("M2: projection");
    let value = (persons * unexplained).max(0.0);
    let df = (m - k) as f64;
    // Independence model, closed form.
    let means: Vec<f64> = (0..n)
        .map(|i| score_sum(i, 1) / grams.pair_count(i, i))
        .collect();
    let variances: Vec<f64> = (0..n)
        .map(|i| score_sum(i, 2) / grams.pair_count(i, i) - means[i] * means[i])
        .collect();
    let mut null_value = 0.0;
    let mut srmsr_sum = 0.0;
    let srmsr_defined = input.items.iter().all(|i| i.model != ItemType::Nominal);
    let e1: Vec<f64> = tables
        .iter()
        .map(|t| integral(&t.expected, weights))
        .collect();
    let e11: Vec<f64> = tables
        .iter()
        .map(|t| integral(&t.second, weights))
        .collect();
    for (i, j) in pairs_of.iter().copied() {
        let at = pair_index(i, j);
        let covariance = observed[at] - means[i] * means[j];
        let weighted = covariance * counts[at] / persons;
        null_value += weighted * weighted / (variances[i] * variances[j]);
        let observed_r = covariance / (variances[i] * variances[j]).sqrt();
        let model_covariance = e[at] - e1[i] * e1[j];
        let model_r =
            model_covariance / ((e11[i] - e1[i] * e1[i]) * (e11[j] - e1[j] * e1[j])).sqrt();
        srmsr_sum += (observed_r - model_r).powi(2);
    }
    null_value *= persons;
    let null_parameters: usize = tables.iter().map(|t| t.n_categories - 1).sum();
    let null_df = m as f64 - null_parameters as f64;
    let (cfi_value, tli_value) = if null_value > value && null_df > 0.0 {
        (
            Some(cfi(value, df, null_value, null_df)),
            Some(tli(value, df, null_value, null_df)),
        )
    } else {
        (None, None)
    };
    Ok(LimitedInformationFit {
        statistic,
        value,
        df,
        p: chi_square_sf(value, df),
        rmsea: rmsea(value, df, persons),
        rmsea_ci: rmsea_interval(value, df, persons),
        srmsr: (srmsr_defined && n_pairs > 0).then(|| (srmsr_sum / n_pairs as f64).sqrt()),
        cfi: cfi_value,
        tli: tli_value,
        null_value,
        null_df,
        moments: m,
        persons: persons as usize,
        pairwise,
    })
}

/// `‖y‖² − ‖P_Y y‖²` for `[y | Y]` (column 0 `y`): the squared residual of `y` regressed on
/// `Y`'s columns. Usually from the Gram matrix of `[Y | y]` ([`by_gram`]); when `Y`'s columns
/// are (nearly) linearly dependent (parameters that move the moments alike), the projection
/// uses an orthonormal basis of `Y`'s numerical rank from a QR decomposition with column
/// pivoting, whose |R_ii| fall. `None` when the decomposition fails.
fn unexplained_square(augmented: faer::MatRef<'_, f64>) -> Option<f64> {
    let (m, width) = augmented.shape();
    let columns = width - 1;
    let y = augmented.col(0);
    let total: f64 = (0..m).map(|u| y[u] * y[u]).sum();
    if columns == 0 {
        return Some(total);
    }
    if let Some(unexplained) = by_gram(augmented) {
        return Some(unexplained);
    }
    let design = augmented.subcols(1, columns);
    let qr = design.col_piv_qr();
    let r = qr.thin_R();
    let diagonal: Vec<f64> = (0..r.nrows().min(r.ncols()))
        .map(|i| r[(i, i)].abs())
        .collect();
    let largest = diagonal.iter().copied().fold(0.0f64, f64::max);
    let rank = diagonal
        .iter()
        .take_while(|&&d| d > largest * RANK_TOLERANCE)
        .count();
    let basis = qr.compute_thin_Q();
    let explained: f64 = (0..rank)
        .map(|c| {
            let dot: f64 = (0..m).map(|row| basis[(row, c)] * y[row]).sum();
            dot * dot
        })
        .sum();
    (total - explained).is_finite().then_some(total - explained)
}

/// The squared residual of `y` on `Y` (see [`unexplained_square`]) as the last pivot of the
/// Cholesky factorisation of the Gram matrix of `[Y | y]`, `Y`'s columns scaled to unit
/// length: each pivot of a `Y` column is the squared sine of its angle to the columns before
/// it. `None` when a pivot falls below [`GRAM_PIVOT`] (nearly dependent columns, where the
/// Gram matrix would lose the digits that a QR decomposition keeps).
fn by_gram(augmented: faer::MatRef<'_, f64>) -> Option<f64> {
    let width = augmented.ncols();
    let columns = width - 1;
    let mut gram = Mat::<f64>::zeros(width, width);
    faer::linalg::matmul::matmul(
        gram.as_mut(),
        faer::Accum::Replace,
        augmented.transpose(),
        augmented,
        1.0,
        Par::Seq,
    );
    // Y's columns first, y last.
    let order: Vec<usize> = (1..width).chain([0]).collect();
    let scale: Vec<f64> = order
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                1.0 / gram[(c, c)].sqrt()
            }
        })
        .collect();
    if !scale.iter().all(|s| s.is_finite()) {
        return None;
    }
    let mut a = vec![0.0; width * width];
    for (i, &ci) in order.iter().enumerate() {
        for (j, &cj) in order.iter().enumerate().take(i + 1) {
            a[i * width + j] = gram[(ci, cj)] * scale[i] * scale[j];
        }
    }
    for j in 0..width {
        let row_j = &a[j * width..j * width + j];
        let pivot = a[j * width + j] - row_j.iter().map(|x| x * x).sum::<f64>();
        if j == columns {
            return pivot.is_finite().then_some(pivot.max(0.0));
        }
        if pivot.is_nan() || pivot <= GRAM_PIVOT {
            return None;
        }
        let l = pivot.sqrt();
        a[j * width + j] = l;
        // Column j of the factor below the diagonal.
        for i in j + 1..width {
            let (upper, lower) = a.split_at_mut(i * width);
            let row_j = &upper[j * width..j * width + j];
            let row_i = &mut lower[..width];
            let dot: f64 = row_i[..j].iter().zip(row_j).map(|(x, y)| x * y).sum();
            row_i[j] = (row_i[j] - dot) / l;
        }
    }
    None
}

/// The smallest squared sine between a parameter column and those before it for which the Gram
/// route is used: the result then keeps about eight significant digits more than M2 is quoted
/// with.
const GRAM_PIVOT: f64 = 1e-8;

/// A parameter direction whose |R_ii| is below this fraction of the largest adds nothing.
const RANK_TOLERANCE: f64 = 1e-10;

/// The columns of Δ: derivatives of the model's moments by each free parameter.
fn jacobian(
    input: &LimitedInput<'_>,
    univariate: &[(usize, usize)],
    u_count: usize,
    pair_index: &(dyn Fn(usize, usize) -> usize + Sync),
    pairs_of: &[(usize, usize)],
) -> Vec<Vec<f64>> {
    let tables = input.tables;
    let grid = input.grid;
    let n = tables.len();
    let q = grid.len();
    let m = u_count + pairs_of.len();
    // Per item and parameter: ∂E[X|θ_q]/∂ψ and ∂P_c(θ_q)/∂ψ.
    struct Derivatives {
        n_parameters: usize,
        /// n_parameters × Q.
        expected: Vec<f64>,
        /// n_parameters × K × Q.
        categories: Vec<f64>,
    }
    let derivatives: Vec<Derivatives> = input
        .items
        .par_iter()
        .map(|item| {
            let k = item.n_categories();
            let np = item.parameters.len();
            let mut expected = vec![0.0; np * q];
            let mut categories = vec![0.0; np * k * q];
            let mut p = vec![0.0; k];
            let mut dp = vec![0.0; k * np];
            for (at, &theta) in grid.nodes.iter().enumerate() {
                item.model
                    .model()
                    .parameter_derivatives(&item.parameters, theta, &mut p, &mut dp);
                for mm in 0..np {
                    for c in 0..k {
                        let d = dp[c * np + mm];
                        expected[mm * q + at] += c as f64 * d;
                        categories[(mm * k + c) * q + at] = d;
                    }
                }
            }
            Derivatives {
                n_parameters: np,
                expected,
                categories,
            }
        })
        .collect();
    let item_column = |j: usize, mm: usize, column: &mut [f64]| {
        let d = &derivatives[j];
        if mm >= d.n_parameters {
            return;
        }
        let k = tables[j].n_categories;
        let de = &d.expected[mm * q..(mm + 1) * q];
        for (u, &(t, c)) in univariate.iter().enumerate() {
            if t != j {
                continue;
            }
            let source = if c == 0 {
                de
            } else {
                &d.categories[(mm * k + c) * q..(mm * k + c + 1) * q]
            };
            column[u] += source
                .iter()
                .zip(&grid.weights)
                .map(|(a, w)| a * w)
                .sum::<f64>();
        }
        for o in 0..n {
            if o == j {
                continue;
            }
            let at = if j < o {
                pair_index(j, o)
            } else {
                pair_index(o, j)
            };
            let other = &tables[o].expected;
            column[at] += (0..q)
                .map(|x| grid.weights[x] * de[x] * other[x])
                .sum::<f64>();
        }
    };
    let mut columns: Vec<Vec<f64>> = input
        .structure
        .columns
        .par_iter()
        .map(|entries| {
            let mut column = vec![0.0; m];
            for &(j, mm) in entries {
                item_column(j, mm, &mut column);
            }
            column
        })
        .collect();
    if input.structure.latent_free {
        // With anchors the grid's nodes are fixed and its weights follow N(μ, σ²):
        // ∂ln w_q/∂μ = (θ_q − μ)/σ² − mean, ∂ln w_q/∂σ = (θ_q − μ)²/σ³ − mean.
        let (mu, variance) = input.latent;
        let sigma = variance.sqrt();
        let score = |g: &dyn Fn(f64) -> f64| -> Vec<f64> {
            let raw: Vec<f64> = grid.nodes.iter().map(|&t| g(t)).collect();
            let mean: f64 = raw.iter().zip(&grid.weights).map(|(a, w)| a * w).sum();
            raw.iter().map(|a| a - mean).collect()
        };
        let d_mean = score(&|t| (t - mu) / variance);
        let d_sd = score(&|t| (t - mu).powi(2) / (variance * sigma));
        for g in [d_mean, d_sd] {
            let mut column = vec![0.0; m];
            for (u, &(i, c)) in univariate.iter().enumerate() {
                let source = if c == 0 {
                    &tables[i].expected[..]
                } else {
                    tables[i].category(c)
                };
                column[u] = (0..q).map(|x| grid.weights[x] * g[x] * source[x]).sum();
            }
            for (p, &(i, j)) in pairs_of.iter().enumerate() {
                let (a, b) = (&tables[i].expected, &tables[j].expected);
                column[u_count + p] = (0..q).map(|x| grid.weights[x] * g[x] * a[x] * b[x]).sum();
            }
            columns.push(column);
        }
    }
    columns
}

/// The full-information G² with RMSEA, CFI and TLI; `Err` says why it is not computed.
pub(crate) fn full_information(
    responses: &ResponseMatrix,
    tables: &[ItemTable],
    grid: &Grid,
    parameters: usize,
    max_cells: f64,
) -> Result<FullInformationFit, String> {
    let n = tables.len();
    let cells: f64 = tables.iter().map(|t| t.n_categories as f64).product();
    if cells > max_cells {
        return Err(format!(
            "the full-information G² is given for tests whose response patterns can be listed: {} possible patterns here, above {}",
            crate::text::count(cells.min(1e18) as usize),
            crate::text::count(max_cells as usize)
        ));
    }
    let patterns = Patterns::collapse(responses);
    let complete = (0..patterns.len()).all(|p| patterns.responses(p).count() == n);
    if !complete {
        return Err(
            "the full-information G² needs complete responses (mirt reports it as missing too)"
                .into(),
        );
    }
    let df = cells - 1.0 - parameters as f64;
    if df <= 0.0 {
        return Err(format!(
            "the full-information G² has no degrees of freedom: {cells} patterns for {parameters} parameters"
        ));
    }
    let q = grid.len();
    let log_weights: Vec<f64> = grid.weights.iter().map(|w| w.max(1e-300).ln()).collect();
    let log_p: Vec<Vec<f64>> = tables
        .iter()
        .map(|t| t.p.iter().map(|p| p.max(1e-300).ln()).collect())
        .collect();
    let total: f64 = patterns.counts.iter().sum();
    let mut marginals: Vec<Vec<f64>> = tables.iter().map(|t| vec![0.0; t.n_categories]).collect();
    for p in 0..patterns.len() {
        for (j, c) in patterns.responses(p) {
            marginals[j][c as usize] += patterns.counts[p];
        }
    }
    let mut g2 = 0.0;
    let mut null_g2 = 0.0;
    let mut values = vec![0.0; q];
    for p in 0..patterns.len() {
        values.copy_from_slice(&log_weights);
        let mut log_null = 0.0;
        for (j, c) in patterns.responses(p) {
            let row = &log_p[j][c as usize * q..(c as usize + 1) * q];
            for (v, l) in values.iter_mut().zip(row) {
                *v += l;
            }
            log_null += (marginals[j][c as usize] / total).ln();
        }
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_marginal = max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let count = patterns.counts[p];
        let log_observed = (count / total).ln();
        g2 += 2.0 * count * (log_observed - log_marginal);
        null_g2 += 2.0 * count * (log_observed - log_null);
    }
    let null_df = cells
        - 1.0
        - tables
            .iter()
            .map(|t| (t.n_categories - 1) as f64)
            .sum::<f64>();
    Ok(FullInformationFit {
        g2,
        df,
        p: chi_square_sf(g2, df),
        rmsea: rmsea(g2, df, total),
        cfi: cfi(g2, df, null_g2, null_df),
        tli: tli(g2, df, null_g2, null_df),
        null_g2,
        null_df,
        cells,
        observed_patterns: patterns.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `‖y‖² − ‖P_Y y‖²` by the normal equations on the independent columns `keep`.
    fn by_normal_equations(augmented: &Mat<f64>, keep: &[usize]) -> f64 {
        let m = augmented.nrows();
        let k = keep.len();
        let column = |c: usize| (0..m).map(move |r| augmented[(r, c)]);
        let mut gram = vec![0.0; k * k];
        let mut right = vec![0.0; k];
        for (a, &ca) in keep.iter().enumerate() {
            for (b, &cb) in keep.iter().enumerate() {
                gram[a * k + b] = column(ca).zip(column(cb)).map(|(x, y)| x * y).sum();
            }
            right[a] = column(ca).zip(column(0)).map(|(x, y)| x * y).sum();
        }
        let beta = crate::prediction::linalg::solve(&gram, &right, k).unwrap();
        let total: f64 = column(0).map(|x| x * x).sum();
        total - beta.iter().zip(&right).map(|(b, r)| b * r).sum::<f64>()
    }

    #[test]
    fn residual_of_the_projection_with_and_without_dependent_columns() {
        let (m, k) = (40, 6);
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let mut augmented = Mat::<f64>::zeros(m, 1 + k);
        for r in 0..m {
            for c in 0..=k {
                augmented[(r, c)] = next();
            }
        }
        let full = unexplained_square(augmented.as_ref()).unwrap();
        assert!(by_gram(augmented.as_ref()).is_some());
        let expected = by_normal_equations(&augmented, &(1..=k).collect::<Vec<_>>());
        assert!((full - expected).abs() < 1e-10, "{full} vs {expected}");
        assert!(full > 0.1);
        // Column 6 a combination of columns 1 and 2: the projection is onto five directions.
        for r in 0..m {
            augmented[(r, 6)] = 2.0 * augmented[(r, 1)] - 0.5 * augmented[(r, 2)];
        }
        let dependent = unexplained_square(augmented.as_ref()).unwrap();
        assert!(by_gram(augmented.as_ref()).is_none());
        let expected = by_normal_equations(&augmented, &[1, 2, 3, 4, 5]);
        assert!(
            (dependent - expected).abs() < 1e-10,
            "{dependent} vs {expected}"
        );
        // No parameters: all of ‖y‖².
        let alone = unexplained_square(augmented.subcols(0, 1)).unwrap();
        let total: f64 = (0..m).map(|r| augmented[(r, 0)].powi(2)).sum();
        assert!((alone - total).abs() < 1e-12);
    }
}

//! Standard errors: the observed information of the marginal log-likelihood (plus log priors),
//! inverted.
//!
//! The observed information is computed exactly, by one of two routes:
//!
//! - **Analytic (Louis, 1982)** for tests whose items are all divide-by-total with log-odds
//!   linear in the parameters (2PL, 1PL, Rasch, GPCM, PCM, rating scale), one group, latent
//!   distribution fixed. Louis's identity gives `I = Σ_items I_c − Σ_p n_p Cov(S | x_p)`, the
//!   complete-data information less the posterior covariance of each pattern's complete-data
//!   score. For these items the score of item j at node q is
//!   `S_j(x, θ) = σ_{j,x}·θ + τ_{j,x} − μ_j(θ)` with `σ = ∂s/∂φ`, `τ = ∂t/∂φ` constant and
//!   `μ_j(θ) = E_P[σθ + τ]`; the posterior covariance of the stacked score is then
//!   `v_p·D D ᵀ − (D cᵀ + c Dᵀ) + Σ_q w_pq μ°μ°ᵀ − M Mᵀ`, with `D = σ_{·,x_p}`, `v_p` the
//!   posterior variance of θ, `M = Σ_q w_pq μ°(θ_q)`, `c = Σ_q w_pq θ_q μ°(θ_q) − E[θ]·M` and
//!   `μ°` the μ of the items the pattern answered. Summed over patterns these are three matrix
//!   products over the patterns and one sum over nodes of pairwise "both answered" posterior
//!   mass (which is just the node counts for complete data) — no parameter × parameter matrix
//!   per person, and linear in the number of patterns.
//! - **Analytic (Louis) for any item type** (graded, nominal, 3PL/4PL, mixed tests), one
//!   group, latent distribution fixed: the same identity, with the posterior second moment of
//!   the complete-data score taken from the posterior mass of each pair of answers per node,
//!   `N_q(ja, lb)`, gathered in one pass over the patterns; see
//!   [`pairwise_louis_information`]. Its cost grows with the square of the number of items
//!   rather than with the number of parameters times the data.
//! - **Numerical (Oakes, 1999)** otherwise (several groups, or a free latent distribution):
//!   central differences of the analytic gradient of the marginal log-likelihood (Fisher's
//!   identity), two E-steps per parameter. mirt computes its default (Oakes) SEs the same way.
//!
//! The cross-product information `Σ_p n_p ḡ_p ḡ_pᵀ` (ḡ_p the gradient of pattern p's log
//! marginal likelihood) is offered as a quicker, noisier alternative.
//!
//! Parameters sitting at a bound are held fixed: they get no standard error.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::estep::{
    BLOCK, EStep, ItemStats, PatternRows, chunked_by, dot_lanes, posterior_in_place, support,
    zeros_written,
};
use super::layout::{FreeKind, Slot};
use super::mstep::item_free_terms;
use super::problem::Problem;
use crate::prediction::PredictionError;
use crate::prediction::linalg;
use crate::prediction::responses::PatternView;

/// Patterns per block of the Louis pass: its per-block tables (patterns × nodes and patterns ×
/// parameters, six of them) stay in cache, and each thread's first blocks map few fresh pages.
const LOUIS_BLOCK: usize = 128;

/// The most memory the standard errors may take before they are refused up front.
pub(crate) const STANDARD_ERROR_MEMORY_LIMIT: f64 = 1.5e9;

/// Bytes the standard errors of `n` free parameters need (a few n × n matrices).
pub(crate) fn standard_error_bytes(n: usize) -> f64 {
    4.0 * 8.0 * (n as f64) * (n as f64)
}

/// The gradient of the marginal log-likelihood plus log priors at ψ (Fisher's identity).
pub(crate) fn marginal_gradient(problem: &Problem, psi: &[f64]) -> Vec<f64> {
    let layout = &problem.layout;
    let estep = problem.e_step(psi, false);
    let nodes = problem.nodes();
    let n = layout.n_free();
    let mut gradient = vec![0.0; n];
    let per_item: Vec<(Vec<usize>, Vec<f64>)> = (0..layout.items.len())
        .into_par_iter()
        .map(|j| {
            let indices = layout.item_free[j].clone();
            let terms = item_free_terms(layout, j, psi, &estep, nodes, &indices, true);
            (indices, terms.gradient)
        })
        .collect();
    for (indices, g) in per_item {
        for (&i, v) in indices.iter().zip(g) {
            gradient[i] += v;
        }
    }
    // Priors of shared parameters (own ones are in the item terms).
    for &i in &layout.shared {
        let parameter = &layout.free[i];
        if let Some(prior) = parameter.prior {
            let (_, first, _) = prior.log_density(parameter.transform.value(psi[i]));
            gradient[i] += first * parameter.transform.derivative(psi[i]);
        }
    }
    for (g, group) in estep.iter().enumerate() {
        let (mean, variance) = layout.latent(g, psi);
        let log_prior = problem.log_prior(g, psi);
        let total: f64 = group.node_counts.iter().sum();
        // ∂ log π_q / ∂(μ, σ²) for the normalised weights: the density's score less its
        // π-weighted average.
        let score_mean: Vec<f64> = nodes.iter().map(|t| (t - mean) / variance).collect();
        let score_variance: Vec<f64> = nodes
            .iter()
            .map(|t| ((t - mean) * (t - mean) - variance) / (2.0 * variance * variance))
            .collect();
        let average =
            |score: &[f64]| -> f64 { score.iter().zip(&log_prior).map(|(s, l)| s * l.exp()).sum() };
        let (mean_slot, variance_slot) = layout.latent[g];
        if let Slot::Free(i) = mean_slot {
            let bar = average(&score_mean);
            gradient[i] += group
                .node_counts
                .iter()
                .zip(&score_mean)
                .map(|(n, s)| n * s)
                .sum::<f64>()
                - total * bar;
        }
        if let Slot::Free(i) = variance_slot {
            let bar = average(&score_variance);
            gradient[i] += group
                .node_counts
                .iter()
                .zip(&score_variance)
                .map(|(n, s)| n * s)
                .sum::<f64>()
                - total * bar;
        }
    }
    gradient
}

/// The observed information by central differences of [`marginal_gradient`].
pub(crate) fn numerical_information(
    problem: &Problem,
    psi: &[f64],
    report: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<f64>, PredictionError> {
    let n = psi.len();
    let column = |k: usize| -> Result<Vec<f64>, PredictionError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let h = 1e-4 * psi[k].abs().max(1.0);
        let mut plus = psi.to_vec();
        let mut minus = psi.to_vec();
        plus[k] += h;
        minus[k] -= h;
        let g_plus = marginal_gradient(problem, &plus);
        let g_minus = marginal_gradient(problem, &minus);
        Ok(g_plus
            .iter()
            .zip(&g_minus)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect())
    };
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(n);
    for start in (0..n).step_by(16) {
        let end = (start + 16).min(n);
        let chunk: Vec<Result<Vec<f64>, PredictionError>> =
            (start..end).into_par_iter().map(column).collect();
        for c in chunk {
            columns.push(c?);
        }
        report(end, n);
    }
    let mut information = vec![0.0; n * n];
    for (k, column) in columns.iter().enumerate() {
        for (i, value) in column.iter().enumerate() {
            information[i * n + k] = -value;
        }
    }
    symmetrise(&mut information, n);
    Ok(information)
}

fn symmetrise(matrix: &mut [f64], n: usize) {
    for i in 0..n {
        for k in 0..i {
            let mean = 0.5 * (matrix[i * n + k] + matrix[k * n + i]);
            matrix[i * n + k] = mean;
            matrix[k * n + i] = mean;
        }
    }
}

/// Whether the analytic (Louis) route applies.
pub(crate) fn analytic_applies(problem: &Problem) -> bool {
    problem.groups.len() == 1 && !problem.layout.latent_free() && problem.layout.all_canonical()
}

/// The information from the log priors (its concave part), added to every route.
fn add_prior_information(problem: &Problem, psi: &[f64], information: &mut [f64]) {
    let n = psi.len();
    for (i, parameter) in problem.layout.free.iter().enumerate() {
        if let Some(prior) = parameter.prior {
            let value = parameter.transform.value(psi[i]);
            let (_, first, second) = prior.log_density(value);
            let d = parameter.transform.derivative(psi[i]);
            let d2 = parameter.transform.second_derivative(psi[i]);
            information[i * n + i] += -(second * d * d + first * d2);
        }
    }
}

/// The analytic observed information (Louis) for canonical divide-by-total items; see the module
/// docs. One group, latent distribution fixed.
pub(crate) fn louis_information(
    problem: &Problem,
    psi: &[f64],
    estep: &[EStep],
    report: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<f64>, PredictionError> {
    let layout = &problem.layout;
    let nodes = problem.nodes();
    let q_count = nodes.len();
    let group = &problem.groups[0];
    let patterns = &group.patterns;
    let n_items = layout.items.len();
    // Item-parameter space: item j's parameters at offset[j].
    let mut offset = Vec::with_capacity(n_items + 1);
    offset.push(0);
    let mut forms = Vec::with_capacity(n_items);
    let mut params_of = Vec::with_capacity(n_items);
    for (j, item) in layout.items.iter().enumerate() {
        let params = layout.item_parameters(0, j, psi);
        let form = item
            .model
            .linear_form(&params, item.n_categories)
            .ok_or_else(|| {
                PredictionError::Data("analytic standard errors need divide-by-total items".into())
            })?;
        offset.push(offset[j] + params.len());
        forms.push(form);
        params_of.push(params);
    }
    let p_items = offset[n_items];
    // μ_j(θ_q) for every item parameter: U is Q × P.
    let mut u = vec![0.0; q_count * p_items];
    for (j, form) in forms.iter().enumerate() {
        let k = layout.items[j].n_categories;
        let n = params_of[j].len();
        let mut p = vec![0.0; k];
        for (q, &theta) in nodes.iter().enumerate() {
            crate::prediction::items::divide_by_total::probabilities(
                &form.s, &form.t, theta, &mut p,
            );
            for m in 0..n {
                u[q * p_items + offset[j] + m] = (0..k)
                    .map(|c| p[c] * (form.ds[c * n + m] * theta + form.dt[c * n + m]))
                    .sum();
            }
        }
    }
    // Columns with a θ part (σ ≠ 0 somewhere): the slopes.
    let mut theta_column = vec![usize::MAX; p_items];
    let mut theta_columns = Vec::new();
    for (j, form) in forms.iter().enumerate() {
        let n = params_of[j].len();
        for m in 0..n {
            if (0..layout.items[j].n_categories).any(|c| form.ds[c * n + m] != 0.0) {
                theta_column[offset[j] + m] = theta_columns.len();
                theta_columns.push(offset[j] + m);
            }
        }
    }
    let p_theta = theta_columns.len();
    // Per item, its θ-columns: (column, parameter index).
    let theta_entries: Vec<Vec<(usize, usize)>> = (0..n_items)
        .map(|j| {
            (0..params_of[j].len())
                .filter_map(|m| {
                    let col = theta_column[offset[j] + m];
                    (col != usize::MAX).then_some((col, m))
                })
                .collect()
        })
        .collect();
    let tables = problem.tables(0, psi);
    let log_prior = problem.log_prior(0, psi);
    let has_missing = patterns.has_missing();
    let n_patterns = patterns.len();
    let n_blocks = n_patterns.div_ceil(LOUIS_BLOCK);

    struct Sums {
        a: Vec<f64>,
        x: Vec<f64>,
        y: Vec<f64>,
        /// Pairwise "both answered" posterior mass per node (J × J × Q), with missing data.
        both: Vec<f64>,
        /// Dense data: posterior mass missing each item (J × Q).
        missing: Vec<f64>,
        node_counts: Vec<f64>,
        /// Complete data: `G = Σ_p n_p w_p w_pᵀ` (Q × Q), whence `Y = Uᵀ G U`.
        g: Vec<f64>,
        /// Complete data: `H = Σ_p d1_pᵀ n_p (w_p∘θ − m1_p w_p)` (θ-columns × Q), whence
        /// `X = H U`.
        h: Vec<f64>,
    }
    let sparse = patterns.is_sparse();
    let empty = || Sums {
        a: vec![0.0; p_theta * p_theta],
        x: vec![0.0; p_theta * p_items],
        y: vec![0.0; p_items * p_items],
        both: if has_missing {
            vec![0.0; n_items * n_items * q_count]
        } else {
            Vec::new()
        },
        missing: if has_missing && !sparse {
            vec![0.0; n_items * q_count]
        } else {
            Vec::new()
        },
        node_counts: vec![0.0; q_count],
        g: vec![0.0; if has_missing { 0 } else { q_count * q_count }],
        h: vec![0.0; if has_missing { 0 } else { p_theta * q_count }],
    };
    let pair_bytes = (n_items * n_items * q_count) as f64 * 8.0;
    if has_missing && pair_bytes > 1e9 {
        return Err(PredictionError::TooLarge(format!(
            "the standard errors of {} items with missing responses need {} of pairwise tables; use --se crossprod or --se none",
            n_items,
            crate::text::human_bytes(pair_bytes)
        )));
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let pattern_rows = PatternRows::new(patterns, &tables, nodes, &log_prior);
    let block = |b: usize, sums: &mut Sums| {
        let lo = b * LOUIS_BLOCK;
        let hi = ((b + 1) * LOUIS_BLOCK).min(n_patterns);
        let rows = hi - lo;
        let mut w = vec![0.0; rows * q_count];
        let mut wt = vec![0.0; rows * q_count];
        let mut d1 = vec![0.0; rows * p_theta];
        let mut d1_scaled = vec![0.0; rows * p_theta];
        let mut counts = vec![0.0; rows];
        let mut m1 = vec![0.0; rows];
        for (i, p) in (lo..hi).enumerate() {
            let values = &mut w[i * q_count..(i + 1) * q_count];
            pattern_rows.fill(p, values);
            let (_, mean, sd) = posterior_in_place(values, nodes);
            let count = patterns.counts[p];
            counts[i] = count;
            m1[i] = mean;
            for (at, v) in values.iter().enumerate() {
                wt[i * q_count + at] = v * nodes[at];
                sums.node_counts[at] += count * v;
            }
            let scale = (count * sd * sd).sqrt();
            for (j, code) in patterns.responses(p) {
                let (ds, n) = (&forms[j].ds, params_of[j].len());
                for &(col, m) in &theta_entries[j] {
                    let value = ds[code as usize * n + m];
                    d1[i * p_theta + col] = value;
                    d1_scaled[i * p_theta + col] = value * scale;
                }
            }
            if has_missing {
                // Dense data: posterior mass of patterns missing both items (and each item);
                // sparse data: of patterns answering both. Whichever list is short.
                let values = &w[i * q_count..(i + 1) * q_count];
                let listed: Vec<usize> = match patterns.view(p) {
                    PatternView::Dense { missing, .. } => {
                        missing.iter().map(|&j| j as usize).collect()
                    }
                    PatternView::Sparse { items, .. } => {
                        items.iter().map(|&j| j as usize).collect()
                    }
                };
                for &j in &listed {
                    if !sparse {
                        let at = j * q_count;
                        for (slot, v) in sums.missing[at..at + q_count].iter_mut().zip(values) {
                            *slot += count * v;
                        }
                    }
                    for &k in &listed {
                        let at = (j * n_items + k) * q_count;
                        for (slot, v) in sums.both[at..at + q_count].iter_mut().zip(values) {
                            *slot += count * v;
                        }
                    }
                }
            }
        }
        linalg::gemm_transposed_a(
            p_theta,
            rows,
            p_theta,
            &d1_scaled,
            &d1_scaled,
            1.0,
            &mut sums.a,
        );
        if !has_missing {
            // Every pattern answered every item, so the node-by-parameter products factor
            // through U: Y = Uᵀ(Σ n w wᵀ)U and X = (Σ d1ᵀ n (w∘θ − m1 w))U, both finished
            // after the pass (Q × Q and θ-columns × Q sums instead of parameter × parameter
            // ones per pattern).
            let mut scaled = vec![0.0; rows * q_count];
            let mut centred = vec![0.0; rows * q_count];
            for i in 0..rows {
                let root = counts[i].sqrt();
                let at = i * q_count..(i + 1) * q_count;
                for (((sc, ce), &v), &vt) in scaled[at.clone()]
                    .iter_mut()
                    .zip(&mut centred[at.clone()])
                    .zip(&w[at.clone()])
                    .zip(&wt[at])
                {
                    *sc = root * v;
                    *ce = counts[i] * (vt - m1[i] * v);
                }
            }
            linalg::gemm_transposed_a(q_count, rows, q_count, &scaled, &scaled, 1.0, &mut sums.g);
            linalg::gemm_transposed_a(p_theta, rows, q_count, &d1, &centred, 1.0, &mut sums.h);
            done.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // M0 = W·U, M1 = (W∘θ)·U.
        let mut m0 = vec![0.0; rows * p_items];
        let mut m1_table = vec![0.0; rows * p_items];
        linalg::gemm(rows, q_count, p_items, &w, &u, 0.0, &mut m0);
        linalg::gemm(rows, q_count, p_items, &wt, &u, 0.0, &mut m1_table);
        // Only the items a pattern answered contribute μ°.
        if has_missing {
            for (i, p) in (lo..hi).enumerate() {
                if let PatternView::Dense { missing, .. } = patterns.view(p) {
                    for &j in missing {
                        let j = j as usize;
                        for col in offset[j]..offset[j + 1] {
                            m0[i * p_items + col] = 0.0;
                            m1_table[i * p_items + col] = 0.0;
                        }
                    }
                } else {
                    let mut answered = vec![false; n_items];
                    for (j, _) in patterns.responses(p) {
                        answered[j] = true;
                    }
                    for j in (0..n_items).filter(|&j| !answered[j]) {
                        for col in offset[j]..offset[j + 1] {
                            m0[i * p_items + col] = 0.0;
                            m1_table[i * p_items + col] = 0.0;
                        }
                    }
                }
            }
        }
        // c = M1 − m1·M0, weighted by the count for X; M0 scaled by √count for Y.
        let mut c = m1_table;
        for i in 0..rows {
            for col in 0..p_items {
                c[i * p_items + col] =
                    counts[i] * (c[i * p_items + col] - m1[i] * m0[i * p_items + col]);
                m0[i * p_items + col] *= counts[i].sqrt();
            }
        }
        linalg::gemm_transposed_a(p_theta, rows, p_items, &d1, &c, 1.0, &mut sums.x);
        linalg::gemm_transposed_a(p_items, rows, p_items, &m0, &m0, 1.0, &mut sums.y);
        done.fetch_add(1, Ordering::Relaxed);
    };
    let mut total = empty();
    for start in (0..n_blocks).step_by(64) {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let end = (start + 64).min(n_blocks);
        // One set of sums per thread: they are parameter × parameter matrices.
        let parts = chunked_by(
            end - start,
            rayon::current_num_threads(),
            empty,
            |sums, b| block(start + b, sums),
        );
        let mut part = empty();
        for other in parts {
            for (x, y) in [
                (&mut part.a, &other.a),
                (&mut part.x, &other.x),
                (&mut part.y, &other.y),
                (&mut part.both, &other.both),
                (&mut part.missing, &other.missing),
                (&mut part.node_counts, &other.node_counts),
                (&mut part.g, &other.g),
                (&mut part.h, &other.h),
            ] {
                for (s, t) in x.iter_mut().zip(y) {
                    *s += t;
                }
            }
        }
        for (x, y) in [
            (&mut total.a, &part.a),
            (&mut total.x, &part.x),
            (&mut total.y, &part.y),
            (&mut total.both, &part.both),
            (&mut total.missing, &part.missing),
            (&mut total.node_counts, &part.node_counts),
            (&mut total.g, &part.g),
            (&mut total.h, &part.h),
        ] {
            for (s, t) in x.iter_mut().zip(y) {
                *s += t;
            }
        }
        report(end, n_blocks);
    }
    if !has_missing {
        let mut gu = vec![0.0; q_count * p_items];
        linalg::gemm(q_count, q_count, p_items, &total.g, &u, 0.0, &mut gu);
        linalg::gemm_transposed_a(p_items, q_count, p_items, &u, &gu, 0.0, &mut total.y);
        linalg::gemm(p_theta, q_count, p_items, &total.h, &u, 0.0, &mut total.x);
    }
    // Covariance part: embed(A) − X − Xᵀ + Z − Y.
    let mut cov = vec![0.0; p_items * p_items];
    for (x, &col_x) in theta_columns.iter().enumerate() {
        for (y, &col_y) in theta_columns.iter().enumerate() {
            cov[col_x * p_items + col_y] += total.a[x * p_theta + y];
        }
        for col in 0..p_items {
            let v = total.x[x * p_items + col];
            cov[col_x * p_items + col] -= v;
            cov[col * p_items + col_x] -= v;
        }
    }
    for (c, y) in cov.iter_mut().zip(&total.y) {
        *c -= y;
    }
    // Z = Σ_q N^{jk}_q μ_j μ_kᵀ.
    for j in 0..n_items {
        for k in 0..n_items {
            for q in 0..q_count {
                let mass = if !has_missing {
                    total.node_counts[q]
                } else if sparse {
                    total.both[(j * n_items + k) * q_count + q]
                } else {
                    // Both answered = all − missing j − missing k + missing both.
                    total.node_counts[q]
                        - total.missing[j * q_count + q]
                        - total.missing[k * q_count + q]
                        + total.both[(j * n_items + k) * q_count + q]
                };
                if mass == 0.0 {
                    continue;
                }
                let row_u = &u[q * p_items..(q + 1) * p_items];
                for a in offset[j]..offset[j + 1] {
                    let ua = mass * row_u[a];
                    for b in offset[k]..offset[k + 1] {
                        cov[a * p_items + b] += ua * row_u[b];
                    }
                }
            }
        }
    }
    // Complete-data information per item (exact for canonical items; `estep` is the E-step at
    // ψ), less the covariance.
    let mut information_items = cov;
    for v in information_items.iter_mut() {
        *v = -*v;
    }
    for j in 0..n_items {
        let stats: &ItemStats = &estep[0].items[j];
        let (_, _, info) = super::mstep::item_terms(layout, j, &params_of[j], stats, nodes, true);
        let n = params_of[j].len();
        for a in 0..n {
            for b in 0..n {
                information_items[(offset[j] + a) * p_items + offset[j] + b] += info[a * n + b];
            }
        }
    }
    // Map to the free parameters: I_free = Aᵀ I_items A, A the 0/1 slot map (identity
    // transforms for these items).
    let n_free = layout.n_free();
    let mut slot_of: Vec<Vec<usize>> = vec![Vec::new(); n_free];
    for j in 0..n_items {
        for (m, slot) in layout.slots[0][j].iter().enumerate() {
            if let Slot::Free(i) = *slot {
                slot_of[i].push(offset[j] + m);
            }
        }
    }
    let mut information = vec![0.0; n_free * n_free];
    for i in 0..n_free {
        for k in 0..n_free {
            let mut v = 0.0;
            for &a in &slot_of[i] {
                for &b in &slot_of[k] {
                    v += information_items[a * p_items + b];
                }
            }
            information[i * n_free + k] = v;
        }
    }
    symmetrise(&mut information, n_free);
    add_prior_information(problem, psi, &mut information);
    Ok(information)
}

/// Item j's complete-data score per category and node, `∂ log P_c(θ_q)/∂ψ` over the free
/// parameters the item uses: the free indices, and the table `[(c·Q + q)·f + x]`.
fn item_score_table(problem: &Problem, g: usize, j: usize, psi: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let layout = &problem.layout;
    let nodes = problem.nodes();
    let q_count = nodes.len();
    let item = &layout.items[j];
    let params = layout.item_parameters(g, j, psi);
    let n = params.len();
    let k = item.n_categories;
    let free: Vec<(usize, usize, f64)> = layout.slots[g][j]
        .iter()
        .enumerate()
        .filter_map(|(m, slot)| match *slot {
            Slot::Free(i) => Some((m, i, layout.free[i].transform.derivative(psi[i]))),
            Slot::Fixed(_) => None,
        })
        .collect();
    let f = free.len();
    let mut table = vec![0.0; k * q_count * f];
    let mut p = vec![0.0; k];
    let mut dp = vec![0.0; k * n];
    for (q, &theta) in nodes.iter().enumerate() {
        item.model
            .parameter_derivatives(&params, theta, &mut p, &mut dp);
        for c in 0..k {
            let pc = p[c].max(1e-300);
            for (x, &(m, _, d)) in free.iter().enumerate() {
                table[(c * q_count + q) * f + x] = dp[c * n + m] / pc * d;
            }
        }
    }
    (free.iter().map(|&(_, i, _)| i).collect(), table)
}

/// The score tables of [`item_score_table`] with the nodes innermost, `[(c·f + x)·Q + q]`, for
/// the posterior means of the scores.
fn by_node(scores: &[(Vec<usize>, Vec<f64>)], q_count: usize) -> Vec<Vec<f64>> {
    scores
        .iter()
        .map(|(free, table)| {
            let f = free.len();
            let k = table.len() / (f * q_count).max(1);
            let mut out = vec![0.0; table.len()];
            for c in 0..k {
                for q in 0..q_count {
                    for x in 0..f {
                        out[(c * f + x) * q_count + q] = table[(c * q_count + q) * f + x];
                    }
                }
            }
            out
        })
        .collect()
}

/// Adds `root` times the posterior mean of an item's score for answer `code` to `gradient` (at
/// the item's free parameters), the posterior being `weights` over the nodes from `lo_q` on.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn add_mean_score(
    gradient: &mut [f64],
    free: &[usize],
    table_by_node: &[f64],
    code: usize,
    q_count: usize,
    lo_q: usize,
    weights: &[f64],
    root: f64,
) {
    let f = free.len();
    for (x, &index) in free.iter().enumerate() {
        let at = (code * f + x) * q_count + lo_q;
        gradient[index] += root * dot_lanes(&table_by_node[at..at + weights.len()], weights);
    }
}

/// Whether the pairwise Louis route applies: one group, latent distribution fixed, and its
/// per-thread tables within the memory limit.
pub(crate) fn pairwise_applies(problem: &Problem) -> bool {
    problem.groups.len() == 1
        && !problem.layout.latent_free()
        && pairwise_bytes(problem) <= STANDARD_ERROR_MEMORY_LIMIT
}

/// Bytes the pairwise tables take: `Σ_{j<l} K_j K_l × Q` per thread.
fn pairwise_bytes(problem: &Problem) -> f64 {
    let categories: Vec<f64> = problem
        .layout
        .items
        .iter()
        .map(|i| i.n_categories as f64)
        .collect();
    let total: f64 = categories.iter().sum();
    let squares: f64 = categories.iter().map(|k| k * k).sum();
    let q = pair_stride(problem.nodes().len()) as f64;
    0.5 * (total * total - squares) * q * 8.0 * rayon::current_num_threads() as f64
}

/// Per-thread sums of the pairwise Louis pass.
struct PairState {
    /// `N_q(ja, lb)` for items j < l.
    pairs: Vec<f64>,
    /// `r_jcq`, the expected count of category c of item j at node q.
    counts: Vec<f64>,
    /// `Σ_p n_p ḡ_p ḡ_pᵀ`.
    cross: Vec<f64>,
    /// Buffers of one block, kept between blocks.
    scratch: PairScratch,
}

/// One block's working buffers in the pairwise pass.
#[derive(Default)]
struct PairScratch {
    /// Rows `√n_p ḡ_p`.
    gradients: Vec<f64>,
    /// Rows `n_p w_p` (nodes outside the support left stale).
    weighted: Vec<f64>,
    /// Each pattern's support `lo..hi` of nodes.
    support: Vec<(usize, usize)>,
    /// Each pattern's codes, item by item (`NOT_ANSWERED` for none).
    codes: Vec<u8>,
}

/// The row length of the pair tables: the nodes, rounded up to whole vectors (the rounding
/// stays zero).
fn pair_stride(q_count: usize) -> usize {
    q_count.next_multiple_of(4)
}

/// The code of an item not answered.
const NOT_ANSWERED: u8 = crate::prediction::responses::MISSING;

/// What one pass over the patterns of the pairwise Louis route reads.
struct PairPass<'a> {
    patterns: &'a crate::prediction::responses::Patterns,
    tables: &'a [super::estep::ItemTable],
    nodes: &'a [f64],
    log_prior: &'a [f64],
    categories: Vec<usize>,
    pair_at: &'a [usize],
    count_at: &'a [usize],
    free: Vec<&'a [usize]>,
    scores_by_node: &'a [Vec<f64>],
    n_free: usize,
    /// Complete data: per item, a category whose pairs are not accumulated but recovered
    /// afterwards from the counts (its most frequent one); `usize::MAX` otherwise.
    reference: Vec<usize>,
}

impl PairPass<'_> {
    /// Patterns `lo..hi`, with AVX2 + FMA code when the processor has them.
    fn run(&self, lo: usize, hi: usize, state: &mut PairState) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            unsafe { self.run_avx2(lo, hi, state) };
            return;
        }
        self.run_portable(lo, hi, state);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, lo: usize, hi: usize, state: &mut PairState) {
        self.run_portable(lo, hi, state);
    }

    #[inline(always)]
    fn run_portable(&self, lo: usize, hi: usize, state: &mut PairState) {
        let q_count = self.nodes.len();
        let n_items = self.categories.len();
        let n_free = self.n_free;
        let rows = hi - lo;
        let mut scratch = std::mem::take(&mut state.scratch);
        scratch.gradients.clear();
        scratch.gradients.resize(rows * n_free, 0.0);
        scratch.weighted.clear();
        let q_stride = pair_stride(q_count);
        scratch.weighted.resize(rows * q_stride, 0.0);
        scratch.codes.clear();
        scratch.codes.resize(rows * n_items, NOT_ANSWERED);
        scratch.support.clear();
        let mut values = vec![0.0; q_count];
        let pattern_rows = PatternRows::new(self.patterns, self.tables, self.nodes, self.log_prior);
        // First the posteriors, expected counts and mean scores, pattern by pattern.
        for (i, p) in (lo..hi).enumerate() {
            pattern_rows.fill(p, &mut values);
            posterior_in_place(&mut values, self.nodes);
            let count = self.patterns.counts[p];
            let (lo_q, hi_q) = support(&values);
            scratch.support.push((lo_q, hi_q));
            let weighted = &mut scratch.weighted[i * q_stride..i * q_stride + q_count];
            for (s, v) in weighted.iter_mut().zip(&values) {
                *s = count * v;
            }
            let (weighted, values) = (&weighted[lo_q..hi_q], &values[lo_q..hi_q]);
            let gradient = &mut scratch.gradients[i * n_free..(i + 1) * n_free];
            let root = count.sqrt();
            let codes = &mut scratch.codes[i * n_items..(i + 1) * n_items];
            for (j, code) in self.patterns.responses(p) {
                codes[j] = code;
                let code = code as usize;
                let at = self.count_at[j] + code * q_count + lo_q;
                for (s, v) in state.counts[at..at + weighted.len()]
                    .iter_mut()
                    .zip(weighted)
                {
                    *s += v;
                }
                add_mean_score(
                    gradient,
                    self.free[j],
                    &self.scores_by_node[j],
                    code,
                    q_count,
                    lo_q,
                    values,
                    root,
                );
            }
        }
        // Then the pairs, item j of the pair outermost: the tables of j's pairs stay in cache
        // while the block's posteriors stream past.
        for j in 0..n_items {
            let ref_j = self.reference[j];
            for i in 0..rows {
                let codes = &scratch.codes[i * n_items..(i + 1) * n_items];
                let code_j = codes[j];
                if code_j == NOT_ANSWERED || code_j as usize == ref_j {
                    continue;
                }
                // The support widened to whole vectors, so that the same cell's rows of
                // successive patterns line up (a load that partly overlaps a store still in
                // flight stalls).
                let (lo_q, hi_q) = scratch.support[i];
                let (lo_q, hi_q) = (lo_q / 4 * 4, hi_q.next_multiple_of(4));
                let weighted = &scratch.weighted[i * q_stride + lo_q..i * q_stride + hi_q];
                for l in (j + 1)..n_items {
                    let code_l = codes[l];
                    if code_l == NOT_ANSWERED || code_l as usize == self.reference[l] {
                        continue;
                    }
                    let at = self.pair_at[j * n_items + l]
                        + (code_j as usize * self.categories[l] + code_l as usize) * q_stride
                        + lo_q;
                    for (s, v) in state.pairs[at..at + weighted.len()]
                        .iter_mut()
                        .zip(weighted)
                    {
                        *s += v;
                    }
                }
            }
        }
        linalg::gemm_transposed_a(
            n_free,
            rows,
            n_free,
            &scratch.gradients,
            &scratch.gradients,
            1.0,
            &mut state.cross,
        );
        state.scratch = scratch;
    }
}

/// The analytic observed information (Louis, 1982) for any item types: one group, latent
/// distribution fixed.
///
/// `I = Σ_j H_j − Σ_p n_p E[S Sᵀ | x_p] + Σ_p n_p E[S | x_p] E[S | x_p]ᵀ`, with S the
/// complete-data score at θ (the sum over the answered items of `s_j(x_j, θ)`) and `H_j` item
/// j's complete-data information at the expected counts. The middle term needs, per node,
/// only the posterior mass of each pair of (item, category) answers,
/// `N_q(ja, lb) = Σ_p n_p w_pq [x_pj = a][x_pl = b]`: one pass over the patterns adds each
/// pattern's posterior to one table row per pair of answered items, and the parameters enter
/// afterwards, per pair of items. The last term is the cross-product information. Each `H_j`
/// is the central difference of item j's complete-data gradient with the counts held, so any
/// item type (and any transform of its parameters) is covered.
pub(crate) fn pairwise_louis_information(
    problem: &Problem,
    psi: &[f64],
    report: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<f64>, PredictionError> {
    let layout = &problem.layout;
    let nodes = problem.nodes();
    let q_count = nodes.len();
    let n_items = layout.items.len();
    let n_free = layout.n_free();
    let patterns = &problem.groups[0].patterns;
    let tables = problem.tables(0, psi);
    let log_prior = problem.log_prior(0, psi);
    let scores: Vec<(Vec<usize>, Vec<f64>)> = (0..n_items)
        .into_par_iter()
        .map(|j| item_score_table(problem, 0, j, psi))
        .collect();
    // Pair tables of items j < l: K_j × K_l × Q at `pair_at[j · J + l]`.
    let mut pair_at = vec![usize::MAX; n_items * n_items];
    let mut pairs_len = 0;
    let mut count_at = Vec::with_capacity(n_items);
    let mut counts_len = 0;
    for j in 0..n_items {
        count_at.push(counts_len);
        counts_len += layout.items[j].n_categories * q_count;
        for l in (j + 1)..n_items {
            pair_at[j * n_items + l] = pairs_len;
            pairs_len +=
                layout.items[j].n_categories * layout.items[l].n_categories * pair_stride(q_count);
        }
    }
    let scores_by_node = by_node(&scores, q_count);
    let pass = PairPass {
        patterns,
        tables: &tables,
        nodes,
        log_prior: &log_prior,
        categories: layout.items.iter().map(|i| i.n_categories).collect(),
        pair_at: &pair_at,
        count_at: &count_at,
        free: scores.iter().map(|(free, _)| free.as_slice()).collect(),
        scores_by_node: &scores_by_node,
        n_free,
        reference: (0..n_items)
            .map(|j| {
                let counts = &problem.groups[0].category_counts[j];
                let most = (0..counts.len()).max_by(|&a, &b| counts[a].total_cmp(&counts[b]));
                match most {
                    Some(c) if !patterns.has_missing() => c,
                    _ => usize::MAX,
                }
            })
            .collect(),
    };
    let empty = || PairState {
        pairs: zeros_written(pairs_len),
        counts: zeros_written(counts_len),
        cross: zeros_written(n_free * n_free),
        scratch: PairScratch::default(),
    };
    let n_patterns = patterns.len();
    let n_blocks = n_patterns.div_ceil(BLOCK);
    let threads = rayon::current_num_threads().min(n_blocks).max(1);
    // Each thread's tables are allocated (and first written) by that thread.
    let mut states: Vec<PairState> = (0..threads).into_par_iter().map(|_| empty()).collect();
    let step = 32 * threads;
    for start in (0..n_blocks).step_by(step) {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let end = (start + step).min(n_blocks);
        states.par_iter_mut().enumerate().for_each(|(t, state)| {
            let from = start + t * (end - start) / threads;
            let to = start + (t + 1) * (end - start) / threads;
            for b in from..to {
                pass.run(b * BLOCK, ((b + 1) * BLOCK).min(n_patterns), state);
            }
        });
        report(end, n_blocks + 1);
    }
    let mut total = states.pop().unwrap_or_else(empty);
    for state in states {
        for (x, y) in [
            (&mut total.pairs, &state.pairs),
            (&mut total.counts, &state.counts),
            (&mut total.cross, &state.cross),
        ] {
            for (s, t) in x.iter_mut().zip(y) {
                *s += t;
            }
        }
    }
    // Complete data: the pairs with a reference category, from
    // `Σ_b N(ja, lb) = r_jaq` and `Σ_a N(ja, lb) = r_lbq`.
    for j in 0..n_items {
        let (k_j, ref_j) = (layout.items[j].n_categories, pass.reference[j]);
        if ref_j == usize::MAX {
            continue;
        }
        for l in (j + 1)..n_items {
            let (k_l, ref_l) = (layout.items[l].n_categories, pass.reference[l]);
            let base = pair_at[j * n_items + l];
            let cell = |a: usize, b: usize| base + (a * k_l + b) * pair_stride(q_count);
            let count = |item: usize, c: usize| count_at[item] + c * q_count;
            for q in 0..q_count {
                let pairs = &mut total.pairs;
                for a in (0..k_j).filter(|&a| a != ref_j) {
                    let known: f64 = (0..k_l)
                        .filter(|&b| b != ref_l)
                        .map(|b| pairs[cell(a, b) + q])
                        .sum();
                    pairs[cell(a, ref_l) + q] = total.counts[count(j, a) + q] - known;
                }
                for b in 0..k_l {
                    if b == ref_l {
                        continue;
                    }
                    let known: f64 = (0..k_j)
                        .filter(|&a| a != ref_j)
                        .map(|a| pairs[cell(a, b) + q])
                        .sum();
                    pairs[cell(ref_j, b) + q] = total.counts[count(l, b) + q] - known;
                }
                let known: f64 = (0..k_l)
                    .filter(|&b| b != ref_l)
                    .map(|b| pairs[cell(ref_j, b) + q])
                    .sum();
                pairs[cell(ref_j, ref_l) + q] = total.counts[count(j, ref_j) + q] - known;
            }
        }
    }
    let mut information = total.cross;
    // − Σ_p n_p E[S Sᵀ]: the pairs of different items (both orders), then each item with
    // itself.
    let pair_blocks: Vec<(usize, usize, Vec<f64>)> = (0..n_items)
        .into_par_iter()
        .flat_map_iter(|j| ((j + 1)..n_items).map(move |l| (j, l)))
        .map(|(j, l)| {
            let (free_j, table_j) = &scores[j];
            let (free_l, table_l) = &scores[l];
            let (fj, fl) = (free_j.len(), free_l.len());
            let mut sum = vec![0.0; fj * fl];
            for a in 0..layout.items[j].n_categories {
                for b in 0..layout.items[l].n_categories {
                    let at = pair_at[j * n_items + l]
                        + (a * layout.items[l].n_categories + b) * pair_stride(q_count);
                    for (q, &mass) in total.pairs[at..at + q_count].iter().enumerate() {
                        if mass == 0.0 {
                            continue;
                        }
                        let sj = &table_j[(a * q_count + q) * fj..(a * q_count + q + 1) * fj];
                        let sl = &table_l[(b * q_count + q) * fl..(b * q_count + q + 1) * fl];
                        for (x, &u) in sj.iter().enumerate() {
                            let u = mass * u;
                            for (s, &v) in sum[x * fl..(x + 1) * fl].iter_mut().zip(sl) {
                                *s += u * v;
                            }
                        }
                    }
                }
            }
            (j, l, sum)
        })
        .collect();
    for (j, l, sum) in pair_blocks {
        let (free_j, free_l) = (&scores[j].0, &scores[l].0);
        let fl = free_l.len();
        for (x, &i) in free_j.iter().enumerate() {
            for (y, &k) in free_l.iter().enumerate() {
                let v = sum[x * fl + y];
                information[i * n_free + k] -= v;
                information[k * n_free + i] -= v;
            }
        }
    }
    // Each item with itself, and its complete-data information H_j at the expected counts.
    let own: Vec<(Vec<usize>, Vec<f64>)> = (0..n_items)
        .into_par_iter()
        .map(|j| {
            let (free, table) = &scores[j];
            let f = free.len();
            let k = layout.items[j].n_categories;
            let counts = &total.counts[count_at[j]..count_at[j] + k * q_count];
            let mut block = vec![0.0; f * f];
            for c in 0..k {
                for q in 0..q_count {
                    let mass = counts[c * q_count + q];
                    if mass == 0.0 {
                        continue;
                    }
                    let s = &table[(c * q_count + q) * f..(c * q_count + q + 1) * f];
                    for x in 0..f {
                        for y in 0..f {
                            block[x * f + y] -= mass * s[x] * s[y];
                        }
                    }
                }
            }
            // H_j: −∂/∂ψ of Σ_c Σ_q r_cq s(c, q; ψ), by central differences.
            let gradient = |at: &[f64]| -> Vec<f64> {
                let (_, table) = item_score_table(problem, 0, j, at);
                let mut g = vec![0.0; f];
                for (cq, &mass) in counts.iter().enumerate() {
                    if mass != 0.0 {
                        for (x, s) in g.iter_mut().enumerate() {
                            *s += mass * table[cq * f + x];
                        }
                    }
                }
                g
            };
            let mut point = psi.to_vec();
            for (y, &i) in free.iter().enumerate() {
                let h = 1e-4 * psi[i].abs().max(1.0);
                point[i] = psi[i] + h;
                let plus = gradient(&point);
                point[i] = psi[i] - h;
                let minus = gradient(&point);
                point[i] = psi[i];
                for x in 0..f {
                    block[x * f + y] -= (plus[x] - minus[x]) / (2.0 * h);
                }
            }
            (free.clone(), block)
        })
        .collect();
    for (free, block) in own {
        let f = free.len();
        for (x, &i) in free.iter().enumerate() {
            for (y, &k) in free.iter().enumerate() {
                information[i * n_free + k] += block[x * f + y];
            }
        }
    }
    report(n_blocks + 1, n_blocks + 1);
    symmetrise(&mut information, n_free);
    add_prior_information(problem, psi, &mut information);
    Ok(information)
}

/// The cross-product information `Σ_p n_p ḡ_p ḡ_pᵀ` plus the priors' information.
pub(crate) fn crossproduct_information(
    problem: &Problem,
    psi: &[f64],
    cancel: &AtomicBool,
) -> Result<Vec<f64>, PredictionError> {
    let layout = &problem.layout;
    let nodes = problem.nodes();
    let q_count = nodes.len();
    let n_free = layout.n_free();
    let mut information = vec![0.0; n_free * n_free];
    for (g, group) in problem.groups.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let tables = problem.tables(g, psi);
        let log_prior = problem.log_prior(g, psi);
        // Per item, category and node: the score ∂ log P/∂ψ over the item's free slots.
        let scores: Vec<(Vec<usize>, Vec<f64>)> = (0..layout.items.len())
            .map(|j| item_score_table(problem, g, j, psi))
            .collect();
        let scores_by_node = by_node(&scores, q_count);
        let (mean, variance) = layout.latent(g, psi);
        let (mean_slot, variance_slot) = layout.latent[g];
        let latent_scores: Vec<(usize, Vec<f64>)> = [
            (
                mean_slot,
                nodes
                    .iter()
                    .map(|t| (t - mean) / variance)
                    .collect::<Vec<f64>>(),
            ),
            (
                variance_slot,
                nodes
                    .iter()
                    .map(|t| ((t - mean) * (t - mean) - variance) / (2.0 * variance * variance))
                    .collect(),
            ),
        ]
        .into_iter()
        .filter_map(|(slot, score)| match slot {
            Slot::Free(i) => {
                let bar: f64 = score.iter().zip(&log_prior).map(|(s, l)| s * l.exp()).sum();
                Some((i, score.iter().map(|s| s - bar).collect()))
            }
            Slot::Fixed(_) => None,
        })
        .collect();
        let patterns = &group.patterns;
        let n_patterns = patterns.len();
        let n_blocks = n_patterns.div_ceil(BLOCK);
        let parts = chunked_by(
            n_blocks,
            rayon::current_num_threads(),
            || vec![0.0; n_free * n_free],
            |acc, b| {
                let lo = b * BLOCK;
                let hi = ((b + 1) * BLOCK).min(n_patterns);
                let rows = hi - lo;
                let mut gradients = vec![0.0; rows * n_free];
                let mut values = vec![0.0; q_count];
                let pattern_rows = PatternRows::new(patterns, &tables, nodes, &log_prior);
                for (i, p) in (lo..hi).enumerate() {
                    pattern_rows.fill(p, &mut values);
                    posterior_in_place(&mut values, nodes);
                    let weight = patterns.counts[p].sqrt();
                    let row = &mut gradients[i * n_free..(i + 1) * n_free];
                    for (j, code) in patterns.responses(p) {
                        let free = &scores[j].0;
                        let (table, code) = (&scores_by_node[j], code as usize);
                        add_mean_score(row, free, table, code, q_count, 0, &values, weight);
                    }
                    for (index, score) in &latent_scores {
                        let s: f64 = values.iter().zip(score).map(|(w, s)| w * s).sum();
                        row[*index] += weight * s;
                    }
                }
                linalg::gemm_transposed_a(n_free, rows, n_free, &gradients, &gradients, 1.0, acc);
            },
        );
        let mut part = vec![0.0; n_free * n_free];
        for other in parts {
            for (x, y) in part.iter_mut().zip(&other) {
                *x += y;
            }
        }
        for (x, y) in information.iter_mut().zip(&part) {
            *x += y;
        }
    }
    add_prior_information(problem, psi, &mut information);
    let _ = FreeKind::LatentMean(0);
    Ok(information)
}

/// Inverts the information over the parameters not held at a bound. Returns the covariance
/// (n × n, zero rows and columns for held parameters), or `None` when the information is not
/// positive definite.
pub(crate) fn covariance(information: &[f64], held: &[bool]) -> Option<Vec<f64>> {
    let n = held.len();
    let kept: Vec<usize> = (0..n).filter(|&i| !held[i]).collect();
    let m = kept.len();
    let mut reduced = vec![0.0; m * m];
    for (x, &i) in kept.iter().enumerate() {
        for (y, &k) in kept.iter().enumerate() {
            reduced[x * m + y] = information[i * n + k];
        }
    }
    let inverse = linalg::inverse_positive_definite(&reduced, m)?;
    let mut full = vec![0.0; n * n];
    for (x, &i) in kept.iter().enumerate() {
        for (y, &k) in kept.iter().enumerate() {
            full[i * n + k] = inverse[x * m + y];
        }
    }
    Some(full)
}

#[cfg(test)]
mod tests {
    //! The analytic observed information against the numerical one, on small data.

    use super::*;
    use crate::prediction::estimation::{FitSettings, PriorSetting, StandardErrorMethod, setup};
    use crate::prediction::items::ItemType;
    use crate::prediction::simulation::{simulate_responses, typical_items};

    fn compare(matrix: &crate::prediction::ResponseMatrix, model: ItemType) {
        let settings = FitSettings {
            model,
            standard_errors: StandardErrorMethod::None,
            ..FitSettings::default()
        };
        let fit =
            crate::prediction::calibrate(matrix, &settings, &mut |_| {}, &AtomicBool::new(false))
                .unwrap();
        let problem = setup::problem(matrix, &settings).unwrap().problem;
        let psi = fit.estimates.clone();
        assert!(analytic_applies(&problem));
        let analytic = louis_information(
            &problem,
            &psi,
            &problem.e_step(&psi, false),
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        let numerical =
            numerical_information(&problem, &psi, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
        let n = psi.len();
        for i in 0..n {
            for k in 0..n {
                let (a, b) = (analytic[i * n + k], numerical[i * n + k]);
                let scale = numerical[i * n + i].abs().max(numerical[k * n + k].abs());
                assert!(
                    (a - b).abs() < 1e-4 * scale,
                    "{model:?} information [{i},{k}]: analytic {a} vs numerical {b}"
                );
            }
        }
    }

    /// The pairwise (any item type) Louis information against the numerical one.
    fn compare_pairwise(matrix: &crate::prediction::ResponseMatrix, settings: &FitSettings) {
        let settings = FitSettings {
            standard_errors: StandardErrorMethod::None,
            ..settings.clone()
        };
        let fit =
            crate::prediction::calibrate(matrix, &settings, &mut |_| {}, &AtomicBool::new(false))
                .unwrap();
        let problem = setup::problem(matrix, &settings).unwrap().problem;
        let psi = fit.estimates.clone();
        assert!(pairwise_applies(&problem));
        let analytic =
            pairwise_louis_information(&problem, &psi, &mut |_, _| {}, &AtomicBool::new(false))
                .unwrap();
        let numerical =
            numerical_information(&problem, &psi, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
        let n = psi.len();
        for i in 0..n {
            for k in 0..n {
                let (a, b) = (analytic[i * n + k], numerical[i * n + k]);
                let scale = numerical[i * n + i].abs().max(numerical[k * n + k].abs());
                assert!(
                    (a - b).abs() < 1e-4 * scale,
                    "{:?} information [{i},{k}]: pairwise {a} vs numerical {b}",
                    settings.model
                );
            }
        }
    }

    #[test]
    fn pairwise_information_equals_numerical_for_every_item_type() {
        let with = |model: ItemType| FitSettings {
            model,
            ..FitSettings::default()
        };
        let polytomous = crate::prediction::simulation::simulate_polytomous(6, 4, 600, 0.0, 11);
        compare_pairwise(&polytomous, &with(ItemType::Graded));
        compare_pairwise(&polytomous, &with(ItemType::Nominal));
        // Canonical items too (the linear route's territory), with shared thresholds.
        compare_pairwise(&polytomous, &with(ItemType::Rsm));
        let holed = crate::prediction::simulation::simulate_polytomous(6, 4, 600, 0.2, 12);
        compare_pairwise(&holed, &with(ItemType::Graded));
        let items = typical_items(8, 0.2, 13, "i");
        let (dichotomous, _) = simulate_responses(&items, 1500, 0.1, 14);
        // 3PL with mirt's default-free c and a prior on it.
        let mut three = with(ItemType::ThreePl);
        three.priors = vec![PriorSetting::parse("c=beta(5,17)").unwrap()];
        compare_pairwise(&dichotomous, &three);
        let (complete, _) = simulate_responses(&items, 1500, 0.0, 15);
        compare_pairwise(&complete, &three);
        let mut mixed = with(ItemType::TwoPl);
        mixed.item_models.insert("i1".into(), ItemType::ThreePl);
        mixed.priors = vec![PriorSetting::parse("c=beta(5,17)").unwrap()];
        compare_pairwise(&dichotomous, &mixed);
    }

    #[test]
    fn analytic_information_equals_numerical() {
        let items = typical_items(6, 0.0, 3, "i");
        let (complete, _) = simulate_responses(&items, 800, 0.0, 4);
        compare(&complete, ItemType::TwoPl);
        compare(&complete, ItemType::OnePl);
        compare(&complete, ItemType::Rasch);
        let (holed, _) = simulate_responses(&items, 800, 0.25, 5);
        compare(&holed, ItemType::TwoPl);
        let polytomous = crate::prediction::simulation::simulate_polytomous(6, 4, 600, 0.1, 7);
        compare(&polytomous, ItemType::Gpcm);
        compare(&polytomous, ItemType::Pcm);
        compare(&polytomous, ItemType::Rsm);
    }
}

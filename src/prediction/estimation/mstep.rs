//! The M-step: maximises the expected complete-data log-likelihood (plus log priors) given an
//! E-step's expected counts. The objective separates by item, so each item is solved on its own
//! by Fisher scoring with step halving; parameters shared between items (the Rasch family's
//! scale, the 1PL's slope, the rating scale's thresholds) are solved jointly with the items
//! that use them through the Schur complement of the shared block (the Hessian is an arrowhead:
//! items meet only through the shared parameters). Latent means and variances have closed forms.
//!
//! Bounds are respected by projected Newton with an active set (Bertsekas, 1982): a parameter
//! sitting at a bound with the gradient pushing outward is held there, and the step is taken in
//! the others — so a 3PL whose `c` sits at a bound still has its `a` and `d` maximised, rather
//! than the whole step being halved to nothing.
//!
//! For an item with parameters φ, categories k and nodes q the objective, gradient and Fisher
//! information are (full counts `r_kq`, `n_q = Σ_k r_kq`):
//! `Q = Σ_q Σ_k r_kq log P_k(θ_q)`, `∇Q = Σ_q Σ_k r_kq ∂P_k/P_k`,
//! `I = Σ_q n_q Σ_k ∂P_k ∂P_kᵀ / P_k`;
//! and for divide-by-total items from the linear statistics (`η_k = s_k θ + t_k`):
//! `Q = Σ_k (s_k Θ_k + t_k C_k) − Σ_q n_q log Z(θ_q)`,
//! `∇Q = Σ_k (∂s_k Θ_k + ∂t_k C_k) − Σ_q n_q E_P[∂η]`, `I = Σ_q n_q Cov_P(∂η)`.

use rayon::prelude::*;

use super::estep::{EStep, ItemStats};
use super::layout::{FreeKind, Owner, ParameterLayout, Slot};
use crate::prediction::items::divide_by_total;
use crate::prediction::linalg;

/// Whether `form` is a right/wrong item whose category 0 is the reference (no slope, intercept
/// or parameter derivative of its own): the form of the logistic items.
fn binary_canonical(form: &crate::prediction::items::LinearForm, k: usize, n: usize) -> bool {
    k == 2
        && form.s[0] == 0.0
        && form.t[0] == 0.0
        && form.ds[..n].iter().all(|&v| v == 0.0)
        && form.dt[..n].iter().all(|&v| v == 0.0)
}

/// Objective, gradient and Fisher information of one item in one group with respect to its
/// parameter vector φ (reported scale). `want` = false computes the objective only.
pub(crate) fn item_terms(
    layout: &ParameterLayout,
    j: usize,
    params: &[f64],
    stats: &ItemStats,
    nodes: &[f64],
    want: bool,
) -> (f64, Vec<f64>, Vec<f64>) {
    let item = &layout.items[j];
    let k = item.n_categories;
    let n = params.len();
    let mut gradient = vec![0.0; if want { n } else { 0 }];
    let mut information = vec![0.0; if want { n * n } else { 0 }];
    let mut value = 0.0;
    match stats {
        ItemStats::Linear {
            n: node_n,
            count,
            theta_sum,
        } => {
            let Some(form) = item.model.linear_form(params, k) else {
                return (f64::NEG_INFINITY, gradient, information);
            };
            for c in 0..k {
                value += form.s[c] * theta_sum[c] + form.t[c] * count[c];
                if want {
                    for m in 0..n {
                        gradient[m] +=
                            form.ds[c * n + m] * theta_sum[c] + form.dt[c * n + m] * count[c];
                    }
                }
            }
            if want && binary_canonical(&form, k, n) {
                // Right/wrong with category 0 the reference (2PL, 1PL, Rasch): with e_m(θ) the
                // derivative of η₁ = s₁θ + t₁ by parameter m, the gradient loses
                // Σ_q n_q P₁ e_m and the information is Σ_q n_q P₀P₁ e_a e_b, one exp and one
                // log per node.
                let (s1, t1) = (form.s[1], form.t[1]);
                let (ds1, dt1) = (&form.ds[n..2 * n], &form.dt[n..2 * n]);
                for (q, &theta) in nodes.iter().enumerate() {
                    let weight = node_n[q];
                    if weight <= 0.0 {
                        continue;
                    }
                    let z = s1 * theta + t1;
                    let tail = (-z.abs()).exp();
                    value -= weight * (z.max(0.0) + (1.0 + tail).ln());
                    let p1 = if z >= 0.0 {
                        1.0 / (1.0 + tail)
                    } else {
                        tail / (1.0 + tail)
                    };
                    let spread = weight * p1 * (1.0 - p1);
                    for a in 0..n {
                        let ea = ds1[a] * theta + dt1[a];
                        gradient[a] -= weight * p1 * ea;
                        if ea == 0.0 {
                            continue;
                        }
                        for b in a..n {
                            information[a * n + b] += spread * ea * (ds1[b] * theta + dt1[b]);
                        }
                    }
                }
            } else {
                let mut p = vec![0.0; k];
                let mut mean = vec![0.0; n];
                let mut e = vec![0.0; k * n];
                for (q, &theta) in nodes.iter().enumerate() {
                    let weight = node_n[q];
                    if weight <= 0.0 {
                        continue;
                    }
                    if !want {
                        value -= weight * divide_by_total::log_normaliser(&form.s, &form.t, theta);
                        continue;
                    }
                    value -= weight
                        * divide_by_total::probabilities_and_log_normaliser(
                            &form.s, &form.t, theta, &mut p,
                        );
                    mean.fill(0.0);
                    for c in 0..k {
                        for m in 0..n {
                            let v = form.ds[c * n + m] * theta + form.dt[c * n + m];
                            e[c * n + m] = v;
                            mean[m] += p[c] * v;
                        }
                    }
                    for m in 0..n {
                        gradient[m] -= weight * mean[m];
                    }
                    for c in 0..k {
                        let pc = p[c] * weight;
                        if pc == 0.0 {
                            continue;
                        }
                        for a in 0..n {
                            let ea = e[c * n + a] - mean[a];
                            if ea == 0.0 {
                                continue;
                            }
                            for b in a..n {
                                information[a * n + b] += pc * ea * (e[c * n + b] - mean[b]);
                            }
                        }
                    }
                }
            }
        }
        ItemStats::Full { r } => {
            let q_count = nodes.len();
            let mut p = vec![0.0; k];
            let mut dp = vec![0.0; k * n];
            for (q, &theta) in nodes.iter().enumerate() {
                let total: f64 = (0..k).map(|c| r[c * q_count + q]).sum();
                if total <= 0.0 {
                    continue;
                }
                if want {
                    item.model
                        .parameter_derivatives(params, theta, &mut p, &mut dp);
                } else {
                    item.model.probabilities(params, theta, &mut p);
                }
                for c in 0..k {
                    let rc = r[c * q_count + q];
                    let pc = p[c];
                    if pc <= 0.0 {
                        if rc > 0.0 {
                            return (f64::NEG_INFINITY, gradient, information);
                        }
                        continue;
                    }
                    value += rc * pc.ln();
                    if !want {
                        continue;
                    }
                    let row = &dp[c * n..(c + 1) * n];
                    let ratio = rc / pc;
                    let weight = total / pc;
                    for a in 0..n {
                        gradient[a] += ratio * row[a];
                        if row[a] == 0.0 {
                            continue;
                        }
                        for b in a..n {
                            information[a * n + b] += weight * row[a] * row[b];
                        }
                    }
                }
            }
        }
    }
    if want {
        for a in 0..n {
            for b in 0..a {
                information[a * n + b] = information[b * n + a];
            }
        }
    }
    (value, gradient, information)
}

/// The terms of item j summed over groups, in the space of the free parameters `indices`
/// (which must include every free parameter the item uses that is to move), plus the priors of
/// the free parameters item j owns.
pub(crate) struct Terms {
    pub value: f64,
    pub gradient: Vec<f64>,
    pub information: Vec<f64>,
}

pub(crate) fn item_free_terms(
    layout: &ParameterLayout,
    j: usize,
    psi: &[f64],
    estep: &[EStep],
    nodes: &[f64],
    indices: &[usize],
    want: bool,
) -> Terms {
    let n = indices.len();
    let mut terms = Terms {
        value: 0.0,
        gradient: vec![0.0; if want { n } else { 0 }],
        information: vec![0.0; if want { n * n } else { 0 }],
    };
    let position = |free: usize| indices.iter().position(|&i| i == free);
    for (g, group) in estep.iter().enumerate() {
        let params = layout.item_parameters(g, j, psi);
        let (value, gradient, information) =
            item_terms(layout, j, &params, &group.items[j], nodes, want);
        terms.value += value;
        if !want || !value.is_finite() {
            continue;
        }
        let slots = &layout.slots[g][j];
        // Chain rule φ_m = T(ψ_i): ∂/∂ψ = T'·∂/∂φ.
        let map: Vec<Option<(usize, f64)>> = slots
            .iter()
            .map(|slot| match *slot {
                Slot::Free(i) => {
                    position(i).map(|at| (at, layout.free[i].transform.derivative(psi[i])))
                }
                Slot::Fixed(_) => None,
            })
            .collect();
        let m_count = slots.len();
        for a in 0..m_count {
            let Some((pa, da)) = map[a] else { continue };
            terms.gradient[pa] += da * gradient[a];
            for b in 0..m_count {
                let Some((pb, db)) = map[b] else { continue };
                terms.information[pa * n + pb] += da * db * information[a * m_count + b];
            }
        }
    }
    for (at, &i) in indices.iter().enumerate() {
        let parameter = &layout.free[i];
        if parameter.owner != Owner::Item(j) {
            continue;
        }
        add_prior(layout, i, psi, at, n, &mut terms, want);
    }
    terms
}

/// Adds free parameter i's log prior (on the reported scale) to terms at position `at`.
fn add_prior(
    layout: &ParameterLayout,
    i: usize,
    psi: &[f64],
    at: usize,
    n: usize,
    terms: &mut Terms,
    want: bool,
) {
    let parameter = &layout.free[i];
    let Some(prior) = parameter.prior else { return };
    let value = parameter.transform.value(psi[i]);
    let (log_density, first, second) = prior.log_density(value);
    terms.value += log_density;
    if want {
        let d = parameter.transform.derivative(psi[i]);
        let d2 = parameter.transform.second_derivative(psi[i]);
        terms.gradient[at] += first * d;
        // −∂²/∂ψ² of the log prior; only its concave part helps the Newton system.
        let curvature = -(second * d * d + first * d2);
        terms.information[at * n + at] += curvature.max(0.0);
    }
}

/// Maximises one set of free parameters by projected Fisher scoring, the rest of ψ held.
/// `evaluate(psi, want)` gives the terms over `indices`.
fn maximise(
    layout: &ParameterLayout,
    psi: &mut [f64],
    indices: &[usize],
    evaluate: &dyn Fn(&[f64], bool) -> Terms,
) {
    let n = indices.len();
    if n == 0 {
        return;
    }
    for _ in 0..40 {
        let terms = evaluate(psi, true);
        if !terms.value.is_finite() {
            break;
        }
        // Active set: at a bound with the gradient pointing out.
        let active: Vec<bool> = indices
            .iter()
            .enumerate()
            .map(|(at, &i)| {
                let (lo, hi) = layout.free[i].bounds;
                let g = terms.gradient[at];
                (psi[i] <= lo + 1e-12 && g < 0.0) || (psi[i] >= hi - 1e-12 && g > 0.0)
            })
            .collect();
        let moving: Vec<usize> = (0..n).filter(|&a| !active[a]).collect();
        if moving.is_empty() {
            break;
        }
        let m = moving.len();
        let mut matrix = vec![0.0; m * m];
        let mut rhs = vec![0.0; m];
        let scale = moving
            .iter()
            .map(|&a| terms.information[a * n + a].abs())
            .fold(0.0, f64::max)
            .max(1e-8);
        for (x, &a) in moving.iter().enumerate() {
            rhs[x] = terms.gradient[a];
            for (y, &b) in moving.iter().enumerate() {
                matrix[x * m + y] = terms.information[a * n + b];
            }
            // A touch of ridge keeps near-singular items (few responses) stable.
            matrix[x * m + x] += 1e-10 * scale;
        }
        let Some(step) = linalg::solve(&matrix, &rhs, m) else {
            break;
        };
        let start: Vec<f64> = indices.iter().map(|&i| psi[i]).collect();
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            for (x, &a) in moving.iter().enumerate() {
                let i = indices[a];
                let (lo, hi) = layout.free[i].bounds;
                psi[i] = (start[a] + scale * step[x]).clamp(lo, hi);
            }
            let value = evaluate(psi, false).value;
            if value.is_finite() && value >= terms.value - 1e-12 * terms.value.abs().max(1.0) {
                accepted = true;
                break;
            }
            scale *= 0.5;
        }
        if !accepted {
            for (a, &i) in indices.iter().enumerate() {
                psi[i] = start[a];
            }
            break;
        }
        let change = indices
            .iter()
            .zip(&start)
            .fold(0.0f64, |m, (&i, s)| m.max((psi[i] - s).abs()));
        if change < 1e-10 {
            break;
        }
    }
}

/// The M-step: returns the new ψ.
pub(crate) fn m_step(
    layout: &ParameterLayout,
    psi: &[f64],
    estep: &[EStep],
    nodes: &[f64],
) -> Vec<f64> {
    let mut next = psi.to_vec();
    latent_step(layout, &mut next, estep, nodes);
    let n_items = layout.items.len();
    let joint: Vec<bool> = (0..n_items)
        .map(|j| {
            layout.item_free[j]
                .iter()
                .any(|&i| layout.free[i].owner == Owner::Shared)
        })
        .collect();
    // Items on their own, in parallel: each writes only its own parameters.
    let updates: Vec<(usize, Vec<(usize, f64)>)> = (0..n_items)
        .into_par_iter()
        .filter(|&j| !joint[j] && !layout.item_free[j].is_empty())
        .map(|j| {
            let indices = layout.item_free[j].clone();
            let mut local = next.clone();
            maximise(layout, &mut local, &indices, &|psi, want| {
                item_free_terms(layout, j, psi, estep, nodes, &indices, want)
            });
            (j, indices.iter().map(|&i| (i, local[i])).collect())
        })
        .collect();
    for (_, values) in updates {
        for (i, v) in values {
            next[i] = v;
        }
    }
    if !layout.shared.is_empty() {
        shared_step(layout, &mut next, estep, nodes, &joint);
    }
    next
}

/// Closed-form latent means and variances: the posterior moments of each group's expected
/// node counts on the fixed grid (mirt does the same; the nodes are reweighted, never moved).
fn latent_step(layout: &ParameterLayout, psi: &mut [f64], estep: &[EStep], nodes: &[f64]) {
    for (g, group) in estep.iter().enumerate() {
        let (mean_slot, variance_slot) = layout.latent[g];
        let total: f64 = group.node_counts.iter().sum();
        if total <= 0.0 {
            continue;
        }
        let mean = match mean_slot {
            Slot::Free(_) => {
                group
                    .node_counts
                    .iter()
                    .zip(nodes)
                    .map(|(n, t)| n * t)
                    .sum::<f64>()
                    / total
            }
            Slot::Fixed(v) => v,
        };
        if let Slot::Free(i) = mean_slot {
            psi[i] = mean.clamp(layout.free[i].bounds.0, layout.free[i].bounds.1);
        }
        if let Slot::Free(i) = variance_slot {
            let variance = group
                .node_counts
                .iter()
                .zip(nodes)
                .map(|(n, t)| n * (t - mean) * (t - mean))
                .sum::<f64>()
                / total;
            psi[i] = variance.clamp(layout.free[i].bounds.0, layout.free[i].bounds.1);
        }
        let _ = FreeKind::LatentMean(g);
    }
}

/// Newton on the shared parameters jointly with the own parameters of the items using them,
/// through the Schur complement of the shared block.
fn shared_step(
    layout: &ParameterLayout,
    psi: &mut [f64],
    estep: &[EStep],
    nodes: &[f64],
    joint: &[bool],
) {
    let shared = &layout.shared;
    let s = shared.len();
    let items: Vec<usize> = (0..layout.items.len()).filter(|&j| joint[j]).collect();
    let objective = |psi: &[f64]| -> f64 {
        let mut total: f64 = items
            .par_iter()
            .map(|&j| {
                item_free_terms(layout, j, psi, estep, nodes, &layout.item_free[j], false).value
            })
            .sum();
        for &i in shared {
            if let Some(prior) = layout.free[i].prior {
                total += prior.log_density(layout.free[i].transform.value(psi[i])).0;
            }
        }
        total
    };
    for _ in 0..40 {
        // Per item: terms over (own…, shared used…).
        let per_item: Vec<(Vec<usize>, Terms)> = items
            .par_iter()
            .map(|&j| {
                let indices = layout.item_free[j].clone();
                let terms = item_free_terms(layout, j, psi, estep, nodes, &indices, true);
                (indices, terms)
            })
            .collect();
        let mut value: f64 = per_item.iter().map(|(_, t)| t.value).sum();
        if !value.is_finite() {
            break;
        }
        let mut h_ss = vec![0.0; s * s];
        let mut g_s = vec![0.0; s];
        for (at, &i) in shared.iter().enumerate() {
            let mut terms = Terms {
                value: 0.0,
                gradient: vec![0.0; 1],
                information: vec![0.0; 1],
            };
            add_prior(layout, i, psi, 0, 1, &mut terms, true);
            value += terms.value;
            g_s[at] += terms.gradient[0];
            h_ss[at * s + at] += terms.information[0];
        }
        let shared_position = |i: usize| shared.iter().position(|&x| x == i);
        // Per item: own block solves.
        struct Local {
            own: Vec<usize>,
            x_g: Vec<f64>,
            x_s: Vec<f64>,
            h_ls: Vec<f64>,
        }
        let mut locals = Vec::with_capacity(per_item.len());
        let mut failed = false;
        for (indices, terms) in &per_item {
            let n = indices.len();
            let own: Vec<usize> = (0..n)
                .filter(|&a| layout.free[indices[a]].owner != Owner::Shared)
                .collect();
            let used: Vec<(usize, usize)> = (0..n)
                .filter_map(|a| shared_position(indices[a]).map(|p| (a, p)))
                .collect();
            for &(a, pa) in &used {
                g_s[pa] += terms.gradient[a];
                for &(b, pb) in &used {
                    h_ss[pa * s + pb] += terms.information[a * n + b];
                }
            }
            let l = own.len();
            let mut h_ll = vec![0.0; l * l];
            let mut g_l = vec![0.0; l];
            // H_LS (l × s).
            let mut h_ls = vec![0.0; l * s];
            for (x, &a) in own.iter().enumerate() {
                g_l[x] = terms.gradient[a];
                for (y, &b) in own.iter().enumerate() {
                    h_ll[x * l + y] = terms.information[a * n + b];
                }
                h_ll[x * l + x] += 1e-10 * terms.information[a * n + a].abs().max(1e-8);
                for &(b, pb) in &used {
                    h_ls[x * s + pb] = terms.information[a * n + b];
                }
            }
            let Some(x_g) = linalg::solve(&h_ll, &g_l, l) else {
                failed = true;
                break;
            };
            // X_S = H_LL⁻¹ H_LS, column by column.
            let mut x_s = vec![0.0; l * s];
            for col in 0..s {
                let column: Vec<f64> = (0..l).map(|x| h_ls[x * s + col]).collect();
                if column.iter().all(|v| *v == 0.0) {
                    continue;
                }
                let Some(solved) = linalg::solve(&h_ll, &column, l) else {
                    failed = true;
                    break;
                };
                for x in 0..l {
                    x_s[x * s + col] = solved[x];
                }
            }
            let own_free: Vec<usize> = own.iter().map(|&a| indices[a]).collect();
            locals.push(Local {
                own: own_free,
                x_g,
                x_s,
                h_ls,
            });
        }
        if failed {
            break;
        }
        // Schur complement A = H_SS − Σ H_SL X_S, b = g_S − Σ H_SL X_g.
        let mut a = h_ss.clone();
        let mut b = g_s.clone();
        for local in &locals {
            let l = local.own.len();
            for p in 0..s {
                for x in 0..l {
                    let h = local.h_ls[x * s + p];
                    if h == 0.0 {
                        continue;
                    }
                    b[p] -= h * local.x_g[x];
                    for q in 0..s {
                        a[p * s + q] -= h * local.x_s[x * s + q];
                    }
                }
            }
        }
        let scale = (0..s)
            .map(|p| a[p * s + p].abs())
            .fold(0.0, f64::max)
            .max(1e-8);
        for p in 0..s {
            a[p * s + p] += 1e-10 * scale;
        }
        let Some(step_s) = linalg::solve(&a, &b, s) else {
            break;
        };
        let mut steps: Vec<(usize, f64)> =
            shared.iter().copied().zip(step_s.iter().copied()).collect();
        for local in &locals {
            let l = local.own.len();
            for x in 0..l {
                let mut step = local.x_g[x];
                for q in 0..s {
                    step -= local.x_s[x * s + q] * step_s[q];
                }
                steps.push((local.own[x], step));
            }
        }
        let start: Vec<(usize, f64)> = steps.iter().map(|&(i, _)| (i, psi[i])).collect();
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            for (&(i, step), &(_, s0)) in steps.iter().zip(&start) {
                let (lo, hi) = layout.free[i].bounds;
                psi[i] = (s0 + scale * step).clamp(lo, hi);
            }
            let candidate = objective(psi);
            if candidate.is_finite() && candidate >= value - 1e-12 * value.abs().max(1.0) {
                accepted = true;
                break;
            }
            scale *= 0.5;
        }
        if !accepted {
            for &(i, s0) in &start {
                psi[i] = s0;
            }
            break;
        }
        let change = start
            .iter()
            .fold(0.0f64, |m, &(i, s0)| m.max((psi[i] - s0).abs()));
        if change < 1e-10 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::estimation::{FitSettings, setup};
    use crate::prediction::items::ItemType;
    use crate::prediction::model::ItemParameters;
    use crate::prediction::simulation::simulate_responses;

    /// The right/wrong shortcut's gradient and information are the derivatives of the general
    /// objective (the value alone always takes the general route).
    #[test]
    fn right_wrong_terms_are_the_objective_s_derivatives() {
        let items: Vec<ItemParameters> = (0..6)
            .map(|j| {
                ItemParameters::dichotomous(
                    format!("q{j}"),
                    0.8 + 0.2 * j as f64,
                    -1.0 + 0.4 * j as f64,
                    0.0,
                    1.0,
                )
            })
            .collect();
        let (matrix, _) = simulate_responses(&items, 500, 0.1, 3);
        for model in [ItemType::TwoPl, ItemType::Rasch] {
            let settings = FitSettings {
                model,
                ..FitSettings::default()
            };
            let setup = setup::problem(&matrix, &settings).unwrap();
            let problem = &setup.problem;
            let psi = setup.start_values();
            let estep = problem.e_step(&psi, false);
            let layout = &problem.layout;
            let nodes = problem.nodes();
            for j in 0..layout.items.len() {
                let params = layout.item_parameters(0, j, &psi);
                let stats = &estep[0].items[j];
                let (value, gradient, information) =
                    item_terms(layout, j, &params, stats, nodes, true);
                let n = params.len();
                let objective = |p: &[f64]| item_terms(layout, j, p, stats, nodes, false).0;
                assert!((value - objective(&params)).abs() < 1e-9 * value.abs());
                let h = 1e-5;
                for a in 0..n {
                    let mut up = params.clone();
                    let mut down = params.clone();
                    up[a] += h;
                    down[a] -= h;
                    let numeric = (objective(&up) - objective(&down)) / (2.0 * h);
                    assert!(
                        (gradient[a] - numeric).abs() < 1e-5 * numeric.abs().max(1.0),
                        "{model:?} item {j} ∂{a}: {} vs {numeric}",
                        gradient[a]
                    );
                    let g_up = item_terms(layout, j, &up, stats, nodes, true).1;
                    let g_down = item_terms(layout, j, &down, stats, nodes, true).1;
                    for b in 0..n {
                        let numeric = -(g_up[b] - g_down[b]) / (2.0 * h);
                        assert!(
                            (information[a * n + b] - numeric).abs()
                                < 1e-5 * numeric.abs().max(1.0),
                            "{model:?} item {j} I[{a},{b}]: {} vs {numeric}",
                            information[a * n + b]
                        );
                    }
                }
            }
        }
    }
}

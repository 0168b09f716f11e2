//! Marginal maximum likelihood calibration by EM over a fixed quadrature of the N(0, 1) ability
//! distribution (Bock & Aitkin, 1981), with SQUAREM acceleration (Varadhan & Roland, 2008),
//! standard errors from a numerical Hessian of the marginal log-likelihood, and the E-step written
//! as dense array work so that 100,000 persons × 100 items take well under a second.
//!
//! The E-step never calls `exp` per person × item × node. For models without guessing the
//! log-likelihood of pattern p at node q is `θ_q·s_p + t_p − Σ_{j observed} log(1 + exp(a_j θ_q + d_j))`
//! with `s_p = Σ x_pj a_j`, `t_p = Σ x_pj d_j`, and since the 2PL is an exponential family the
//! M-step needs only `Σ_q r_jq θ_q = Σ_p x_pj E[θ | p]` and `Σ_q r_jq = Σ_p x_pj`, not the full
//! expected counts. Missing responses are handled sparsely (their softplus terms are added back
//! and their node counts subtracted). With guessing, both the log-likelihood and the expected
//! counts are matrix products computed block by block with a SIMD GEMM.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg;
use super::model::{ModelKind, logistic, softplus};
use super::quadrature::Quadrature;
use super::responses::{MISSING, Patterns, ResponseMatrix};
use super::{PredictionError, Progress};

/// How the lower asymptote `c` of the 3PL is treated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Guessing {
    /// Estimated with a Beta(alpha, beta) prior (the default Beta(5, 17) has mean 0.23).
    Prior {
        /// First shape parameter.
        alpha: f64,
        /// Second shape parameter.
        beta: f64,
    },
    /// Fixed at the given value for every item.
    Fixed {
        /// The value of `c`, in [0, 1).
        value: f64,
    },
}

impl Default for Guessing {
    fn default() -> Self {
        Guessing::Prior {
            alpha: 5.0,
            beta: 17.0,
        }
    }
}

/// How standard errors of the item parameters are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StandardErrorMethod {
    /// Inverse of the numerical Hessian (central differences of the analytic gradient, Fisher's
    /// identity) of the marginal log-likelihood (log-posterior when a prior is used).
    #[default]
    Hessian,
    /// Inverse of the cross-product ("empirical", XPD) information `Σ_p n_p g_p g_pᵀ`, `g_p` the
    /// gradient of pattern p's log marginal likelihood: one pass over the data instead of two
    /// E-steps per parameter, so far quicker for large tests; asymptotically the same, a little
    /// noisier in small samples.
    #[serde(rename = "crossprod")]
    CrossProduct,
    /// No standard errors.
    None,
}

impl StandardErrorMethod {
    /// The name shown in output.
    pub fn describe(self) -> &'static str {
        match self {
            StandardErrorMethod::Hessian => {
                "numerical Hessian of the marginal log-likelihood (central differences of the analytic gradient)"
            }
            StandardErrorMethod::CrossProduct => {
                "cross-product (empirical) information of the marginal log-likelihood"
            }
            StandardErrorMethod::None => "not computed",
        }
    }
}

/// Settings of a calibration. The defaults follow mirt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitSettings {
    /// The model to calibrate.
    pub model: ModelKind,
    /// Number of quadrature nodes (mirt: 61).
    pub quadrature_points: usize,
    /// Nodes span `[−theta_limit, theta_limit]` (mirt: 6).
    pub theta_limit: f64,
    /// Stop when the largest parameter change of an EM cycle is below this (mirt: 1e-4).
    pub tolerance: f64,
    /// At most this many EM cycles (E-steps) (mirt: 500).
    pub max_cycles: usize,
    /// Scaling constant D: 1 (logistic metric) or 1.702 (normal-ogive metric).
    pub scaling: f64,
    /// The 3PL's lower asymptote: prior or fixed value.
    pub guessing: Guessing,
    /// How standard errors are computed.
    pub standard_errors: StandardErrorMethod,
    /// SQUAREM acceleration of EM; the fixed point (the estimates) is the same.
    pub acceleration: bool,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            model: ModelKind::TwoPl,
            quadrature_points: 61,
            theta_limit: 6.0,
            tolerance: 1e-4,
            max_cycles: 500,
            scaling: 1.0,
            guessing: Guessing::default(),
            standard_errors: StandardErrorMethod::Hessian,
            acceleration: true,
        }
    }
}

impl FitSettings {
    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<(), PredictionError> {
        let bad = |what: String| Err(PredictionError::InvalidSetting(what));
        if !(5..=401).contains(&self.quadrature_points) {
            return bad(format!(
                "quadrature points must be between 5 and 401, got {}",
                self.quadrature_points
            ));
        }
        if !(self.theta_limit.is_finite() && self.theta_limit >= 1.0 && self.theta_limit <= 20.0) {
            return bad(format!(
                "theta limit must be between 1 and 20, got {}",
                self.theta_limit
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad(format!(
                "tolerance must be a positive number, got {}",
                self.tolerance
            ));
        }
        if self.max_cycles == 0 {
            return bad("max cycles must be at least 1".into());
        }
        if !(self.scaling.is_finite() && self.scaling > 0.0) {
            return bad(format!(
                "scaling D must be a positive number (1 or 1.702), got {}",
                self.scaling
            ));
        }
        match self.guessing {
            Guessing::Prior { alpha, beta } => {
                if !(alpha >= 1.0 && beta >= 1.0 && alpha.is_finite() && beta.is_finite()) {
                    return bad(format!(
                        "guessing prior Beta({alpha}, {beta}): both shapes must be at least 1"
                    ));
                }
            }
            Guessing::Fixed { value } => {
                if !(0.0..1.0).contains(&value) {
                    return bad(format!("fixed guessing c must be in [0, 1), got {value}"));
                }
            }
        }
        Ok(())
    }
}

/// A fitted item, in IRT form and slope-intercept form, with standard errors where the
/// parameter was estimated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedItem {
    /// Item name.
    pub item: String,
    /// Discrimination `a` (1 for the Rasch model).
    pub a: f64,
    /// Difficulty `b`.
    pub b: f64,
    /// Lower asymptote `c` (0 without guessing).
    pub c: f64,
    /// Intercept `d` on the logit scale: the logit is `D·a·θ + d`.
    pub d: f64,
    /// Standard error of `a` (`None` when `a` is fixed or SEs were not computed).
    pub a_se: Option<f64>,
    /// Standard error of `b`.
    pub b_se: Option<f64>,
    /// Standard error of `c` (`None` when `c` is fixed or absent).
    pub c_se: Option<f64>,
    /// Standard error of `d`.
    pub d_se: Option<f64>,
}

/// An item left out of the calibration, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExcludedItem {
    /// Item name.
    pub item: String,
    /// Why it was left out.
    pub reason: String,
}

/// The result of a calibration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Calibration {
    /// The settings used.
    pub settings: FitSettings,
    /// The calibrated items, in data order.
    pub items: Vec<FittedItem>,
    /// Items left out, with the reason.
    pub excluded_items: Vec<ExcludedItem>,
    /// Variance of the latent trait (estimated for the Rasch model, 1 otherwise).
    pub latent_variance: f64,
    /// Standard error of the latent variance (Rasch only).
    pub latent_variance_se: Option<f64>,
    /// Marginal log-likelihood at the estimates (without the guessing prior).
    pub log_likelihood: f64,
    /// Akaike information criterion, `−2·logL + 2k`.
    pub aic: f64,
    /// Bayesian information criterion, `−2·logL + k·ln N`.
    pub bic: f64,
    /// Number of free parameters k.
    pub parameters: usize,
    /// EM cycles run (E-steps, including those of acceleration).
    pub cycles: usize,
    /// Whether the largest parameter change fell below the tolerance.
    pub converged: bool,
    /// Log-likelihood at every E-step, in order.
    pub log_likelihood_history: Vec<f64>,
    /// How the standard errors were computed.
    pub standard_errors: StandardErrorMethod,
    /// Persons in the calibration (with at least one response to an included item).
    pub n_persons: usize,
    /// Persons left out because they answered none of the included items.
    pub n_persons_without_responses: usize,
    /// Distinct response patterns.
    pub n_patterns: usize,
    /// Warnings for the user (non-convergence, excluded items, failed standard errors, …).
    pub warnings: Vec<String>,
}

impl Calibration {
    /// The calibrated items as item curves on the model's θ metric (N(0, 1) prior, Rasch
    /// included: its θ metric has variance `latent_variance`, see [`Calibration::theta_scale`]).
    pub fn item_parameters(&self) -> Vec<super::model::ItemParameters> {
        self.items
            .iter()
            .map(|i| super::model::ItemParameters {
                item: i.item.clone(),
                a: i.a,
                b: i.b,
                c: i.c,
            })
            .collect()
    }

    /// Standard deviation of θ in the reported metric (√latent variance).
    pub fn theta_scale(&self) -> f64 {
        self.latent_variance.sqrt()
    }
}

/// One item's curve on the logit scale: `P = c + (1 − c)·logistic(slope·θ + intercept)`, with θ
/// on the N(0, 1) metric of the estimation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Curve {
    pub slope: f64,
    pub intercept: f64,
    pub guessing: f64,
}

const SLOPE_BOUND: f64 = 25.0;
const INTERCEPT_BOUND: f64 = 40.0;
const GUESSING_MIN: f64 = 1e-6;
const GUESSING_MAX: f64 = 0.95;

/// Where each item's parameters sit in the free-parameter vector.
#[derive(Clone, Debug)]
struct Layout {
    model: ModelKind,
    n_items: usize,
    fixed_guessing: Option<f64>,
    guessing_prior: Option<(f64, f64)>,
}

impl Layout {
    fn new(settings: &FitSettings, n_items: usize) -> Layout {
        let (fixed_guessing, guessing_prior) = match (settings.model, settings.guessing) {
            (ModelKind::ThreePl, Guessing::Prior { alpha, beta }) => (None, Some((alpha, beta))),
            (ModelKind::ThreePl, Guessing::Fixed { value }) => (Some(value), None),
            _ => (Some(0.0), None),
        };
        Layout {
            model: settings.model,
            n_items,
            fixed_guessing,
            guessing_prior,
        }
    }

    fn common_slope(&self) -> bool {
        matches!(self.model, ModelKind::Rasch | ModelKind::OnePl)
    }

    /// Free parameters per item when slopes are per item: 2 or 3.
    fn per_item(&self) -> usize {
        if self.fixed_guessing.is_some() { 2 } else { 3 }
    }

    fn n_params(&self) -> usize {
        if self.common_slope() {
            1 + self.n_items
        } else {
            self.per_item() * self.n_items
        }
    }

    fn curves(&self, params: &[f64]) -> Vec<Curve> {
        (0..self.n_items)
            .map(|j| {
                if self.common_slope() {
                    Curve {
                        slope: params[0],
                        intercept: params[1 + j],
                        guessing: 0.0,
                    }
                } else {
                    let base = j * self.per_item();
                    Curve {
                        slope: params[base],
                        intercept: params[base + 1],
                        guessing: match self.fixed_guessing {
                            Some(c) => c,
                            None => params[base + 2],
                        },
                    }
                }
            })
            .collect()
    }

    /// Keeps extrapolated parameters inside the region where the model is defined.
    fn clamp(&self, params: &mut [f64]) {
        if self.common_slope() {
            params[0] = params[0].clamp(-SLOPE_BOUND, SLOPE_BOUND);
            for d in &mut params[1..] {
                *d = d.clamp(-INTERCEPT_BOUND, INTERCEPT_BOUND);
            }
        } else {
            let k = self.per_item();
            for item in params.chunks_exact_mut(k) {
                item[0] = item[0].clamp(-SLOPE_BOUND, SLOPE_BOUND);
                item[1] = item[1].clamp(-INTERCEPT_BOUND, INTERCEPT_BOUND);
                if k == 3 {
                    item[2] = item[2].clamp(GUESSING_MIN, GUESSING_MAX);
                }
            }
        }
    }

    /// Whether the E-step must produce the full expected counts r_jq (models with guessing).
    fn needs_full_counts(&self) -> bool {
        self.fixed_guessing != Some(0.0)
    }
}

/// Sufficient statistics of one E-step.
pub(crate) struct EStep {
    /// Marginal log-likelihood Σ_p n_p log f(x_p).
    pub log_likelihood: f64,
    /// Expected number of persons at node q who answered item j (J×Q).
    pub expected_n: Vec<f64>,
    /// Σ_q r_jq θ_q: expected θ-weighted number correct per item.
    pub r1: Vec<f64>,
    /// Σ_q r_jq: number correct per item.
    pub r0: Vec<f64>,
    /// Expected number correct at node q (J×Q), produced for models with guessing.
    pub expected_r: Option<Vec<f64>>,
    /// Posterior mean and standard deviation of θ per pattern, when asked for.
    pub moments: Option<Vec<(f64, f64)>>,
}

/// Accumulators of one block of patterns.
struct BlockStats {
    log_likelihood: f64,
    node_counts: Vec<f64>,
    missing_counts: Vec<f64>,
    r1: Vec<f64>,
    r0: Vec<f64>,
    expected_r: Vec<f64>,
    expected_n: Vec<f64>,
    moments: Vec<(f64, f64)>,
}

const BLOCK: usize = 512;

/// `exp(x)` for `x ≤ 0`, branch-free so that loops over the nodes vectorise: `x = n·ln 2 + r`
/// with |r| ≤ ln 2 / 2, `exp(r)` by its Taylor series to degree 10 (relative error below
/// 3e-13, far below what the posterior weights need), and `2^n` assembled in the exponent bits (n from the round-to-nearest "magic number"
/// trick, Muller, *Elementary Functions*, 2016, §11). Values below −700 give 0.
#[inline(always)]
fn exp_non_positive(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    // fdlibm's split of ln 2: the high part has trailing zero bits, so n · LN2_HI is exact.
    #[allow(clippy::excessive_precision)]
    const LN2_HI: f64 = 6.931_471_803_691_238_2e-1;
    #[allow(clippy::excessive_precision)]
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let x = x.max(-700.0);
    let shifted = x * std::f64::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Horner form of Σ r^k / k!, k = 0…10.
    let mut p = 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low mantissa bits of `shifted` hold n; adding the exponent bias and shifting puts
    // 2^n's exponent in place (−1022 ≤ n ≤ 0 here).
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// Turns one pattern's log-likelihood over the nodes into posterior weights (in place), and
/// returns (log marginal likelihood, posterior mean, posterior SD). `values` holds
/// log f(x | θ_q) + log prior_q on entry and the posterior on exit.
#[inline(always)]
fn posterior_in_place(values: &mut [f64], nodes: &[f64]) -> (f64, f64, f64) {
    let max = values.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    for v in values.iter_mut() {
        *v = exp_non_positive(*v - max);
    }
    let total: f64 = values.iter().sum();
    let inverse = 1.0 / total;
    let mut mean = 0.0;
    let mut second = 0.0;
    for (v, &t) in values.iter_mut().zip(nodes) {
        *v *= inverse;
        mean += *v * t;
        second += *v * t * t;
    }
    let variance = (second - mean * mean).max(0.0);
    (max + total.ln(), mean, variance.sqrt())
}

/// What the E-step of a model without guessing needs for a block of patterns.
struct LinearBlock<'a> {
    patterns: &'a Patterns,
    slopes: &'a [f64],
    intercepts: &'a [f64],
    nodes: &'a [f64],
    /// log prior − Σ_j softplus(η_jq), per node.
    base: &'a [f64],
    /// softplus(η_jq), J×Q, added back for missing responses.
    softplus: &'a [f64],
    want_moments: bool,
}

impl LinearBlock<'_> {
    /// Runs patterns `lo..hi` with the widest SIMD the processor has: the same code compiled
    /// for AVX2 + FMA when available (runtime detection), SSE2 otherwise.
    fn run(&self, lo: usize, hi: usize, stats: &mut BlockStats) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            unsafe { self.run_avx2(lo, hi, stats) };
            return;
        }
        self.run_portable(lo, hi, stats);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, lo: usize, hi: usize, stats: &mut BlockStats) {
        self.run_portable(lo, hi, stats);
    }

    #[inline(always)]
    fn run_portable(&self, lo: usize, hi: usize, stats: &mut BlockStats) {
        let n_nodes = self.nodes.len();
        let mut values = vec![0.0; n_nodes];
        for p in lo..hi {
            let count = self.patterns.counts[p];
            let row = self.patterns.row(p);
            // Branch-free sums (the 0/1 pattern is unpredictable), which vectorise.
            let mut s = 0.0;
            let mut t = 0.0;
            for ((&code, &slope), &intercept) in row.iter().zip(self.slopes).zip(self.intercepts) {
                let x = f64::from(u8::from(code == 1));
                s += x * slope;
                t += x * intercept;
            }
            for ((v, &theta), &b) in values.iter_mut().zip(self.nodes).zip(self.base) {
                *v = s * theta + b;
            }
            let missing = self.patterns.missing(p);
            for &j in missing {
                let sp = &self.softplus[j as usize * n_nodes..(j as usize + 1) * n_nodes];
                for (v, s) in values.iter_mut().zip(sp) {
                    *v += s;
                }
            }
            let (ll, mean, sd) = posterior_in_place(&mut values, self.nodes);
            stats.log_likelihood += count * (ll + t);
            if self.want_moments {
                stats.moments.push((mean, sd));
            }
            for (acc, v) in stats.node_counts.iter_mut().zip(&values) {
                *acc += count * v;
            }
            for &j in missing {
                let acc =
                    &mut stats.missing_counts[j as usize * n_nodes..(j as usize + 1) * n_nodes];
                for (a, v) in acc.iter_mut().zip(&values) {
                    *a += count * v;
                }
            }
            let weighted_mean = count * mean;
            for ((&code, r1), r0) in row.iter().zip(&mut stats.r1).zip(&mut stats.r0) {
                let x = f64::from(u8::from(code == 1));
                *r1 += x * weighted_mean;
                *r0 += x * count;
            }
        }
    }
}

/// The E-step: posterior over the quadrature for every pattern and the expected counts the
/// M-step needs. `full_counts` asks for r_jq (J×Q) even for curves without guessing.
pub(crate) fn e_step(
    patterns: &Patterns,
    curves: &[Curve],
    quadrature: &Quadrature,
    full_counts: bool,
    want_moments: bool,
) -> EStep {
    let n_items = curves.len();
    let n_nodes = quadrature.len();
    let nodes = &quadrature.nodes;
    let log_prior: Vec<f64> = quadrature.weights.iter().map(|w| w.ln()).collect();
    let n_patterns = patterns.len();
    let n_blocks = n_patterns.div_ceil(BLOCK);
    let guessing = full_counts || curves.iter().any(|c| c.guessing != 0.0);

    // Per item and node: softplus(η) (linear path) or log-odds and log(1 − P) (GEMM path).
    let mut table_a = vec![0.0; n_items * n_nodes];
    let mut table_b = vec![0.0; n_items * n_nodes];
    for (j, curve) in curves.iter().enumerate() {
        for (q, &theta) in nodes.iter().enumerate() {
            let eta = curve.slope * theta + curve.intercept;
            let sp = softplus(eta);
            if guessing {
                // log(1 − P) = log(1 − c) − softplus(η); log P = log(c + (1 − c)·ψ).
                let log_fail = (1.0 - curve.guessing).ln() - sp;
                let log_success = if curve.guessing > 0.0 {
                    (curve.guessing + (1.0 - curve.guessing) * logistic(eta)).ln()
                } else {
                    eta - sp
                };
                table_a[j * n_nodes + q] = log_success - log_fail;
                table_b[j * n_nodes + q] = log_fail;
            } else {
                table_a[j * n_nodes + q] = sp;
            }
        }
    }
    // Linear path: log f(x_p | θ_q) = s_p θ_q + t_p − Σ_j sp_jq + Σ_{j missing} sp_jq.
    let mut base = log_prior.clone();
    if !guessing {
        for j in 0..n_items {
            for q in 0..n_nodes {
                base[q] -= table_a[j * n_nodes + q];
            }
        }
    }
    let has_missing = patterns.has_missing();
    let slopes: Vec<f64> = curves.iter().map(|c| c.slope).collect();
    let intercepts: Vec<f64> = curves.iter().map(|c| c.intercept).collect();

    let block = |b: usize| -> BlockStats {
        let lo = b * BLOCK;
        let hi = ((b + 1) * BLOCK).min(n_patterns);
        let rows = hi - lo;
        let mut stats = BlockStats {
            log_likelihood: 0.0,
            node_counts: vec![0.0; n_nodes],
            missing_counts: if has_missing && !guessing {
                vec![0.0; n_items * n_nodes]
            } else {
                Vec::new()
            },
            r1: vec![0.0; n_items],
            r0: vec![0.0; n_items],
            expected_r: if guessing {
                vec![0.0; n_items * n_nodes]
            } else {
                Vec::new()
            },
            expected_n: if guessing {
                vec![0.0; n_items * n_nodes]
            } else {
                Vec::new()
            },
            moments: if want_moments {
                Vec::with_capacity(rows)
            } else {
                Vec::new()
            },
        };
        if guessing {
            let mut x = vec![0.0; rows * n_items];
            let mut observed = vec![0.0; rows * n_items];
            for (i, p) in (lo..hi).enumerate() {
                for (j, &code) in patterns.row(p).iter().enumerate() {
                    x[i * n_items + j] = f64::from(code == 1);
                    observed[i * n_items + j] = f64::from(code != MISSING);
                }
            }
            let mut values = vec![0.0; rows * n_nodes];
            linalg::gemm(rows, n_items, n_nodes, &x, &table_a, 0.0, &mut values);
            linalg::gemm(
                rows,
                n_items,
                n_nodes,
                &observed,
                &table_b,
                1.0,
                &mut values,
            );
            for (i, p) in (lo..hi).enumerate() {
                let count = patterns.counts[p];
                let row = &mut values[i * n_nodes..(i + 1) * n_nodes];
                for (v, lp) in row.iter_mut().zip(&log_prior) {
                    *v += lp;
                }
                let (ll, mean, sd) = posterior_in_place(row, nodes);
                stats.log_likelihood += count * ll;
                if want_moments {
                    stats.moments.push((mean, sd));
                }
                for v in row.iter_mut() {
                    *v *= count;
                }
            }
            linalg::gemm_transposed_a(
                n_items,
                rows,
                n_nodes,
                &x,
                &values,
                0.0,
                &mut stats.expected_r,
            );
            linalg::gemm_transposed_a(
                n_items,
                rows,
                n_nodes,
                &observed,
                &values,
                0.0,
                &mut stats.expected_n,
            );
        } else {
            let context = LinearBlock {
                patterns,
                slopes: &slopes,
                intercepts: &intercepts,
                nodes,
                base: &base,
                softplus: &table_a,
                want_moments,
            };
            context.run(lo, hi, &mut stats);
        }
        stats
    };

    let blocks: Vec<BlockStats> = (0..n_blocks).into_par_iter().map(block).collect();

    let mut log_likelihood = 0.0;
    let mut node_counts = vec![0.0; n_nodes];
    let mut missing_counts = vec![0.0; n_items * n_nodes];
    let mut r1 = vec![0.0; n_items];
    let mut r0 = vec![0.0; n_items];
    let mut expected_r = vec![0.0; if guessing { n_items * n_nodes } else { 0 }];
    let mut expected_n = vec![0.0; n_items * n_nodes];
    let mut moments = Vec::with_capacity(if want_moments { n_patterns } else { 0 });
    for stats in blocks {
        log_likelihood += stats.log_likelihood;
        add_into(&mut node_counts, &stats.node_counts);
        add_into(&mut missing_counts, &stats.missing_counts);
        add_into(&mut r1, &stats.r1);
        add_into(&mut r0, &stats.r0);
        add_into(&mut expected_r, &stats.expected_r);
        add_into(&mut expected_n, &stats.expected_n);
        moments.extend(stats.moments);
    }
    if guessing {
        for j in 0..n_items {
            let r = &expected_r[j * n_nodes..(j + 1) * n_nodes];
            r1[j] = r.iter().zip(nodes).map(|(r, t)| r * t).sum();
            r0[j] = r.iter().sum();
        }
    } else {
        for j in 0..n_items {
            for q in 0..n_nodes {
                expected_n[j * n_nodes + q] = node_counts[q] - missing_counts[j * n_nodes + q];
            }
        }
    }
    EStep {
        log_likelihood,
        expected_n,
        r1,
        r0,
        expected_r: guessing.then_some(expected_r),
        moments: want_moments.then_some(moments),
    }
}

fn add_into(total: &mut [f64], part: &[f64]) {
    if part.len() == total.len() {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
}

/// Gradient and information (negative expected Hessian) of one item's expected complete-data
/// log-likelihood (plus the log prior on c) in (slope, intercept[, guessing]).
struct ItemDerivatives {
    gradient: [f64; 3],
    information: [[f64; 3]; 3],
    objective: f64,
}

/// The M-step objective of one item and its derivatives. `r` is the item's expected correct
/// counts per node (guessing path) or `None` for the linear path, where `r1`, `r0` suffice.
#[allow(clippy::too_many_arguments)]
fn item_derivatives(
    curve: Curve,
    estimate_guessing: bool,
    prior: Option<(f64, f64)>,
    nodes: &[f64],
    expected_n: &[f64],
    expected_r: Option<&[f64]>,
    r1: f64,
    r0: f64,
) -> ItemDerivatives {
    let mut gradient = [0.0; 3];
    let mut information = [[0.0; 3]; 3];
    let mut objective = 0.0;
    match expected_r {
        None => {
            // Canonical link: gradient (r1 − Σ n P θ, r0 − Σ n P), information Σ n P(1−P) z zᵀ.
            objective = curve.slope * r1 + curve.intercept * r0;
            gradient[0] = r1;
            gradient[1] = r0;
            for (q, &theta) in nodes.iter().enumerate() {
                let n = expected_n[q];
                let eta = curve.slope * theta + curve.intercept;
                let p = logistic(eta);
                objective -= n * softplus(eta);
                gradient[0] -= n * p * theta;
                gradient[1] -= n * p;
                let w = n * p * (1.0 - p);
                information[0][0] += w * theta * theta;
                information[0][1] += w * theta;
                information[1][1] += w;
            }
        }
        Some(r) => {
            let c = curve.guessing;
            for (q, &theta) in nodes.iter().enumerate() {
                let n = expected_n[q];
                let rq = r[q];
                let psi = logistic(curve.slope * theta + curve.intercept);
                let p = (c + (1.0 - c) * psi).clamp(1e-300, 1.0 - 1e-16);
                objective += rq * p.ln() + (n - rq) * (1.0 - p).ln();
                let dpsi = (1.0 - c) * psi * (1.0 - psi);
                let dp = [dpsi * theta, dpsi, 1.0 - psi];
                let residual = (rq - n * p) / (p * (1.0 - p));
                let weight = n / (p * (1.0 - p));
                let k = if estimate_guessing { 3 } else { 2 };
                for a in 0..k {
                    gradient[a] += residual * dp[a];
                    for b in a..k {
                        information[a][b] += weight * dp[a] * dp[b];
                    }
                }
            }
            if estimate_guessing && let Some((alpha, beta)) = prior {
                objective += (alpha - 1.0) * c.ln() + (beta - 1.0) * (1.0 - c).ln();
                gradient[2] += (alpha - 1.0) / c - (beta - 1.0) / (1.0 - c);
                information[2][2] +=
                    (alpha - 1.0) / (c * c) + (beta - 1.0) / ((1.0 - c) * (1.0 - c));
            }
        }
    }
    let upper = information;
    for (a, row) in information.iter_mut().enumerate() {
        for (b, value) in row.iter_mut().enumerate().take(a) {
            *value = upper[b][a];
        }
    }
    ItemDerivatives {
        gradient,
        information,
        objective,
    }
}

/// The parts of an E-step one item's M-step needs.
fn item_counts(estep: &EStep, j: usize, n_nodes: usize) -> (&[f64], Option<&[f64]>) {
    let range = j * n_nodes..(j + 1) * n_nodes;
    (
        &estep.expected_n[range.clone()],
        estep.expected_r.as_ref().map(|r| &r[range]),
    )
}

/// The M-step: maximises each item's expected complete-data log-likelihood (Fisher scoring
/// with step halving), or for a common slope the joint objective (Newton on the arrowhead
/// system). Returns the new parameter vector.
fn m_step(layout: &Layout, params: &[f64], estep: &EStep, nodes: &[f64]) -> Vec<f64> {
    let n_nodes = nodes.len();
    let mut next = params.to_vec();
    if layout.common_slope() {
        common_slope_m_step(layout, &mut next, estep, nodes);
        return next;
    }
    let k = layout.per_item();
    let estimate_guessing = k == 3;
    next.par_chunks_mut(k).enumerate().for_each(|(j, item)| {
        let (expected_n, expected_r) = item_counts(estep, j, n_nodes);
        let curve_of = |item: &[f64]| Curve {
            slope: item[0],
            intercept: item[1],
            guessing: if estimate_guessing {
                item[2]
            } else {
                layout.fixed_guessing.unwrap_or(0.0)
            },
        };
        for _ in 0..50 {
            let derivatives = item_derivatives(
                curve_of(item),
                estimate_guessing,
                layout.guessing_prior,
                nodes,
                expected_n,
                expected_r,
                estep.r1[j],
                estep.r0[j],
            );
            let mut matrix = vec![0.0; k * k];
            for a in 0..k {
                for b in 0..k {
                    matrix[a * k + b] = derivatives.information[a][b];
                }
                // A touch of ridge keeps near-singular items (few responses) stable.
                matrix[a * k + a] += 1e-10;
            }
            let Some(step) = linalg::solve(&matrix, &derivatives.gradient[..k], k) else {
                break;
            };
            let mut scale = 1.0;
            let mut improved = false;
            let mut candidate = item.to_vec();
            for _ in 0..30 {
                for a in 0..k {
                    candidate[a] = item[a] + scale * step[a];
                }
                candidate[0] = candidate[0].clamp(-SLOPE_BOUND, SLOPE_BOUND);
                candidate[1] = candidate[1].clamp(-INTERCEPT_BOUND, INTERCEPT_BOUND);
                if estimate_guessing {
                    candidate[2] = candidate[2].clamp(GUESSING_MIN, GUESSING_MAX);
                }
                let value = item_derivatives(
                    curve_of(&candidate),
                    estimate_guessing,
                    layout.guessing_prior,
                    nodes,
                    expected_n,
                    expected_r,
                    estep.r1[j],
                    estep.r0[j],
                )
                .objective;
                if value.is_finite() && value >= derivatives.objective - 1e-12 {
                    improved = true;
                    break;
                }
                scale *= 0.5;
            }
            if !improved {
                break;
            }
            let change = item
                .iter()
                .zip(&candidate)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            item.copy_from_slice(&candidate);
            if change < 1e-9 {
                break;
            }
        }
    });
    next
}

/// Newton steps on (common slope, intercepts) for the 1PL / Rasch M-step. The Hessian is an
/// arrowhead (the intercepts only meet the slope), solved through its Schur complement.
fn common_slope_m_step(layout: &Layout, params: &mut [f64], estep: &EStep, nodes: &[f64]) {
    let n_nodes = nodes.len();
    let n_items = layout.n_items;
    let objective_and_derivatives = |params: &[f64]| {
        let per_item: Vec<ItemDerivatives> = (0..n_items)
            .map(|j| {
                let (expected_n, _) = item_counts(estep, j, n_nodes);
                item_derivatives(
                    Curve {
                        slope: params[0],
                        intercept: params[1 + j],
                        guessing: 0.0,
                    },
                    false,
                    None,
                    nodes,
                    expected_n,
                    None,
                    estep.r1[j],
                    estep.r0[j],
                )
            })
            .collect();
        per_item
    };
    for _ in 0..50 {
        let derivatives = objective_and_derivatives(params);
        let objective: f64 = derivatives.iter().map(|d| d.objective).sum();
        let g_slope: f64 = derivatives.iter().map(|d| d.gradient[0]).sum();
        let h_slope: f64 = derivatives.iter().map(|d| d.information[0][0]).sum();
        let mut schur = h_slope;
        let mut rhs = g_slope;
        for d in &derivatives {
            let h_dd = d.information[1][1].max(1e-12);
            schur -= d.information[0][1] * d.information[0][1] / h_dd;
            rhs -= d.information[0][1] * d.gradient[1] / h_dd;
        }
        if schur.abs() < 1e-12 {
            break;
        }
        let step_slope = rhs / schur;
        let steps: Vec<f64> = std::iter::once(step_slope)
            .chain(derivatives.iter().map(|d| {
                (d.gradient[1] - d.information[0][1] * step_slope) / d.information[1][1].max(1e-12)
            }))
            .collect();
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let mut candidate: Vec<f64> = params
                .iter()
                .zip(&steps)
                .map(|(p, s)| p + scale * s)
                .collect();
            layout.clamp(&mut candidate);
            let value: f64 = objective_and_derivatives(&candidate)
                .iter()
                .map(|d| d.objective)
                .sum();
            if value.is_finite() && value >= objective - 1e-12 {
                accepted = Some(candidate);
                break;
            }
            scale *= 0.5;
        }
        let Some(candidate) = accepted else { break };
        let change = params
            .iter()
            .zip(&candidate)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        params.copy_from_slice(&candidate);
        if change < 1e-9 {
            break;
        }
    }
}

/// Gradient of the marginal log-likelihood (plus log prior) at `params`, by Fisher's identity:
/// the gradient of the expected complete-data log-likelihood under the posterior at `params`.
fn marginal_gradient(
    layout: &Layout,
    params: &[f64],
    patterns: &Patterns,
    quadrature: &Quadrature,
) -> Vec<f64> {
    let curves = layout.curves(params);
    let estep = e_step(
        patterns,
        &curves,
        quadrature,
        layout.needs_full_counts(),
        false,
    );
    let n_nodes = quadrature.len();
    let mut gradient = vec![0.0; layout.n_params()];
    let estimate_guessing = layout.per_item() == 3;
    for (j, curve) in curves.iter().enumerate() {
        let (expected_n, expected_r) = item_counts(&estep, j, n_nodes);
        let d = item_derivatives(
            *curve,
            estimate_guessing,
            layout.guessing_prior,
            &quadrature.nodes,
            expected_n,
            expected_r,
            estep.r1[j],
            estep.r0[j],
        );
        if layout.common_slope() {
            gradient[0] += d.gradient[0];
            gradient[1 + j] = d.gradient[1];
        } else {
            let k = layout.per_item();
            gradient[j * k..(j + 1) * k].copy_from_slice(&d.gradient[..k]);
        }
    }
    gradient
}

/// Covariance matrix of the free parameters: the inverse of the negative numerical Hessian
/// (central differences of [`marginal_gradient`]). `None` when it is not positive definite.
fn parameter_covariance(
    layout: &Layout,
    params: &[f64],
    patterns: &Patterns,
    quadrature: &Quadrature,
    report: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Option<Vec<f64>>, PredictionError> {
    let n = layout.n_params();
    let column = |k: usize| {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let h = 1e-4 * params[k].abs().max(1.0);
        let mut plus = params.to_vec();
        let mut minus = params.to_vec();
        plus[k] += h;
        minus[k] -= h;
        let g_plus = marginal_gradient(layout, &plus, patterns, quadrature);
        let g_minus = marginal_gradient(layout, &minus, patterns, quadrature);
        Ok(g_plus
            .iter()
            .zip(&g_minus)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect())
    };
    // Columns in parallel, a chunk at a time so that progress can be reported between chunks.
    let mut columns: Vec<Result<Vec<f64>, PredictionError>> = Vec::with_capacity(n);
    for start in (0..n).step_by(16) {
        let end = (start + 16).min(n);
        columns.extend((start..end).into_par_iter().map(column).collect::<Vec<_>>());
        report(end, n);
    }
    let mut negative_hessian = vec![0.0; n * n];
    for (k, column) in columns.into_iter().enumerate() {
        let column = column?;
        for (i, value) in column.iter().enumerate() {
            negative_hessian[i * n + k] = -value;
        }
    }
    for i in 0..n {
        for k in 0..i {
            let mean = 0.5 * (negative_hessian[i * n + k] + negative_hessian[k * n + i]);
            negative_hessian[i * n + k] = mean;
            negative_hessian[k * n + i] = mean;
        }
    }
    Ok(linalg::inverse_positive_definite(&negative_hessian, n))
}

/// Covariance from the cross-product information `Σ_p n_p g_p g_pᵀ` (plus the negative Hessian
/// of the log prior on c, which has no per-person part). `g_p` is the gradient of log f(x_p), by
/// Fisher's identity `Σ_q w_pq ∂ log P(x_p | θ_q)`; for a binary response this is
/// `Σ_q w_pq ∂P_jq / P_jq` when correct and `−Σ_q w_pq ∂P_jq / (1 − P_jq)` when wrong, so two
/// tables per item and parameter serve every pattern.
fn crossproduct_covariance(
    layout: &Layout,
    params: &[f64],
    patterns: &Patterns,
    quadrature: &Quadrature,
) -> Option<Vec<f64>> {
    let curves = layout.curves(params);
    let nodes = &quadrature.nodes;
    let n_nodes = nodes.len();
    let n_items = curves.len();
    let n_params = layout.n_params();
    let estimate_guessing = layout.per_item() == 3 && !layout.common_slope();
    let per_item = if estimate_guessing { 3 } else { 2 };
    // Per item, parameter (slope, intercept[, guessing]) and node: ∂P/P and −∂P/(1 − P); and
    // log P, log(1 − P) for the posterior.
    let mut when_correct = vec![0.0; n_items * per_item * n_nodes];
    let mut when_wrong = vec![0.0; n_items * per_item * n_nodes];
    let mut log_correct = vec![0.0; n_items * n_nodes];
    let mut log_wrong = vec![0.0; n_items * n_nodes];
    for (j, curve) in curves.iter().enumerate() {
        let c = curve.guessing;
        for (q, &theta) in nodes.iter().enumerate() {
            let psi = logistic(curve.slope * theta + curve.intercept);
            let p = (c + (1.0 - c) * psi).clamp(1e-300, 1.0 - 1e-16);
            let dpsi = (1.0 - c) * psi * (1.0 - psi);
            let derivatives = [dpsi * theta, dpsi, 1.0 - psi];
            for (k, dp) in derivatives.iter().take(per_item).enumerate() {
                let at = (j * per_item + k) * n_nodes + q;
                when_correct[at] = dp / p;
                when_wrong[at] = -dp / (1.0 - p);
            }
            log_correct[j * n_nodes + q] = p.ln();
            log_wrong[j * n_nodes + q] = (1.0 - p).ln();
        }
    }
    let log_prior: Vec<f64> = quadrature.weights.iter().map(|w| w.ln()).collect();
    // Column of each (item, parameter) in the free-parameter vector.
    let column = |j: usize, k: usize| -> usize {
        if layout.common_slope() {
            if k == 0 { 0 } else { 1 + j }
        } else {
            j * per_item + k
        }
    };
    let n_blocks = patterns.len().div_ceil(BLOCK);
    let information = (0..n_blocks)
        .into_par_iter()
        .map(|b| {
            let lo = b * BLOCK;
            let hi = ((b + 1) * BLOCK).min(patterns.len());
            let rows = hi - lo;
            let mut gradients = vec![0.0; rows * n_params];
            let mut values = vec![0.0; n_nodes];
            for (i, p) in (lo..hi).enumerate() {
                let row = patterns.row(p);
                values.copy_from_slice(&log_prior);
                for (j, &code) in row.iter().enumerate() {
                    let table = match code {
                        1 => &log_correct,
                        0 => &log_wrong,
                        _ => continue,
                    };
                    for (v, l) in values
                        .iter_mut()
                        .zip(&table[j * n_nodes..(j + 1) * n_nodes])
                    {
                        *v += l;
                    }
                }
                posterior_in_place(&mut values, nodes);
                let weight = patterns.counts[p].sqrt();
                let gradient = &mut gradients[i * n_params..(i + 1) * n_params];
                for (j, &code) in row.iter().enumerate() {
                    let table = match code {
                        1 => &when_correct,
                        0 => &when_wrong,
                        _ => continue,
                    };
                    for k in 0..per_item {
                        let at = (j * per_item + k) * n_nodes;
                        let g: f64 = values
                            .iter()
                            .zip(&table[at..at + n_nodes])
                            .map(|(w, t)| w * t)
                            .sum();
                        gradient[column(j, k)] += weight * g;
                    }
                }
            }
            let mut block = vec![0.0; n_params * n_params];
            linalg::gemm_transposed_a(
                n_params, rows, n_params, &gradients, &gradients, 0.0, &mut block,
            );
            block
        })
        .reduce(
            || vec![0.0; n_params * n_params],
            |mut a, b| {
                add_into(&mut a, &b);
                a
            },
        );
    let mut information = information;
    if estimate_guessing && let Some((alpha, beta)) = layout.guessing_prior {
        for (j, curve) in curves.iter().enumerate() {
            let c = curve.guessing;
            let at = column(j, 2);
            information[at * n_params + at] +=
                (alpha - 1.0) / (c * c) + (beta - 1.0) / ((1.0 - c) * (1.0 - c));
        }
    }
    linalg::inverse_positive_definite(&information, n_params)
}

/// Start values: slopes 1, intercepts from the observed proportions correct, c from its prior
/// mean.
fn start_values(layout: &Layout, proportions: &[f64]) -> Vec<f64> {
    let start_c = match layout.guessing_prior {
        Some((alpha, beta)) => alpha / (alpha + beta),
        None => layout.fixed_guessing.unwrap_or(0.0),
    };
    let intercept = |p: f64| {
        let adjusted = ((p - start_c) / (1.0 - start_c)).clamp(0.02, 0.98);
        // A slope of 1 on N(0, 1) attenuates the marginal logit by about √(1 + 1/1.7²).
        (adjusted / (1.0 - adjusted)).ln() * 1.16
    };
    if layout.common_slope() {
        std::iter::once(1.0)
            .chain(proportions.iter().map(|&p| intercept(p)))
            .collect()
    } else {
        let mut params = Vec::with_capacity(layout.n_params());
        for &p in proportions {
            params.push(1.0);
            params.push(intercept(p));
            if layout.per_item() == 3 {
                params.push(start_c);
            }
        }
        params
    }
}

fn max_abs_difference(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

/// Calibrates `settings.model` on `responses` by marginal maximum likelihood.
///
/// Items that everyone answered the same way (or nobody answered) are left out with a warning
/// and listed in [`Calibration::excluded_items`]; persons with no responses to the remaining
/// items are left out and counted. `progress` is called after every E-step; setting `cancel`
/// stops the fit with [`PredictionError::Cancelled`].
pub fn calibrate(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<Calibration, PredictionError> {
    settings.validate()?;
    let mut warnings = Vec::new();
    let mut excluded_items = Vec::new();
    let mut item_indices = Vec::new();
    let mut proportions = Vec::new();
    for (j, name) in responses.item_names().iter().enumerate() {
        let (mut answered, mut correct) = (0usize, 0usize);
        for person in 0..responses.n_persons() {
            match responses.response(person, j) {
                Some(1) => {
                    answered += 1;
                    correct += 1;
                }
                Some(_) => answered += 1,
                None => {}
            }
        }
        let reason = if answered == 0 {
            Some("no responses".to_string())
        } else if correct == answered {
            Some(format!("all {answered} responses are correct (1)"))
        } else if correct == 0 {
            Some(format!("all {answered} responses are wrong (0)"))
        } else {
            None
        };
        match reason {
            Some(reason) => {
                warnings.push(format!("item \"{name}\" left out of the fit: {reason}"));
                excluded_items.push(ExcludedItem {
                    item: name.clone(),
                    reason,
                });
            }
            None => {
                item_indices.push(j);
                proportions.push(correct as f64 / answered as f64);
            }
        }
    }
    if item_indices.len() < 2 {
        return Err(PredictionError::TooFewItems {
            usable: item_indices.len(),
            excluded: excluded_items.len(),
        });
    }
    let matrix = if item_indices.len() == responses.n_items() {
        None
    } else {
        Some(responses.select_items(&item_indices))
    };
    let matrix = matrix.as_ref().unwrap_or(responses);
    let patterns = Patterns::collapse(matrix);
    let n_persons = patterns.counts.iter().sum::<f64>() as usize;
    let n_persons_without_responses = responses.n_persons() - n_persons;
    if n_persons < 2 {
        return Err(PredictionError::TooFewPersons(n_persons));
    }
    if n_persons_without_responses > 0 {
        warnings.push(format!(
            "{n_persons_without_responses} persons with no responses left out of the fit"
        ));
    }

    let quadrature = Quadrature::normal(settings.quadrature_points, settings.theta_limit);
    let layout = Layout::new(settings, item_indices.len());
    let full_counts = layout.needs_full_counts();
    // Cells, so the EM closure can count while the loops below read the count.
    let history = std::cell::RefCell::new(Vec::new());
    let cycles = std::cell::Cell::new(0usize);
    let mut converged = false;

    // One EM cycle: E-step at `params`, M-step. Returns (new params, logL at params).
    let mut em_map = |params: &[f64]| -> Result<(Vec<f64>, f64), PredictionError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let estep = e_step(
            &patterns,
            &layout.curves(params),
            &quadrature,
            full_counts,
            false,
        );
        let next = m_step(&layout, params, &estep, &quadrature.nodes);
        cycles.set(cycles.get() + 1);
        history.borrow_mut().push(estep.log_likelihood);
        progress(Progress {
            cycle: cycles.get(),
            max_cycles: settings.max_cycles,
            log_likelihood: estep.log_likelihood,
            standard_errors: None,
        });
        Ok((next, estep.log_likelihood))
    };

    let mut params = start_values(&layout, &proportions);
    let tolerance = settings.tolerance;
    let max_cycles = settings.max_cycles;
    if settings.acceleration {
        // SQUAREM, scheme S3 with the monotonicity safeguard (Varadhan & Roland, 2008).
        'outer: while cycles.get() < max_cycles {
            let (p1, ll0) = em_map(&params)?;
            if max_abs_difference(&p1, &params) < tolerance || cycles.get() >= max_cycles {
                converged = max_abs_difference(&p1, &params) < tolerance;
                params = p1;
                break;
            }
            let (p2, _) = em_map(&p1)?;
            if max_abs_difference(&p2, &p1) < tolerance || cycles.get() >= max_cycles {
                converged = max_abs_difference(&p2, &p1) < tolerance;
                params = p2;
                break;
            }
            let r: Vec<f64> = p1.iter().zip(&params).map(|(a, b)| a - b).collect();
            let v: Vec<f64> = p2
                .iter()
                .zip(&p1)
                .zip(&r)
                .map(|((c, b), r)| c - b - r)
                .collect();
            let rr: f64 = r.iter().map(|x| x * x).sum();
            let vv: f64 = v.iter().map(|x| x * x).sum();
            if vv <= 0.0 || !vv.is_finite() {
                params = p2;
                continue;
            }
            let alpha = -(rr / vv).sqrt().max(1.0);
            let mut extrapolated: Vec<f64> = params
                .iter()
                .zip(&r)
                .zip(&v)
                .map(|((p, r), v)| p - 2.0 * alpha * r + alpha * alpha * v)
                .collect();
            layout.clamp(&mut extrapolated);
            // Stabilising EM step from the extrapolated point; accept it only when the
            // likelihood did not fall.
            let (p3, ll_extrapolated) = em_map(&extrapolated)?;
            if ll_extrapolated.is_finite() && ll_extrapolated >= ll0 - 1e-8 * ll0.abs().max(1.0) {
                let change = max_abs_difference(&p3, &extrapolated);
                params = p3;
                if change < tolerance {
                    converged = true;
                    break 'outer;
                }
            } else {
                params = p2;
            }
        }
    } else {
        while cycles.get() < max_cycles {
            let (next, _) = em_map(&params)?;
            let change = max_abs_difference(&next, &params);
            params = next;
            if change < tolerance {
                converged = true;
                break;
            }
        }
    }
    if !converged {
        warnings.push(format!(
            "EM did not converge in {max_cycles} cycles (tolerance {tolerance}); the estimates are the last cycle's"
        ));
    }

    let curves = layout.curves(&params);
    let final_estep = e_step(&patterns, &curves, &quadrature, false, false);
    let log_likelihood = final_estep.log_likelihood;

    let covariance = match settings.standard_errors {
        StandardErrorMethod::Hessian => {
            let mut report = |done: usize, total: usize| {
                progress(Progress {
                    cycle: cycles.get(),
                    max_cycles: settings.max_cycles,
                    log_likelihood,
                    standard_errors: Some((done, total)),
                })
            };
            let covariance = parameter_covariance(
                &layout,
                &params,
                &patterns,
                &quadrature,
                &mut report,
                cancel,
            )?;
            if covariance.is_none() {
                warnings.push(
                    "standard errors unavailable: the information matrix is not positive definite (the model may be poorly identified)".into(),
                );
            }
            covariance
        }
        StandardErrorMethod::CrossProduct => {
            if cancel.load(Ordering::Relaxed) {
                return Err(PredictionError::Cancelled);
            }
            let covariance = crossproduct_covariance(&layout, &params, &patterns, &quadrature);
            if covariance.is_none() {
                warnings.push(
                    "standard errors unavailable: the cross-product information is not positive definite (the model may be poorly identified)".into(),
                );
            }
            covariance
        }
        StandardErrorMethod::None => None,
    };
    let n_params = layout.n_params();
    let variance = |k: usize| covariance.as_ref().map(|c| c[k * n_params + k]);
    let covariance_of = |i: usize, k: usize| covariance.as_ref().map(|c| c[i * n_params + k]);
    let se = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0).map(f64::sqrt);

    let scaling = settings.scaling;
    let mut items = Vec::with_capacity(curves.len());
    let is_rasch = settings.model == ModelKind::Rasch;
    for (j, curve) in curves.iter().enumerate() {
        let (slope_index, intercept_index) = if layout.common_slope() {
            (0, 1 + j)
        } else {
            (j * layout.per_item(), j * layout.per_item() + 1)
        };
        let name = matrix.item_names()[j].clone();
        // b = −d / slope; delta method with gradient (d / slope², −1 / slope).
        let b_variance = |slope_free: bool| -> Option<f64> {
            let var_d = variance(intercept_index)?;
            if !slope_free {
                return Some(var_d / (curve.slope * curve.slope));
            }
            let var_a = variance(slope_index)?;
            let cov = covariance_of(slope_index, intercept_index)?;
            let g_a = curve.intercept / (curve.slope * curve.slope);
            let g_d = -1.0 / curve.slope;
            Some(g_a * g_a * var_a + 2.0 * g_a * g_d * cov + g_d * g_d * var_d)
        };
        let item = if is_rasch {
            // Rasch: logit D·(θ' − b) with θ' = (σ/D)·θ, σ the common slope on the N(0, 1)
            // metric, so b = −d/D and d is unchanged.
            FittedItem {
                item: name,
                a: 1.0,
                b: -curve.intercept / scaling,
                c: 0.0,
                d: curve.intercept,
                a_se: None,
                b_se: se(variance(intercept_index)).map(|s| s / scaling),
                c_se: None,
                d_se: se(variance(intercept_index)),
            }
        } else {
            FittedItem {
                item: name,
                a: curve.slope / scaling,
                b: -curve.intercept / curve.slope,
                c: curve.guessing,
                d: curve.intercept,
                a_se: se(variance(slope_index)).map(|s| s / scaling),
                b_se: se(b_variance(true)),
                c_se: if layout.per_item() == 3 && !layout.common_slope() {
                    se(variance(j * 3 + 2))
                } else {
                    None
                },
                d_se: se(variance(intercept_index)),
            }
        };
        items.push(item);
    }
    let (latent_variance, latent_variance_se) = if is_rasch {
        let sigma = params[0] / scaling;
        (
            sigma * sigma,
            se(variance(0)).map(|s| 2.0 * sigma.abs() * s / scaling),
        )
    } else {
        (1.0, None)
    };
    let k = n_params;
    Ok(Calibration {
        settings: settings.clone(),
        items,
        excluded_items,
        latent_variance,
        latent_variance_se,
        log_likelihood,
        aic: -2.0 * log_likelihood + 2.0 * k as f64,
        bic: -2.0 * log_likelihood + k as f64 * (n_persons as f64).ln(),
        parameters: k,
        cycles: cycles.get(),
        converged,
        log_likelihood_history: history.into_inner(),
        standard_errors: settings.standard_errors,
        n_persons,
        n_persons_without_responses,
        n_patterns: patterns.len(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::exp_non_positive;

    #[test]
    fn fast_exp_matches_the_standard_library() {
        let mut x: f64 = 0.0;
        while x > -720.0 {
            let expected = x.exp();
            let got = exp_non_positive(x);
            if x > -700.0 {
                assert!(
                    ((got - expected) / expected).abs() < 3e-13,
                    "exp({x}) = {got}, not {expected}"
                );
            } else {
                assert!(got < 1e-300);
            }
            x -= 0.0137;
        }
        assert_eq!(exp_non_positive(0.0), 1.0);
    }
}

//! One pass over the persons that gathers what the person- and item-level statistics need, at
//! each person's EAP θ̂:
//!
//! - per person: the log-likelihood terms of Zh and the infit/outfit sums;
//! - per item: the same sums over the persons who answered it;
//! - the cross-product (Gram) matrices from which the observed moments of M2/C2, the pairwise
//!   contingency tables of the LD χ² and the residual correlations of Q3 all follow: with `Y`
//!   the one-hot codes of categories ≥ 1, `D` the residuals `x − E[X | θ̂]` and `M` the
//!   answered-mask, `YᵀY`, `DᵀD` and (with missing responses) `[Y D D² M]ᵀ M`, accumulated
//!   block by block as matrix products;
//! - for the persons who answered every item: the observed tables of S-X² (sum score × item
//!   category) and the sum-score counts.
//!
//! The person formulas are mirt's `personfit` and `itemfit(…, c("Zh", "infit"))`: Drasgow,
//! Levine & Williams (1985) for Zh, `Zh = (l₀ − E l₀) / √Var l₀` with
//! `E l₀ = Σ_k P_k ln P_k` and `Var l₀ = Σ_k P_k (ln P_k)² − (E l₀)²`; Wright & Masters (1982)
//! for the mean squares, outfit `Σ (y²/W) / n` and infit `Σ y² / Σ W`, standardised by the
//! Wilson–Hilferty cube root `t = (MS^{1/3} − 1)(3/q) + q/3` with `q` from the fourth central
//! moments `C` (`q_out² = Σ (C/W²) / n² − 1/n`, `q_in² = Σ (C − W²) / (Σ W)²`, capped at
//! 1.4142), the variance `W` floored at `√1e−5` as mirt does.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::prediction::PredictionError;
use crate::prediction::estimation::estep::chunked_by;
use crate::prediction::linalg::gemm_transposed_a;
use crate::prediction::model::ItemParameters;
use crate::prediction::responses::ResponseMatrix;

/// Persons handled per block (one matrix product per block and accumulator).
const BLOCK: usize = 1024;

/// The mean-square standardisation's cap on `q` (mirt uses 1.4142, √2 rounded).
const Q_CAP: f64 = std::f64::consts::SQRT_2;

/// Sums over answered responses that make Zh and the mean squares.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct FitSums {
    /// Responses summed.
    pub n: f64,
    /// `Σ ln P_x`.
    pub l0: f64,
    /// `Σ E ln P`.
    pub expected_l0: f64,
    /// `Σ Var ln P`.
    pub variance_l0: f64,
    /// `Σ y² / W`.
    pub z2: f64,
    /// `Σ C / W²`.
    pub c_over_w2: f64,
    /// `Σ y²`.
    pub y2: f64,
    /// `Σ W`.
    pub w: f64,
    /// `Σ (C − W²)`.
    pub c_minus_w2: f64,
}

impl FitSums {
    fn add(&mut self, other: &FitSums) {
        self.n += other.n;
        self.l0 += other.l0;
        self.expected_l0 += other.expected_l0;
        self.variance_l0 += other.variance_l0;
        self.z2 += other.z2;
        self.c_over_w2 += other.c_over_w2;
        self.y2 += other.y2;
        self.w += other.w;
        self.c_minus_w2 += other.c_minus_w2;
    }

    /// Zh; NaN without variance.
    pub fn zh(&self) -> f64 {
        if self.variance_l0 > 0.0 {
            (self.l0 - self.expected_l0) / self.variance_l0.sqrt()
        } else {
            f64::NAN
        }
    }

    /// Outfit mean square and its standardised t.
    pub fn outfit(&self) -> (f64, f64) {
        if self.n <= 0.0 {
            return (f64::NAN, f64::NAN);
        }
        let mean_square = self.z2 / self.n;
        let q = (self.c_over_w2 / (self.n * self.n) - 1.0 / self.n)
            .abs()
            .sqrt()
            .min(Q_CAP);
        (mean_square, wilson_hilferty(mean_square, q))
    }

    /// Infit mean square and its standardised t.
    pub fn infit(&self) -> (f64, f64) {
        if self.w <= 0.0 {
            return (f64::NAN, f64::NAN);
        }
        let mean_square = self.y2 / self.w;
        let q = (self.c_minus_w2 / (self.w * self.w))
            .max(0.0)
            .sqrt()
            .min(Q_CAP);
        (mean_square, wilson_hilferty(mean_square, q))
    }
}

/// `(MS^{1/3} − 1)(3/q) + q/3`.
fn wilson_hilferty(mean_square: f64, q: f64) -> f64 {
    if q > 0.0 {
        (mean_square.cbrt() - 1.0) * (3.0 / q) + q / 3.0
    } else {
        f64::NAN
    }
}

/// What the pass is asked to gather.
pub(crate) struct PassRequest<'a> {
    /// Responses aligned to `items`.
    pub responses: &'a ResponseMatrix,
    /// The calibrated items.
    pub items: &'a [ItemParameters],
    /// Each person's θ̂ (`None`: no responses).
    pub thetas: &'a [Option<f64>],
    /// Gather the Gram matrices (M2, LD, Q3).
    pub grams: bool,
    /// Gather the complete cases' sum-score tables (S-X², the sum-score EAP table).
    pub sum_scores: bool,
}

/// Everything gathered.
#[derive(Clone, Debug)]
pub(crate) struct PassResult {
    /// Per person (`None` without responses).
    pub persons: Vec<Option<FitSums>>,
    /// Per item.
    pub items: Vec<FitSums>,
    /// Whether any person with responses skipped an item.
    pub any_missing: bool,
    /// The Gram matrices, when asked for.
    pub grams: Option<Grams>,
    /// Complete cases' tables, when asked for.
    pub sum_scores: Option<SumScoreTables>,
}

/// Cross products of the one-hot codes, residuals and masks (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Grams {
    /// Offset of item j's one-hot columns (categories 1..K−1) in `Y`.
    pub offsets: Vec<usize>,
    /// Width of `Y`: `Σ (K_j − 1)`.
    pub width: usize,
    /// `YᵀY`, width × width, row-major.
    pub yy: Vec<f64>,
    /// `DᵀD`, n × n.
    pub dd: Vec<f64>,
    /// With missing responses: `[Y D D² M]ᵀ M`, (width + 3n) × n; otherwise empty.
    pub masked: Vec<f64>,
    /// `Σ d_j` over the persons answering item j.
    pub d_sum: Vec<f64>,
    /// Number of persons with responses.
    pub persons: f64,
}

impl Grams {
    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.offsets.len()
    }

    /// Persons who answered both i and j (i = j: item i).
    pub fn pair_count(&self, i: usize, j: usize) -> f64 {
        if self.masked.is_empty() {
            return self.persons;
        }
        let n = self.n_items();
        self.masked[(self.width + 2 * n + i) * n + j]
    }

    /// Persons who chose category `c ≥ 1` of item i and answered item j.
    pub fn category_answering(&self, i: usize, c: usize, j: usize) -> f64 {
        let row = self.offsets[i] + c - 1;
        if self.masked.is_empty() {
            self.yy[row * self.width + row]
        } else {
            self.masked[row * self.n_items() + j]
        }
    }

    /// Persons who chose `c ≥ 1` on item i and `d ≥ 1` on item j.
    pub fn both(&self, i: usize, c: usize, j: usize, d: usize) -> f64 {
        let row = self.offsets[i] + c - 1;
        let column = self.offsets[j] + d - 1;
        self.yy[row * self.width + column]
    }

    /// `Σ d_i` over the persons who answered both i and j.
    pub fn residual_sum(&self, i: usize, j: usize) -> f64 {
        if self.masked.is_empty() {
            return self.d_sum[i];
        }
        let n = self.n_items();
        self.masked[(self.width + i) * n + j]
    }

    /// `Σ d_i²` over the persons who answered both i and j.
    pub fn residual_squares(&self, i: usize, j: usize) -> f64 {
        let n = self.n_items();
        if self.masked.is_empty() {
            return self.dd[i * n + i];
        }
        self.masked[(self.width + n + i) * n + j]
    }

    /// `Σ d_i d_j` over the persons who answered both.
    pub fn residual_product(&self, i: usize, j: usize) -> f64 {
        self.dd[i * self.n_items() + j]
    }

    /// The observed K_i × K_j table of items i and j over the persons who answered both,
    /// row-major.
    pub fn table(&self, i: usize, ki: usize, j: usize, kj: usize) -> Vec<f64> {
        let mut table = vec![0.0; ki * kj];
        for c in 1..ki {
            for d in 1..kj {
                table[c * kj + d] = self.both(i, c, j, d);
            }
        }
        for c in 1..ki {
            let row: f64 = (1..kj).map(|d| table[c * kj + d]).sum();
            table[c * kj] = self.category_answering(i, c, j) - row;
        }
        for d in 1..kj {
            let column: f64 = (1..ki).map(|c| table[c * kj + d]).sum();
            table[d] = self.category_answering(j, d, i) - column;
        }
        let rest: f64 = table.iter().sum();
        table[0] = self.pair_count(i, j) - rest;
        table
    }
}

/// The complete cases' tables.
#[derive(Clone, Debug)]
pub(crate) struct SumScoreTables {
    /// Highest sum score `Σ (K_j − 1)`.
    pub max_score: usize,
    /// Persons per sum score 0..=max.
    pub counts: Vec<f64>,
    /// Per item: `O[s][c]`, (max + 1) × K_j row-major.
    pub observed: Vec<Vec<f64>>,
    /// Complete cases.
    pub persons: usize,
}

/// Probabilities of one item at θ: a fast path for the logistic two-category items.
enum Evaluator<'a> {
    Logistic { a: f64, d: f64 },
    General(&'a ItemParameters),
}

impl Evaluator<'_> {
    fn of(item: &ItemParameters) -> Evaluator<'_> {
        if item.n_categories() == 2
            && let Some(form) = item
                .model
                .model()
                .linear_form(&item.parameters, item.n_categories())
            && form.s.len() == 2
            && form.s[0] == 0.0
            && form.t[0] == 0.0
        {
            return Evaluator::Logistic {
                a: form.s[1],
                d: form.t[1],
            };
        }
        Evaluator::General(item)
    }

    /// The category probabilities at θ and their logarithms (`-inf` for a vanishing one).
    #[inline]
    fn probabilities(&self, theta: f64, p: &mut [f64], logs: &mut [f64]) {
        match self {
            Evaluator::Logistic { a, d } => {
                // One exp and one log for both categories: with e = exp(−|z|), the likelier
                // category has 1/(1 + e) and log −ln(1 + e), the other e/(1 + e) and −|z|
                // below that.
                let z = a * theta + d;
                let e = (-z.abs()).exp();
                // (ln(1 + e) rather than ln_1p: the two differ by an ulp of 1, far below what
                // the fit statistics resolve, and ln is twice as fast.)
                let log_likelier = -(1.0 + e).ln();
                let (likelier, other) = (1.0 / (1.0 + e), e / (1.0 + e));
                let log_other = log_likelier - z.abs();
                let (up, down) = if z >= 0.0 { (1, 0) } else { (0, 1) };
                p[up] = likelier;
                p[down] = other;
                logs[up] = log_likelier;
                logs[down] = log_other;
            }
            Evaluator::General(item) => {
                item.probabilities_into(theta, p);
                for (l, &pk) in logs.iter_mut().zip(p.iter()) {
                    *l = if pk > 0.0 { pk.ln() } else { f64::NEG_INFINITY };
                }
            }
        }
    }
}

/// The terms of one response `x` with category probabilities `p` and their logarithms `logs`:
/// its `FitSums` and residual.
#[inline]
fn response_terms(p: &[f64], logs: &[f64], x: usize) -> (FitSums, f64) {
    let mut expected = 0.0;
    let mut expected_l0 = 0.0;
    let mut second_l0 = 0.0;
    for (k, (&pk, &l)) in p.iter().zip(logs).enumerate() {
        expected += k as f64 * pk;
        if pk > 0.0 {
            expected_l0 += pk * l;
            second_l0 += pk * l * l;
        }
    }
    let mut w = 0.0;
    let mut c4 = 0.0;
    for (k, &pk) in p.iter().enumerate() {
        let e = k as f64 - expected;
        let e2 = e * e;
        w += e2 * pk;
        c4 += e2 * e2 * pk;
    }
    if w * w < 1e-5 {
        w = 1e-5f64.sqrt();
    }
    let px = p[x];
    // mirt sets the log of a vanishing probability of the observed category to 0.
    let l0 = if px < f64::EPSILON { 0.0 } else { logs[x] };
    let y = x as f64 - expected;
    (
        FitSums {
            n: 1.0,
            l0,
            expected_l0,
            variance_l0: (second_l0 - expected_l0 * expected_l0).max(0.0),
            z2: y * y / w,
            c_over_w2: c4 / (w * w),
            y2: y * y,
            w,
            c_minus_w2: c4 - w * w,
        },
        y,
    )
}

/// Accumulators of one chunk of blocks.
struct Chunk {
    persons: Vec<Option<FitSums>>,
    items: Vec<FitSums>,
    yy: Vec<f64>,
    dd: Vec<f64>,
    masked: Vec<f64>,
    d_sum: Vec<f64>,
    persons_with_responses: f64,
    score_counts: Vec<f64>,
    observed: Vec<Vec<f64>>,
    complete: usize,
}

/// Runs the pass.
pub(crate) fn person_pass(
    request: &PassRequest<'_>,
    cancel: &AtomicBool,
) -> Result<PassResult, PredictionError> {
    let responses = request.responses;
    let items = request.items;
    let n = items.len();
    let n_persons = responses.n_persons();
    let categories: Vec<usize> = items.iter().map(|i| i.n_categories()).collect();
    let mut offsets = Vec::with_capacity(n);
    let mut width = 0;
    for &k in &categories {
        offsets.push(width);
        width += k - 1;
    }
    let max_score: usize = categories.iter().map(|k| k - 1).sum();
    let any_missing = (0..n_persons).any(|p| {
        let answered = responses.responses_of(p).count();
        answered > 0 && answered < n
    });
    let masked_rows = width + 3 * n;
    let evaluators: Vec<Evaluator<'_>> = items.iter().map(Evaluator::of).collect();
    let max_k = categories.iter().copied().max().unwrap_or(2);
    let n_blocks = n_persons.div_ceil(BLOCK);
    let threads = rayon::current_num_threads().max(1);
    let make = || Chunk {
        persons: Vec::new(),
        items: vec![FitSums::default(); n],
        yy: if request.grams {
            vec![0.0; width * width]
        } else {
            Vec::new()
        },
        dd: if request.grams {
            vec![0.0; n * n]
        } else {
            Vec::new()
        },
        masked: if request.grams && any_missing {
            vec![0.0; masked_rows * n]
        } else {
            Vec::new()
        },
        d_sum: vec![0.0; n],
        persons_with_responses: 0.0,
        score_counts: if request.sum_scores {
            vec![0.0; max_score + 1]
        } else {
            Vec::new()
        },
        observed: if request.sum_scores {
            categories
                .iter()
                .map(|&k| vec![0.0; (max_score + 1) * k])
                .collect()
        } else {
            Vec::new()
        },
        complete: 0,
    };
    let chunks = chunked_by(n_blocks, threads, make, |chunk, block| {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let lo = block * BLOCK;
        let hi = ((block + 1) * BLOCK).min(n_persons);
        let rows = hi - lo;
        let mut y_block = if request.grams {
            vec![0.0; rows * width]
        } else {
            Vec::new()
        };
        let mut d_block = if request.grams {
            vec![0.0; rows * n]
        } else {
            Vec::new()
        };
        let use_mask = request.grams && any_missing;
        let mut z_block = if use_mask {
            vec![0.0; rows * masked_rows]
        } else {
            Vec::new()
        };
        let mut m_block = if use_mask {
            vec![0.0; rows * n]
        } else {
            Vec::new()
        };
        let mut p = vec![0.0; max_k];
        let mut logs = vec![0.0; max_k];
        for (row, person) in (lo..hi).enumerate() {
            let Some(theta) = request.thetas.get(person).copied().flatten() else {
                chunk.persons.push(None);
                continue;
            };
            let mut sums = FitSums::default();
            let mut answered = 0usize;
            let mut score = 0usize;
            for (j, code) in responses.responses_of(person) {
                let k = categories[j];
                let x = (code as usize).min(k - 1);
                evaluators[j].probabilities(theta, &mut p[..k], &mut logs[..k]);
                let (terms, residual) = response_terms(&p[..k], &logs[..k], x);
                sums.add(&terms);
                chunk.items[j].add(&terms);
                chunk.d_sum[j] += residual;
                answered += 1;
                score += x;
                if request.grams {
                    d_block[row * n + j] = residual;
                    if x >= 1 {
                        y_block[row * width + offsets[j] + x - 1] = 1.0;
                    }
                    if use_mask {
                        let z = &mut z_block[row * masked_rows..(row + 1) * masked_rows];
                        if x >= 1 {
                            z[offsets[j] + x - 1] = 1.0;
                        }
                        z[width + j] = residual;
                        z[width + n + j] = residual * residual;
                        z[width + 2 * n + j] = 1.0;
                        m_block[row * n + j] = 1.0;
                    }
                }
            }
            if answered == 0 {
                chunk.persons.push(None);
                continue;
            }
            chunk.persons_with_responses += 1.0;
            chunk.persons.push(Some(sums));
            if request.sum_scores && answered == n {
                chunk.complete += 1;
                chunk.score_counts[score] += 1.0;
                for (j, code) in responses.responses_of(person) {
                    let k = categories[j];
                    chunk.observed[j][score * k + (code as usize).min(k - 1)] += 1.0;
                }
            }
        }
        if request.grams && rows > 0 {
            gemm_transposed_a(width, rows, width, &y_block, &y_block, 1.0, &mut chunk.yy);
            gemm_transposed_a(n, rows, n, &d_block, &d_block, 1.0, &mut chunk.dd);
            if use_mask {
                gemm_transposed_a(
                    masked_rows,
                    rows,
                    n,
                    &z_block,
                    &m_block,
                    1.0,
                    &mut chunk.masked,
                );
            }
        }
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(PredictionError::Cancelled);
    }
    let mut persons = Vec::with_capacity(n_persons);
    let mut item_sums = vec![FitSums::default(); n];
    let mut yy = vec![0.0; if request.grams { width * width } else { 0 }];
    let mut dd = vec![0.0; if request.grams { n * n } else { 0 }];
    let mut masked = vec![
        0.0;
        if request.grams && any_missing {
            masked_rows * n
        } else {
            0
        }
    ];
    let mut d_sum = vec![0.0; n];
    let mut with_responses = 0.0;
    let mut score_counts = vec![0.0; if request.sum_scores { max_score + 1 } else { 0 }];
    let mut observed: Vec<Vec<f64>> = if request.sum_scores {
        categories
            .iter()
            .map(|&k| vec![0.0; (max_score + 1) * k])
            .collect()
    } else {
        Vec::new()
    };
    let mut complete = 0usize;
    for mut chunk in chunks {
        persons.append(&mut chunk.persons);
        for (total, part) in item_sums.iter_mut().zip(&chunk.items) {
            total.add(part);
        }
        add_into(&mut yy, &chunk.yy);
        add_into(&mut dd, &chunk.dd);
        add_into(&mut masked, &chunk.masked);
        add_into(&mut d_sum, &chunk.d_sum);
        with_responses += chunk.persons_with_responses;
        add_into(&mut score_counts, &chunk.score_counts);
        for (total, part) in observed.iter_mut().zip(&chunk.observed) {
            add_into(total, part);
        }
        complete += chunk.complete;
    }
    Ok(PassResult {
        persons,
        items: item_sums,
        any_missing,
        grams: request.grams.then_some(Grams {
            offsets,
            width,
            yy,
            dd,
            masked,
            d_sum,
            persons: with_responses,
        }),
        sum_scores: request.sum_scores.then_some(SumScoreTables {
            max_score,
            counts: score_counts,
            observed,
            persons: complete,
        }),
    })
}

fn add_into(total: &mut [f64], part: &[f64]) {
    if total.len() == part.len() {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_terms_of_a_right_wrong_item() {
        let p = [0.3, 0.7];
        let (terms, residual) = response_terms(&p, &p.map(f64::ln), 1);
        assert!((residual - 0.3).abs() < 1e-12);
        assert!((terms.w - 0.21).abs() < 1e-12);
        assert!((terms.l0 - 0.7f64.ln()).abs() < 1e-12);
        // C = p q⁴ + q p⁴ for a Bernoulli.
        let c = 0.7 * 0.3f64.powi(4) + 0.3 * 0.7f64.powi(4);
        assert!((terms.c_over_w2 - c / (0.21 * 0.21)).abs() < 1e-12);
        let var = 0.3 * 0.7 * (0.7f64.ln() - 0.3f64.ln()).powi(2);
        assert!((terms.variance_l0 - var).abs() < 1e-12);
    }

    #[test]
    fn logistic_shortcut_equals_the_general_route() {
        let item = ItemParameters::dichotomous("q", 1.3, 0.3, 0.0, 1.0);
        let fast = Evaluator::of(&item);
        assert!(matches!(fast, Evaluator::Logistic { .. }));
        let general = Evaluator::General(&item);
        for theta in [-40.0, -3.0, -0.2, 0.0, 0.31, 2.5, 40.0] {
            let (mut p, mut logs) = ([0.0; 2], [0.0; 2]);
            let (mut q, mut q_logs) = ([0.0; 2], [0.0; 2]);
            fast.probabilities(theta, &mut p, &mut logs);
            general.probabilities(theta, &mut q, &mut q_logs);
            for k in 0..2 {
                assert!((p[k] - q[k]).abs() < 1e-15, "θ {theta}: {p:?} vs {q:?}");
                // (Where 1 − p rounds to 0 the general route has no logarithm; the shortcut
                // keeps the tiny probability's.)
                assert!(
                    q[k] < 1e-12 || (logs[k] - q_logs[k]).abs() < 1e-12 * (1.0 + q_logs[k].abs()),
                    "θ {theta}: {logs:?} vs {q_logs:?}"
                );
                let (a, ra) = response_terms(&p, &logs, k);
                let (b, rb) = response_terms(&q, &q_logs, k);
                assert!((ra - rb).abs() < 1e-15);
                assert!((a.l0 - b.l0).abs() < 1e-12 * (1.0 + b.l0.abs()));
                assert!((a.variance_l0 - b.variance_l0).abs() < 1e-10);
            }
        }
    }
}

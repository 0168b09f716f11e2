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
use crate::prediction::estimation::estep::{
    add_into, chunked_by, exp_non_positive, sum_lanes, zeros_written,
};
use crate::prediction::linalg::gemm_transposed_a;
use crate::prediction::model::ItemParameters;
use crate::prediction::responses::{MISSING, ResponseMatrix};

/// Persons handled per block (one matrix product per block and accumulator; the block's
/// tables stay in cache).
const BLOCK: usize = 256;

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
    /// Number of sums.
    const FIELDS: usize = 9;

    /// The sums in field order.
    fn to_array(self) -> [f64; FitSums::FIELDS] {
        [
            self.n,
            self.l0,
            self.expected_l0,
            self.variance_l0,
            self.z2,
            self.c_over_w2,
            self.y2,
            self.w,
            self.c_minus_w2,
        ]
    }

    /// The sums from `values` in field order.
    fn from_array(values: [f64; FitSums::FIELDS]) -> FitSums {
        let [
            n,
            l0,
            expected_l0,
            variance_l0,
            z2,
            c_over_w2,
            y2,
            w,
            c_minus_w2,
        ] = values;
        FitSums {
            n,
            l0,
            expected_l0,
            variance_l0,
            z2,
            c_over_w2,
            y2,
            w,
            c_minus_w2,
        }
    }

    fn add(&mut self, other: &FitSums) {
        let (mine, theirs) = (self.to_array(), other.to_array());
        *self = FitSums::from_array(std::array::from_fn(|f| mine[f] + theirs[f]));
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

/// Lanes of the right/wrong route: items are taken eight at a time.
const LANES: usize = 8;

/// The columns of [`LogisticRows`]' per-item terms: first the sums of [`FitSums`] in field
/// order (the first, `n`, is 1 for an answered item), then the right answer (0/1) and the
/// residual.
const ANSWERED: usize = 0;
const RIGHT: usize = FitSums::FIELDS;
const RESIDUAL: usize = FitSums::FIELDS + 1;
const COLUMNS: usize = FitSums::FIELDS + 2;

/// All ones when `condition`, else zero: a select without a branch, so that the lanes stay
/// vectorised (the compiler turns a plain `if` on unpredictable data into a jump).
#[inline(always)]
fn pick(condition: bool, yes: f64, no: f64) -> f64 {
    let mask = 0u64.wrapping_sub(u64::from(condition));
    f64::from_bits((yes.to_bits() & mask) | (no.to_bits() & !mask))
}

/// `ln(1 + e)` for `0 ≤ e ≤ 1`, branch-free: `2 atanh(u)` with `u = e / (2 + e) ≤ 1/3`, by its
/// series to `u³³` (the next term is below 1e−17 of the sum).
#[inline(always)]
fn ln_one_plus_unit(e: f64) -> f64 {
    // 1/33, 1/31, …, 1/3, 1: Horner's scheme in u², written out so that it unrolls.
    const ODD_RECIPROCALS: [f64; 17] = [
        1.0 / 33.0,
        1.0 / 31.0,
        1.0 / 29.0,
        1.0 / 27.0,
        1.0 / 25.0,
        1.0 / 23.0,
        1.0 / 21.0,
        1.0 / 19.0,
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
        1.0,
    ];
    let u = e / (2.0 + e);
    let u2 = u * u;
    let mut p = 0.0;
    for c in ODD_RECIPROCALS {
        p = p * u2 + c;
    }
    2.0 * u * p
}

/// Dense responses to right/wrong logistic items (`P(1 | θ) = 1 / (1 + exp(−(aθ + d)))`): one
/// person's terms are computed item-wise in lanes, with the closed forms of a Bernoulli item
/// (`W = PQ`, `C = W(1 − 3W)`, `Var ln P = W z²`), one exp and one series logarithm per item,
/// instead of the general route's loops over categories response by response.
struct LogisticRows {
    /// Items, padded to a multiple of [`LANES`].
    padded: usize,
    /// Slopes and intercepts, zero in the padding.
    a: Vec<f64>,
    d: Vec<f64>,
}

impl LogisticRows {
    /// The route, when the responses are dense and every item is a logistic right/wrong one.
    fn of(responses: &ResponseMatrix, evaluators: &[Evaluator<'_>]) -> Option<LogisticRows> {
        if responses.is_sparse() {
            return None;
        }
        let padded = evaluators.len().div_ceil(LANES) * LANES;
        let (mut a, mut d) = (vec![0.0; padded], vec![0.0; padded]);
        for (j, evaluator) in evaluators.iter().enumerate() {
            let Evaluator::Logistic {
                a: slope,
                d: intercept,
            } = evaluator
            else {
                return None;
            };
            a[j] = *slope;
            d[j] = *intercept;
        }
        Some(LogisticRows { padded, a, d })
    }

    /// Writes one person's terms (codes padded with [`MISSING`] to `padded`) to `terms`
    /// (`COLUMNS × padded`, zero where not answered), adds them to the items' `columns`
    /// (the same shape) and returns the person's sums of each column.
    fn person(
        &self,
        theta: f64,
        codes: &[u8],
        terms: &mut [f64],
        columns: &mut [f64],
    ) -> [f64; COLUMNS] {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            return unsafe { self.person_avx2(theta, codes, terms, columns) };
        }
        self.person_portable(theta, codes, terms, columns)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn person_avx2(
        &self,
        theta: f64,
        codes: &[u8],
        terms: &mut [f64],
        columns: &mut [f64],
    ) -> [f64; COLUMNS] {
        self.person_portable(theta, codes, terms, columns)
    }

    #[inline(always)]
    fn person_portable(
        &self,
        theta: f64,
        codes: &[u8],
        terms: &mut [f64],
        columns: &mut [f64],
    ) -> [f64; COLUMNS] {
        let padded = self.padded;
        let (codes, a, d) = (&codes[..padded], &self.a[..padded], &self.d[..padded]);
        let terms = &mut terms[..COLUMNS * padded];
        {
            // One loop over the items writing every column, so that it vectorises.
            let mut split = terms.chunks_exact_mut(padded);
            let mut next = || split.next().unwrap_or_default();
            let [
                answered_column,
                l0_column,
                expected_l0_column,
                variance_l0_column,
                z2_column,
                c_over_w2_column,
                y2_column,
                w_column,
                c_minus_w2_column,
                right_column,
                residual_column,
            ]: [&mut [f64]; COLUMNS] = std::array::from_fn(|_| {
                // Of known length, so that the loop's indexing needs no checks.
                let column = next();
                &mut column[..padded]
            });
            for j in 0..padded {
                let code = codes[j];
                let answered = code != MISSING;
                let right = answered && code >= 1;
                let x = pick(right, 1.0, 0.0);
                let z = a[j] * theta + d[j];
                let positive = z >= 0.0;
                // The likelier category has 1/(1 + e) and log −ln(1 + e), the other e/(1 + e)
                // and −|z| below that.
                let e = exp_non_positive(-z.abs());
                let likelier = 1.0 / (1.0 + e);
                let other = e * likelier;
                let log_likelier = -ln_one_plus_unit(e);
                let log_other = log_likelier - z.abs();
                let (p1, p0) = (
                    pick(positive, likelier, other),
                    pick(positive, other, likelier),
                );
                let (log_p1, log_p0) = (
                    pick(positive, log_likelier, log_other),
                    pick(positive, log_other, log_likelier),
                );
                // mirt sets the log of a vanishing probability of the observed category to 0.
                let px = pick(right, p1, p0);
                let l0 = pick(px < f64::EPSILON, 0.0, pick(right, log_p1, log_p0));
                let pq = likelier * other;
                let c4 = pq * (1.0 - 3.0 * pq);
                let w = pick(pq * pq < 1e-5, 1e-5f64.sqrt(), pq);
                let inverse_w = 1.0 / w;
                let y = x - p1;
                let mask = pick(answered, 1.0, 0.0);
                answered_column[j] = mask;
                right_column[j] = x;
                l0_column[j] = mask * l0;
                expected_l0_column[j] = mask * (p1 * log_p1 + p0 * log_p0);
                variance_l0_column[j] = mask * pq * z * z;
                z2_column[j] = mask * y * y * inverse_w;
                c_over_w2_column[j] = mask * c4 * inverse_w * inverse_w;
                y2_column[j] = mask * y * y;
                w_column[j] = mask * w;
                c_minus_w2_column[j] = mask * (c4 - w * w);
                residual_column[j] = mask * y;
            }
        }
        add_into(&mut columns[..COLUMNS * padded], terms);
        std::array::from_fn(|c| sum_lanes(&terms[c * padded..(c + 1) * padded]))
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

/// Accumulators of one chunk of blocks, and its block buffers.
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
    /// The right/wrong route's item columns (`COLUMNS × padded`) and right answers per sum
    /// score of the complete cases (`(max + 1) × padded`).
    columns: Vec<f64>,
    right_by_score: Vec<f64>,
    /// One block's `Y`, `D` and (with missing responses) `[Y D D² M]` and `M`, row-major.
    y_block: Vec<f64>,
    d_block: Vec<f64>,
    z_block: Vec<f64>,
    m_block: Vec<f64>,
}

impl Chunk {
    /// Moves the right/wrong route's columns into the per-item sums, the residual sums and
    /// the observed sum-score tables.
    fn finish_logistic(&mut self, padded: usize) {
        let n = self.items.len();
        if self.columns.is_empty() {
            return;
        }
        let columns = &self.columns;
        for (j, item) in self.items.iter_mut().enumerate() {
            item.add(&fit_sums(|c| columns[c * padded + j]));
            self.d_sum[j] += columns[RESIDUAL * padded + j];
        }
        for (j, observed) in self.observed.iter_mut().enumerate().take(n) {
            for (score, &count) in self.score_counts.iter().enumerate() {
                let right = self.right_by_score[score * padded + j];
                observed[score * 2] += count - right;
                observed[score * 2 + 1] += right;
            }
        }
    }
}

/// The [`FitSums`] held in the right/wrong route's first columns, `value(column)` each.
fn fit_sums(value: impl Fn(usize) -> f64) -> FitSums {
    FitSums::from_array(std::array::from_fn(value))
}

/// Runs the pass.
pub(crate) fn person_pass(
    request: &PassRequest<'_>,
    cancel: &AtomicBool,
) -> Result<PassResult, PredictionError> {
    person_pass_by(request, true, cancel)
}

/// Runs the pass, by the right/wrong route when `fast` and the data allow it.
fn person_pass_by(
    request: &PassRequest<'_>,
    fast: bool,
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
    let logistic = if fast {
        LogisticRows::of(responses, &evaluators)
    } else {
        None
    };
    let padded = logistic.as_ref().map_or(0, |route| route.padded);
    let max_k = categories.iter().copied().max().unwrap_or(2);
    let n_blocks = n_persons.div_ceil(BLOCK);
    let threads = rayon::current_num_threads().max(1);
    let use_mask = request.grams && any_missing;
    let sized = |wanted: bool, len: usize| {
        if wanted {
            zeros_written(len)
        } else {
            Vec::new()
        }
    };
    let make = || Chunk {
        persons: Vec::new(),
        items: vec![FitSums::default(); n],
        yy: sized(request.grams, width * width),
        dd: sized(request.grams, n * n),
        masked: sized(use_mask, masked_rows * n),
        d_sum: vec![0.0; n],
        persons_with_responses: 0.0,
        score_counts: sized(request.sum_scores, max_score + 1),
        observed: if request.sum_scores {
            categories
                .iter()
                .map(|&k| vec![0.0; (max_score + 1) * k])
                .collect()
        } else {
            Vec::new()
        },
        complete: 0,
        columns: sized(logistic.is_some(), COLUMNS * padded),
        right_by_score: sized(
            logistic.is_some() && request.sum_scores,
            (max_score + 1) * padded,
        ),
        y_block: sized(request.grams, BLOCK.min(n_persons) * width),
        d_block: sized(request.grams, BLOCK.min(n_persons) * n),
        z_block: sized(use_mask, BLOCK.min(n_persons) * masked_rows),
        m_block: sized(use_mask, BLOCK.min(n_persons) * n),
    };
    let chunks = chunked_by(n_blocks, threads, make, |chunk, block| {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let lo = block * BLOCK;
        let hi = ((block + 1) * BLOCK).min(n_persons);
        let rows = hi - lo;
        if logistic.is_none() {
            // The general route writes only the answered cells of a row.
            for buffer in [
                &mut chunk.y_block,
                &mut chunk.d_block,
                &mut chunk.z_block,
                &mut chunk.m_block,
            ] {
                buffer.fill(0.0);
            }
        }
        let mut p = vec![0.0; max_k];
        let mut logs = vec![0.0; max_k];
        let mut codes = vec![MISSING; padded];
        let mut terms = vec![0.0; COLUMNS * padded];
        for (row, person) in (lo..hi).enumerate() {
            let theta = request.thetas.get(person).copied().flatten();
            if let (Some(route), Some(dense)) = (&logistic, responses.dense_row(person)) {
                let Some(theta) = theta else {
                    chunk.persons.push(None);
                    for (buffer, len) in [
                        (&mut chunk.y_block, width),
                        (&mut chunk.d_block, n),
                        (&mut chunk.z_block, masked_rows),
                        (&mut chunk.m_block, n),
                    ] {
                        if !buffer.is_empty() {
                            buffer[row * len..(row + 1) * len].fill(0.0);
                        }
                    }
                    continue;
                };
                codes[..n].copy_from_slice(dense);
                let sums = route.person(theta, &codes, &mut terms, &mut chunk.columns);
                let residuals = &terms[RESIDUAL * padded..RESIDUAL * padded + n];
                let right = &terms[RIGHT * padded..RIGHT * padded + n];
                if request.grams {
                    chunk.d_block[row * n..(row + 1) * n].copy_from_slice(residuals);
                    chunk.y_block[row * width..(row + 1) * width].copy_from_slice(right);
                    if use_mask {
                        let z = &mut chunk.z_block[row * masked_rows..(row + 1) * masked_rows];
                        let m = &mut chunk.m_block[row * n..(row + 1) * n];
                        for j in 0..n {
                            let answered = if dense[j] == MISSING { 0.0 } else { 1.0 };
                            z[j] = right[j];
                            z[width + j] = residuals[j];
                            z[width + n + j] = residuals[j] * residuals[j];
                            z[width + 2 * n + j] = answered;
                            m[j] = answered;
                        }
                    }
                }
                if sums[ANSWERED] == 0.0 {
                    chunk.persons.push(None);
                    continue;
                }
                chunk.persons_with_responses += 1.0;
                chunk.persons.push(Some(fit_sums(|c| sums[c])));
                if request.sum_scores && sums[ANSWERED] as usize == n {
                    let score = sums[RIGHT] as usize;
                    chunk.complete += 1;
                    chunk.score_counts[score] += 1.0;
                    add_into(
                        &mut chunk.right_by_score[score * padded..(score + 1) * padded],
                        &terms[RIGHT * padded..(RIGHT + 1) * padded],
                    );
                }
                continue;
            }
            let Some(theta) = theta else {
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
                    chunk.d_block[row * n + j] = residual;
                    if x >= 1 {
                        chunk.y_block[row * width + offsets[j] + x - 1] = 1.0;
                    }
                    if use_mask {
                        let z = &mut chunk.z_block[row * masked_rows..(row + 1) * masked_rows];
                        if x >= 1 {
                            z[offsets[j] + x - 1] = 1.0;
                        }
                        z[width + j] = residual;
                        z[width + n + j] = residual * residual;
                        z[width + 2 * n + j] = 1.0;
                        chunk.m_block[row * n + j] = 1.0;
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
            let Chunk {
                yy,
                dd,
                masked,
                y_block,
                d_block,
                z_block,
                m_block,
                ..
            } = chunk;
            gemm_transposed_a(width, rows, width, y_block, y_block, 1.0, yy);
            gemm_transposed_a(n, rows, n, d_block, d_block, 1.0, dd);
            if use_mask {
                gemm_transposed_a(masked_rows, rows, n, z_block, m_block, 1.0, masked);
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
    let mut masked = vec![0.0; if use_mask { masked_rows * n } else { 0 }];
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
        chunk.finish_logistic(padded);
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
    fn series_logarithm_matches_the_standard_library() {
        for i in 0..=1000 {
            let e = i as f64 / 1000.0;
            let (got, expected) = (ln_one_plus_unit(e), e.ln_1p());
            assert!(
                (got - expected).abs() <= 4.5e-16 * expected + 1e-300,
                "ln(1 + {e}) = {got}, not {expected}"
            );
        }
        assert_eq!(ln_one_plus_unit(0.0), 0.0);
        assert!((ln_one_plus_unit(1e-300) - 1e-300).abs() < 1e-315);
    }

    /// Every number the right/wrong route gathers equals the general route's, with missing
    /// responses, a person without θ, a person without answers, extreme logits (vanishing
    /// probabilities) and an item count that is not a multiple of the lanes.
    #[test]
    fn right_wrong_route_equals_the_general_route() {
        let n = 11;
        let items: Vec<ItemParameters> = (0..n)
            .map(|j| {
                let a = if j == 3 { 40.0 } else { 0.4 + 0.25 * j as f64 };
                ItemParameters::dichotomous(format!("i{j}"), a, -2.0 + 0.4 * j as f64, 0.0, 1.0)
            })
            .collect();
        let persons = 2500;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut thetas = Vec::with_capacity(persons);
        let mut codes = Vec::with_capacity(persons * n);
        for p in 0..persons {
            let theta = if p % 500 == 7 {
                30.0
            } else {
                6.0 * next() - 3.0
            };
            thetas.push((p != 11).then_some(theta));
            for (j, item) in items.iter().enumerate() {
                let mut probabilities = [0.0; 2];
                item.probabilities_into(theta, &mut probabilities);
                let code = u8::from(next() < probabilities[1]);
                let missing = p == 12 || (p % 3 == 0 && (p + j) % 4 == 0);
                codes.push(if missing { MISSING } else { code });
            }
        }
        let responses = ResponseMatrix::from_codes(
            (0..persons).map(|p| format!("p{p}")).collect(),
            items.iter().map(|i| i.item.clone()).collect(),
            codes,
        )
        .unwrap();
        let request = PassRequest {
            responses: &responses,
            items: &items,
            thetas: &thetas,
            grams: true,
            sum_scores: true,
        };
        let cancel = AtomicBool::new(false);
        let fast = person_pass_by(&request, true, &cancel).unwrap();
        let general = person_pass_by(&request, false, &cancel).unwrap();
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                "{what}: {a} by the right/wrong route, {b} by the general route"
            );
        };
        let sums = |s: &FitSums| s.to_array();
        assert!(fast.any_missing && general.any_missing);
        assert_eq!(fast.persons.len(), general.persons.len());
        assert!(fast.persons[11].is_none() && fast.persons[12].is_none());
        for (p, (a, b)) in fast.persons.iter().zip(&general.persons).enumerate() {
            assert_eq!(a.is_some(), b.is_some(), "person {p}");
            if let (Some(a), Some(b)) = (a, b) {
                for (x, y) in sums(a).into_iter().zip(sums(b)) {
                    close(x, y, &format!("person {p}"));
                }
            }
        }
        for (j, (a, b)) in fast.items.iter().zip(&general.items).enumerate() {
            for (x, y) in sums(a).into_iter().zip(sums(b)) {
                close(x, y, &format!("item {j}"));
            }
        }
        let (a, b) = (fast.grams.unwrap(), general.grams.unwrap());
        for (what, x, y) in [
            ("YᵀY", &a.yy, &b.yy),
            ("DᵀD", &a.dd, &b.dd),
            ("masked", &a.masked, &b.masked),
            ("Σd", &a.d_sum, &b.d_sum),
        ] {
            assert_eq!(x.len(), y.len(), "{what}");
            assert!(!x.is_empty(), "{what}");
            for (u, v) in x.iter().zip(y) {
                close(*u, *v, what);
            }
        }
        assert_eq!(a.persons, b.persons);
        let (a, b) = (fast.sum_scores.unwrap(), general.sum_scores.unwrap());
        assert_eq!((a.persons, &a.counts), (b.persons, &b.counts));
        assert_eq!(a.observed, b.observed);
        assert!(a.persons > 1000);
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

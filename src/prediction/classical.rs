//! Classical test theory: the item and test statistics researchers look at before (and beside)
//! any IRT model, computed in one streaming pass over the response matrix (two with the
//! upper–lower index), so that 100,000 persons × 100 items take a few tens of milliseconds.
//!
//! Items are scored by category code, 0 to K−1, so an item's maximum score is K−1. A person's
//! **total score** is the sum of the scores of the items they answered (a missing response adds
//! nothing). Which persons each statistic uses is part of the result ([`StatisticBasis`]):
//!
//! - per item — mean, difficulty, SD, item–total and item–rest correlations: the persons who
//!   answered the item;
//! - the upper–lower index: all persons grouped by total score, the item's mean score among
//!   those of the lowest and the highest group who answered it;
//! - Cronbach's alpha, alpha if an item is dropped, the split halves and the standard error of
//!   measurement: the persons who answered every item (complete cases);
//! - the test's mean, SD, score distribution and the standard scores: every person.
//!
//! Formulas and sources:
//!
//! - difficulty = mean item score / maximum score; the upper–lower index ULI = (mean of the
//!   upper group − mean of the lower group) / maximum score, groups cut at the total score's
//!   quantiles (R's type 7) with a score equal to a cut point going to the higher group — as
//!   ShinyItemAnalysis's `ItemAnalysis` and `gDiscrim` (Martinková et al., 2017);
//! - RIT = corr(item, total), RIR = corr(item, total − item) (Allen & Yen, 1979);
//! - Cronbach's alpha α = k/(k−1)·(1 − Σ s²_j / s²_X) (Cronbach, 1951), alpha if item j is
//!   dropped from the same sums with s²_{X−j} = s²_X − 2·cov(j, X) + s²_j;
//! - Feldt's 95 % interval: [1 − (1 − α)·F_{0.975}, 1 − (1 − α)·F_{0.025}] with n − 1 and
//!   (n − 1)(k − 1) degrees of freedom (Feldt, Woodruff & Salih, 1987; as psych's `alpha.ci`);
//! - split-half reliability: the correlation r of the two halves' scores (first ⌊k/2⌋ items
//!   against the rest, and odd against even items) stepped up by Spearman–Brown, 2r/(1 + r);
//! - standard error of measurement SEM = s_X·√(1 − α) on the complete cases;
//! - standard scores: z = (X − mean)/SD, T = 50 + 10·z, percentile = 100 × the proportion of
//!   persons with a total score at most X (the empirical distribution function, as
//!   ShinyItemAnalysis), success rate = 100 × X / the maximum score of the items answered.
//!
//! Variances and covariances are sums of integer products, accumulated exactly in integers and
//! divided once at the end (no cancellation), with n − 1 in the denominator.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::PredictionError;
use super::responses::ResponseMatrix;
use super::special_functions::f_quantile;

/// Classical statistics of one item (the short form shown beside the IRT estimates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemStatistics {
    /// Item name.
    pub item: String,
    /// Mean item score over the maximum score, among those who answered (`None` when nobody
    /// did); the proportion correct for right/wrong items.
    pub p_value: Option<f64>,
    /// Number of responses.
    pub n: usize,
    /// Pearson correlation of the item score with the sum of the person's other answered items,
    /// over the persons who answered the item (`None` when either has no variance).
    pub item_rest_r: Option<f64>,
}

/// Classical statistics of a test (the short form shown beside the IRT estimates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicalStatistics {
    /// One entry per item, in data order.
    pub items: Vec<ItemStatistics>,
    /// Cronbach's alpha over the persons who answered every item (`None` with fewer than two
    /// such persons or zero total variance).
    pub cronbach_alpha: Option<f64>,
    /// Number of persons with complete responses, on which alpha is computed.
    pub alpha_persons: usize,
}

/// Pearson correlation of pairs; `None` with fewer than two pairs or no variance.
pub fn correlation(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs {
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let vx = sxx - sx * sx / n;
    let vy = syy - sy * sy / n;
    (n >= 2.0 && vx > 1e-12 && vy > 1e-12).then(|| (sxy - sx * sy / n) / (vx * vy).sqrt())
}

/// Computes the short classical statistics of every item and the test (see
/// [`classical_analysis`] for the full analysis they are taken from).
pub fn classical_statistics(responses: &ResponseMatrix) -> ClassicalStatistics {
    classical_analysis_unchecked(responses, &ClassicalSettings::default()).statistics()
}

/// Settings of the classical analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassicalSettings {
    /// Number of total-score groups for the upper–lower index (2 to 10; 3 by default, as in
    /// ShinyItemAnalysis).
    pub uli_groups: usize,
    /// The lower group compared, 1 = the lowest.
    pub uli_lower: usize,
    /// The upper group compared; `None` = the highest.
    pub uli_upper: Option<usize>,
}

impl Default for ClassicalSettings {
    fn default() -> Self {
        ClassicalSettings {
            uli_groups: 3,
            uli_lower: 1,
            uli_upper: None,
        }
    }
}

impl ClassicalSettings {
    /// The upper group compared (1-based).
    pub fn upper_group(&self) -> usize {
        self.uli_upper.unwrap_or(self.uli_groups)
    }

    /// Checks the settings: 2 ≤ groups ≤ 10 and 1 ≤ lower < upper ≤ groups.
    pub fn validate(&self) -> Result<(), PredictionError> {
        if !(2..=10).contains(&self.uli_groups) {
            return Err(PredictionError::InvalidSetting(format!(
                "the upper–lower index needs 2 to 10 score groups, got {}",
                self.uli_groups
            )));
        }
        let upper = self.upper_group();
        if self.uli_lower < 1 || self.uli_lower >= upper || upper > self.uli_groups {
            return Err(PredictionError::InvalidSetting(format!(
                "the upper–lower index compares group {} with group {upper}; they must satisfy 1 ≤ lower < upper ≤ {} (the number of groups)",
                self.uli_lower, self.uli_groups
            )));
        }
        Ok(())
    }
}

/// The classical statistics of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicalItem {
    /// Item name.
    pub item: String,
    /// Number of categories K.
    pub n_categories: usize,
    /// The maximum score K − 1.
    pub max_score: usize,
    /// Persons who answered the item.
    pub n_answered: usize,
    /// Mean item score among them.
    pub mean: Option<f64>,
    /// Difficulty: mean score / maximum score (the proportion correct of a right/wrong item).
    pub difficulty: Option<f64>,
    /// Standard deviation of the item score (n − 1 denominator).
    pub sd: Option<f64>,
    /// Item–total correlation RIT.
    pub rit: Option<f64>,
    /// Item–rest correlation RIR (total without the item).
    pub rir: Option<f64>,
    /// Upper–lower index (see [`ClassicalSettings`]).
    pub uli: Option<f64>,
    /// Cronbach's alpha of the test without this item (complete cases).
    pub alpha_if_dropped: Option<f64>,
    /// Percent of persons who did not answer the item (not-reached included).
    pub missing_percent: f64,
    /// Percent of persons who answered no item from this one to the last (not reached).
    pub not_reached_percent: f64,
}

/// A split-half reliability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitHalf {
    /// Items in the first half.
    pub items_first: usize,
    /// Items in the second half.
    pub items_second: usize,
    /// Correlation of the two halves' scores.
    pub correlation: Option<f64>,
    /// Spearman–Brown step-up 2r/(1 + r): the reliability of the whole test.
    pub spearman_brown: Option<f64>,
}

/// The classical statistics of the test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicalTest {
    /// Persons.
    pub n_persons: usize,
    /// Items.
    pub n_items: usize,
    /// The highest possible total score.
    pub max_total: usize,
    /// Mean total score (every person).
    pub mean: Option<f64>,
    /// Standard deviation of the total score (every person, n − 1 denominator).
    pub sd: Option<f64>,
    /// Lowest total score.
    pub min: Option<usize>,
    /// Median total score.
    pub median: Option<f64>,
    /// Highest total score.
    pub max: Option<usize>,
    /// Persons who answered every item: the basis of alpha, the split halves and the SEM.
    pub complete_cases: usize,
    /// Cronbach's alpha.
    pub alpha: Option<f64>,
    /// Feldt's 95 % confidence interval of alpha.
    pub alpha_ci95: Option<[f64; 2]>,
    /// First half of the items against the second.
    pub split_half_first_last: SplitHalf,
    /// Odd-numbered items against even-numbered ones.
    pub split_half_odd_even: SplitHalf,
    /// Standard error of measurement, SD·√(1 − α) on the complete cases.
    pub sem: Option<f64>,
    /// Total scores and how many persons have each (only scores that occur).
    pub total_distribution: Vec<(usize, usize)>,
}

/// A person's total score and standard scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardScore {
    /// Person identifier.
    pub id: String,
    /// Items answered.
    pub n_answered: usize,
    /// Total score (sum of the answered items' scores).
    pub total_score: usize,
    /// z score, (total − mean)/SD over every person.
    pub z: Option<f64>,
    /// T score, 50 + 10·z.
    pub t: Option<f64>,
    /// Percentile rank: percent of persons with a total score at most this one.
    pub percentile: f64,
    /// Percent of the maximum score of the items answered (`None` when none were).
    pub success_rate: Option<f64>,
}

/// Which persons a statistic used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatisticBasis {
    /// The statistic(s).
    pub statistic: String,
    /// How many persons (for per-item statistics: the fewest over the items).
    pub persons: usize,
    /// Which persons, in words.
    pub rule: String,
}

/// The classical test analysis: item table, test table, standard scores, and which persons
/// each statistic used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicalAnalysis {
    /// The settings used.
    pub settings: ClassicalSettings,
    /// One entry per item, in data order.
    pub items: Vec<ClassicalItem>,
    /// The test.
    pub test: ClassicalTest,
    /// One entry per person, in data order.
    pub persons: Vec<StandardScore>,
    /// Which persons each statistic used.
    pub basis: Vec<StatisticBasis>,
}

/// Exact integer sums over the persons who answered one item.
#[derive(Clone, Copy, Default)]
struct ItemSums {
    n: u64,
    x: u64,
    xx: u64,
    xt: u128,
    t: u128,
    tt: u128,
}

/// Exact integer sums of two scores u, v over persons.
#[derive(Clone, Copy, Default)]
struct PairSums {
    u: u128,
    uu: u128,
    v: u128,
    vv: u128,
    uv: u128,
}

impl PairSums {
    fn add(&mut self, u: u64, v: u64) {
        let (u, v) = (u as u128, v as u128);
        self.u += u;
        self.uu += u * u;
        self.v += v;
        self.vv += v * v;
        self.uv += u * v;
    }

    fn merge(&mut self, o: &PairSums) {
        self.u += o.u;
        self.uu += o.uu;
        self.v += o.v;
        self.vv += o.vv;
        self.uv += o.uv;
    }

    fn correlation(&self, n: u64) -> Option<f64> {
        let suu = centered(n, self.uu, self.u, self.u);
        let svv = centered(n, self.vv, self.v, self.v);
        let suv = centered(n, self.uv, self.u, self.v);
        (n >= 2 && suu > 0.0 && svv > 0.0).then(|| suv / (suu * svv).sqrt())
    }
}

/// n·Σuv − Σu·Σv, exactly in integers then as f64: n² times the (population) covariance.
fn centered(n: u64, uv: u128, u: u128, v: u128) -> f64 {
    let n = n as i128;
    (n * uv as i128 - u as i128 * v as i128) as f64
}

/// Sums of one chunk of persons.
#[derive(Clone)]
struct Chunk {
    items: Vec<ItemSums>,
    /// Complete cases: per item Σx, Σx², Σx·T.
    complete_items: Vec<(u64, u64, u128)>,
    complete_n: u64,
    complete_t: u128,
    complete_tt: u128,
    first_last: PairSums,
    odd_even: PairSums,
    /// Persons whose first not-reached item is j (index n_items: none).
    not_reached_from: Vec<u64>,
}

impl Chunk {
    fn new(n_items: usize) -> Chunk {
        Chunk {
            items: vec![ItemSums::default(); n_items],
            complete_items: vec![(0, 0, 0); n_items],
            complete_n: 0,
            complete_t: 0,
            complete_tt: 0,
            first_last: PairSums::default(),
            odd_even: PairSums::default(),
            not_reached_from: vec![0; n_items + 1],
        }
    }

    fn merge(mut self, o: Chunk) -> Chunk {
        for (a, b) in self.items.iter_mut().zip(&o.items) {
            a.n += b.n;
            a.x += b.x;
            a.xx += b.xx;
            a.xt += b.xt;
            a.t += b.t;
            a.tt += b.tt;
        }
        for (a, b) in self.complete_items.iter_mut().zip(&o.complete_items) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
        self.complete_n += o.complete_n;
        self.complete_t += o.complete_t;
        self.complete_tt += o.complete_tt;
        self.first_last.merge(&o.first_last);
        self.odd_even.merge(&o.odd_even);
        for (a, b) in self.not_reached_from.iter_mut().zip(&o.not_reached_from) {
            *a += b;
        }
        self
    }
}

/// Persons per parallel chunk.
const CHUNK: usize = 4096;

/// The `p` quantile (R's type 7) of the values whose counts `histogram[v]` gives.
fn histogram_quantile(cumulative: &[usize], p: f64) -> Option<f64> {
    let n = *cumulative.last()?;
    if n == 0 {
        return None;
    }
    // k-th order statistic (0-based): the smallest v with cumulative[v] > k.
    let order = |k: usize| -> f64 { cumulative.partition_point(|&c| c <= k) as f64 };
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let below = order(lo);
    let above = if lo + 1 < n { order(lo + 1) } else { below };
    Some(below + (h - lo as f64) * (above - below))
}

/// Cut points of `n_groups` total-score groups: the quantiles at 1/G, …, (G−1)/G (R's type 7)
/// of the totals counted in `histogram` (`histogram[score]` = persons with that total).
pub fn score_group_cuts(histogram: &[usize], n_groups: usize) -> Vec<f64> {
    let mut cumulative = Vec::with_capacity(histogram.len());
    let mut running = 0usize;
    for &count in histogram {
        running += count;
        cumulative.push(running);
    }
    (1..n_groups)
        .filter_map(|g| histogram_quantile(&cumulative, g as f64 / n_groups as f64))
        .collect()
}

/// The group (0-based) of a total score: the number of cut points at or below it (R's
/// `findInterval`, as ShinyItemAnalysis's `gDiscrim`).
pub fn score_group(total: f64, cuts: &[f64]) -> usize {
    cuts.partition_point(|&c| c <= total)
}

/// The full classical analysis of `responses` (see the module documentation for what is
/// computed, on which persons, and the formulas' sources).
pub fn classical_analysis(
    responses: &ResponseMatrix,
    settings: &ClassicalSettings,
) -> Result<ClassicalAnalysis, PredictionError> {
    settings.validate()?;
    Ok(classical_analysis_unchecked(responses, settings))
}

fn classical_analysis_unchecked(
    responses: &ResponseMatrix,
    settings: &ClassicalSettings,
) -> ClassicalAnalysis {
    let n_items = responses.n_items();
    let n_persons = responses.n_persons();
    let max_scores: Vec<u64> = (0..n_items)
        .map(|j| responses.n_categories(j).max(2) as u64 - 1)
        .collect();
    let max_total: u64 = max_scores.iter().sum();
    let first_half = n_items / 2;

    // Pass 1: totals, item sums, complete-case sums, not-reached counts.
    let mut totals = vec![0u32; n_persons];
    let mut answered = vec![0u32; n_persons];
    let chunk = totals
        .par_chunks_mut(CHUNK)
        .zip(answered.par_chunks_mut(CHUNK))
        .enumerate()
        .fold(
            || Chunk::new(n_items),
            |mut sums, (chunk_index, (totals, answered))| {
                let mut row: Vec<(usize, u8)> = Vec::with_capacity(n_items);
                for (offset, (total_out, answered_out)) in
                    totals.iter_mut().zip(answered.iter_mut()).enumerate()
                {
                    let p = chunk_index * CHUNK + offset;
                    row.clear();
                    row.extend(responses.responses_of(p));
                    let total: u64 = row.iter().map(|&(_, c)| u64::from(c)).sum();
                    *total_out = total as u32;
                    *answered_out = row.len() as u32;
                    let t = total as u128;
                    for &(j, c) in &row {
                        let x = u64::from(c);
                        let s = &mut sums.items[j];
                        s.n += 1;
                        s.x += x;
                        s.xx += x * x;
                        s.xt += x as u128 * t;
                        s.t += t;
                        s.tt += t * t;
                    }
                    let reached = row.last().map_or(0, |&(j, _)| j + 1);
                    sums.not_reached_from[reached] += 1;
                    if row.len() == n_items && n_items > 0 {
                        sums.complete_n += 1;
                        sums.complete_t += t;
                        sums.complete_tt += t * t;
                        let (mut first, mut odd) = (0u64, 0u64);
                        for &(j, c) in &row {
                            let x = u64::from(c);
                            let s = &mut sums.complete_items[j];
                            s.0 += x;
                            s.1 += x * x;
                            s.2 += x as u128 * t;
                            if j < first_half {
                                first += x;
                            }
                            if j % 2 == 0 {
                                odd += x;
                            }
                        }
                        sums.first_last.add(first, total - first);
                        sums.odd_even.add(odd, total - odd);
                    }
                }
                sums
            },
        )
        .reduce(|| Chunk::new(n_items), Chunk::merge);

    // Total-score distribution.
    let mut histogram = vec![0usize; max_total as usize + 1];
    for &t in &totals {
        if let Some(slot) = histogram.get_mut(t as usize) {
            *slot += 1;
        }
    }
    let mut cumulative = Vec::with_capacity(histogram.len());
    let mut running = 0usize;
    for &count in &histogram {
        running += count;
        cumulative.push(running);
    }

    // Pass 2: the upper–lower index's group means.
    let cuts = score_group_cuts(&histogram, settings.uli_groups);
    let lower = settings.uli_lower - 1;
    let upper = settings.upper_group() - 1;
    let group_sums = totals
        .par_chunks(CHUNK)
        .enumerate()
        .fold(
            || vec![[0u64; 4]; n_items],
            |mut sums, (chunk_index, totals)| {
                for (offset, &t) in totals.iter().enumerate() {
                    let group = score_group(f64::from(t), &cuts);
                    let slot = if group == lower {
                        0
                    } else if group == upper {
                        2
                    } else {
                        continue;
                    };
                    let p = chunk_index * CHUNK + offset;
                    for (j, c) in responses.responses_of(p) {
                        sums[j][slot] += 1;
                        sums[j][slot + 1] += u64::from(c);
                    }
                }
                sums
            },
        )
        .reduce(
            || vec![[0u64; 4]; n_items],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    for k in 0..4 {
                        x[k] += y[k];
                    }
                }
                a
            },
        );

    // The test over every person.
    let n = n_persons as u64;
    let sum_t: u128 = totals.iter().map(|&t| t as u128).sum();
    let sum_tt: u128 = totals.iter().map(|&t| (t as u128) * (t as u128)).sum();
    let mean = (n > 0).then(|| sum_t as f64 / n as f64);
    let variance = (n >= 2).then(|| centered(n, sum_tt, sum_t, sum_t) / (n * (n - 1)) as f64);
    let sd = variance.map(|v| v.max(0.0).sqrt());

    // Complete cases: alpha, alpha if dropped, split halves, SEM.
    let m = chunk.complete_n;
    let k = n_items as f64;
    let complete_var = |sum_sq: u128, sum: u128| centered(m, sum_sq, sum, sum);
    let var_total = complete_var(chunk.complete_tt, chunk.complete_t);
    let item_var: Vec<f64> = chunk
        .complete_items
        .iter()
        .map(|s| complete_var(s.1 as u128, s.0 as u128))
        .collect();
    let item_cov_total: Vec<f64> = chunk
        .complete_items
        .iter()
        .map(|s| centered(m, s.2, s.0 as u128, chunk.complete_t))
        .collect();
    let sum_item_var: f64 = item_var.iter().sum();
    // The common factor m² (or m(m−1)) cancels in every ratio below.
    let alpha = (m >= 2 && n_items >= 2 && var_total > 0.0)
        .then(|| k / (k - 1.0) * (1.0 - sum_item_var / var_total));
    let alpha_ci95 = alpha.filter(|_| m >= 3).map(|a| {
        let (d1, d2) = ((m - 1) as f64, (m - 1) as f64 * (k - 1.0));
        [
            1.0 - (1.0 - a) * f_quantile(0.975, d1, d2),
            1.0 - (1.0 - a) * f_quantile(0.025, d1, d2),
        ]
    });
    let sem = alpha.map(|a| {
        let sd = (var_total / (m * (m - 1)) as f64).max(0.0).sqrt();
        sd * (1.0 - a).max(0.0).sqrt()
    });
    let split = |sums: &PairSums, first: usize| {
        let correlation = if m >= 2 { sums.correlation(m) } else { None };
        SplitHalf {
            items_first: first,
            items_second: n_items - first,
            correlation,
            spearman_brown: correlation
                .filter(|r| (1.0 + r).abs() > 1e-12)
                .map(|r| 2.0 * r / (1.0 + r)),
        }
    };
    let split_half_first_last = split(&chunk.first_last, first_half);
    let split_half_odd_even = split(&chunk.odd_even, n_items.div_ceil(2));

    // Items.
    let mut not_reached = vec![0u64; n_items];
    let mut running = 0u64;
    for j in 0..n_items {
        running += chunk.not_reached_from[j];
        not_reached[j] = running;
    }
    let percent = |count: u64| {
        if n_persons == 0 {
            0.0
        } else {
            100.0 * count as f64 / n_persons as f64
        }
    };
    let items: Vec<ClassicalItem> = (0..n_items)
        .map(|j| {
            let s = &chunk.items[j];
            let max_score = max_scores[j] as f64;
            let sxx = centered(s.n, s.xx as u128, s.x as u128, s.x as u128);
            let stt = centered(s.n, s.tt, s.t, s.t);
            let sxt = centered(s.n, s.xt, s.x as u128, s.t);
            let rit = (s.n >= 2 && sxx > 0.0 && stt > 0.0).then(|| sxt / (sxx * stt).sqrt());
            let rest_var = stt - 2.0 * sxt + sxx;
            let rir = (s.n >= 2 && sxx > 0.0 && rest_var > 1e-9)
                .then(|| (sxt - sxx) / (sxx * rest_var).sqrt());
            let item_mean = (s.n > 0).then(|| s.x as f64 / s.n as f64);
            let [nl, sl, nu, su] = group_sums[j];
            let uli = (nl > 0 && nu > 0)
                .then(|| (su as f64 / nu as f64 - sl as f64 / nl as f64) / max_score);
            let alpha_if_dropped = (m >= 2 && n_items >= 3)
                .then(|| {
                    let var_rest = var_total - 2.0 * item_cov_total[j] + item_var[j];
                    (var_rest > 0.0).then(|| {
                        (k - 1.0) / (k - 2.0) * (1.0 - (sum_item_var - item_var[j]) / var_rest)
                    })
                })
                .flatten();
            ClassicalItem {
                item: responses.item_names()[j].clone(),
                n_categories: responses.n_categories(j),
                max_score: max_scores[j] as usize,
                n_answered: s.n as usize,
                mean: item_mean,
                difficulty: item_mean.map(|v| v / max_score),
                sd: (s.n >= 2).then(|| (sxx / (s.n * (s.n - 1)) as f64).max(0.0).sqrt()),
                rit,
                rir,
                uli,
                alpha_if_dropped,
                missing_percent: percent(n - s.n),
                not_reached_percent: percent(not_reached[j]),
            }
        })
        .collect();

    // Persons.
    let max_of_item = &max_scores;
    let persons: Vec<StandardScore> = (0..n_persons)
        .into_par_iter()
        .map(|p| {
            let total = totals[p] as usize;
            let z = match (mean, sd) {
                (Some(mean), Some(sd)) if sd > 0.0 => Some((total as f64 - mean) / sd),
                _ => None,
            };
            let possible: u64 = if answered[p] as usize == n_items {
                max_total
            } else {
                responses.responses_of(p).map(|(j, _)| max_of_item[j]).sum()
            };
            StandardScore {
                id: responses.person_ids()[p].clone(),
                n_answered: answered[p] as usize,
                total_score: total,
                z,
                t: z.map(|z| 50.0 + 10.0 * z),
                percentile: 100.0 * cumulative.get(total).copied().unwrap_or(0) as f64
                    / n_persons.max(1) as f64,
                success_rate: (possible > 0).then(|| 100.0 * total as f64 / possible as f64),
            }
        })
        .collect();

    let total_distribution: Vec<(usize, usize)> = histogram
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(s, c)| (s, *c))
        .collect();
    let min = total_distribution.first().map(|d| d.0);
    let max = total_distribution.last().map(|d| d.0);
    let median = histogram_quantile(&cumulative, 0.5);
    let fewest_answered = items.iter().map(|i| i.n_answered).min().unwrap_or(0);
    let basis = vec![
        StatisticBasis {
            statistic: "mean, difficulty, SD, RIT, RIR, % missing".into(),
            persons: fewest_answered,
            rule: "per item, the persons who answered it (the item table's n); the total is the sum of the items each person answered".into(),
        },
        StatisticBasis {
            statistic: format!(
                "ULI (group {} against group {} of {})",
                settings.upper_group(),
                settings.uli_lower,
                settings.uli_groups
            ),
            persons: n_persons,
            rule: "every person, grouped by total score; per item, those of the two groups who answered it".into(),
        },
        StatisticBasis {
            statistic: "Cronbach's alpha and its interval, alpha if dropped, split halves, SEM".into(),
            persons: m as usize,
            rule: format!(
                "complete cases: the {} of {} persons who answered every item",
                m, n_persons
            ),
        },
        StatisticBasis {
            statistic: "mean, SD and distribution of the total score; standard scores".into(),
            persons: n_persons,
            rule: "every person; a missing response adds nothing to the total".into(),
        },
    ];
    ClassicalAnalysis {
        settings: settings.clone(),
        items,
        test: ClassicalTest {
            n_persons,
            n_items,
            max_total: max_total as usize,
            mean,
            sd,
            min,
            median,
            max,
            complete_cases: m as usize,
            alpha,
            alpha_ci95,
            split_half_first_last,
            split_half_odd_even,
            sem,
            total_distribution,
        },
        persons,
        basis,
    }
}

impl ClassicalAnalysis {
    /// The short statistics shown beside the IRT estimates.
    pub fn statistics(&self) -> ClassicalStatistics {
        ClassicalStatistics {
            items: self
                .items
                .iter()
                .map(|i| ItemStatistics {
                    item: i.item.clone(),
                    p_value: i.difficulty,
                    n: i.n_answered,
                    item_rest_r: i.rir,
                })
                .collect(),
            cronbach_alpha: self.test.alpha,
            alpha_persons: self.test.complete_cases,
        }
    }

    /// The item table: `item, n, max_score, mean, difficulty, sd, rit, rir, uli,
    /// alpha_if_dropped, missing_pct, not_reached_pct`.
    pub fn items_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        use polars::prelude::Column;
        let items = &self.items;
        let float = |name: &str, f: &dyn Fn(&ClassicalItem) -> Option<f64>| {
            Column::new(name.into(), items.iter().map(f).collect::<Vec<_>>())
        };
        let columns = vec![
            Column::new(
                "item".into(),
                items.iter().map(|i| i.item.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n".into(),
                items
                    .iter()
                    .map(|i| i.n_answered as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "max_score".into(),
                items.iter().map(|i| i.max_score as u64).collect::<Vec<_>>(),
            ),
            float("mean", &|i| i.mean),
            float("difficulty", &|i| i.difficulty),
            float("sd", &|i| i.sd),
            float("rit", &|i| i.rit),
            float("rir", &|i| i.rir),
            float("uli", &|i| i.uli),
            float("alpha_if_dropped", &|i| i.alpha_if_dropped),
            float("missing_pct", &|i| Some(i.missing_percent)),
            float("not_reached_pct", &|i| Some(i.not_reached_percent)),
        ];
        polars::prelude::DataFrame::new(items.len(), columns)
            .map_err(|e| PredictionError::Data(e.to_string()))
    }

    /// The test's statistics as rows of (statistic, value, persons used).
    pub fn test_rows(&self) -> Vec<(String, Option<f64>, usize)> {
        let t = &self.test;
        let all = t.n_persons;
        let complete = t.complete_cases;
        let mut rows = vec![
            ("persons".to_string(), Some(all as f64), all),
            ("items".to_string(), Some(t.n_items as f64), all),
            (
                "maximum possible score".to_string(),
                Some(t.max_total as f64),
                all,
            ),
            ("mean total score".to_string(), t.mean, all),
            ("SD of the total score".to_string(), t.sd, all),
            (
                "lowest total score".to_string(),
                t.min.map(|v| v as f64),
                all,
            ),
            ("median total score".to_string(), t.median, all),
            (
                "highest total score".to_string(),
                t.max.map(|v| v as f64),
                all,
            ),
            (
                "complete cases".to_string(),
                Some(complete as f64),
                complete,
            ),
            ("Cronbach's alpha".to_string(), t.alpha, complete),
            (
                "alpha 95% CI low (Feldt)".to_string(),
                t.alpha_ci95.map(|c| c[0]),
                complete,
            ),
            (
                "alpha 95% CI high (Feldt)".to_string(),
                t.alpha_ci95.map(|c| c[1]),
                complete,
            ),
        ];
        for (label, split) in [
            ("first–last", &t.split_half_first_last),
            ("odd–even", &t.split_half_odd_even),
        ] {
            rows.push((
                format!("split-half r ({label})"),
                split.correlation,
                complete,
            ));
            rows.push((
                format!("split-half Spearman–Brown ({label})"),
                split.spearman_brown,
                complete,
            ));
        }
        rows.push(("SEM".to_string(), t.sem, complete));
        rows
    }

    /// The test table: `statistic, value, persons`.
    pub fn test_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        use polars::prelude::Column;
        let rows = self.test_rows();
        let columns = vec![
            Column::new(
                "statistic".into(),
                rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("value".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new(
                "persons".into(),
                rows.iter().map(|r| r.2 as u64).collect::<Vec<_>>(),
            ),
        ];
        polars::prelude::DataFrame::new(rows.len(), columns)
            .map_err(|e| PredictionError::Data(e.to_string()))
    }

    /// The standard scores table: `id, n_answered, total_score, z_score, t_score, percentile,
    /// success_rate`.
    pub fn standard_scores_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        use polars::prelude::Column;
        let persons = &self.persons;
        let columns = vec![
            Column::new(
                "id".into(),
                persons.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n_answered".into(),
                persons
                    .iter()
                    .map(|p| p.n_answered as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "total_score".into(),
                persons
                    .iter()
                    .map(|p| p.total_score as u64)
                    .collect::<Vec<_>>(),
            ),
        ];
        let mut frame = polars::prelude::DataFrame::new(persons.len(), columns)
            .map_err(|e| PredictionError::Data(e.to_string()))?;
        self.add_standard_scores(&mut frame)?;
        Ok(frame)
    }

    /// Appends `z_score, t_score, percentile, success_rate` to a table with one row per person
    /// in the same order (the scores table of the same response matrix).
    pub fn add_standard_scores(
        &self,
        frame: &mut polars::prelude::DataFrame,
    ) -> Result<(), PredictionError> {
        use polars::prelude::Column;
        let persons = &self.persons;
        if frame.height() != persons.len() {
            return Err(PredictionError::Data(format!(
                "the table has {} rows but the classical analysis {} persons",
                frame.height(),
                persons.len()
            )));
        }
        let columns = [
            Column::new(
                "z_score".into(),
                persons.iter().map(|p| p.z).collect::<Vec<_>>(),
            ),
            Column::new(
                "t_score".into(),
                persons.iter().map(|p| p.t).collect::<Vec<_>>(),
            ),
            Column::new(
                "percentile".into(),
                persons.iter().map(|p| p.percentile).collect::<Vec<_>>(),
            ),
            Column::new(
                "success_rate".into(),
                persons.iter().map(|p| p.success_rate).collect::<Vec<_>>(),
            ),
        ];
        for column in columns {
            frame
                .with_column(column)
                .map_err(|e| PredictionError::Data(e.to_string()))?;
        }
        Ok(())
    }

    /// The total-score distribution: `total_score, persons, cumulative_percent`.
    pub fn score_distribution_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        use polars::prelude::Column;
        let d = &self.test.total_distribution;
        let n = self.test.n_persons.max(1) as f64;
        let mut running = 0usize;
        let cumulative: Vec<f64> = d
            .iter()
            .map(|(_, c)| {
                running += c;
                100.0 * running as f64 / n
            })
            .collect();
        let columns = vec![
            Column::new(
                "total_score".into(),
                d.iter().map(|r| r.0 as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "persons".into(),
                d.iter().map(|r| r.1 as u64).collect::<Vec<_>>(),
            ),
            Column::new("cumulative_percent".into(), cumulative),
        ];
        polars::prelude::DataFrame::new(d.len(), columns)
            .map_err(|e| PredictionError::Data(e.to_string()))
    }
}

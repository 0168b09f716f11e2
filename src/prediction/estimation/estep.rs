//! The E-step: the posterior of every response pattern over the quadrature nodes, and the
//! expected counts the M-step needs, for every item type, dense or sparse responses.
//!
//! The log-likelihood of pattern p at node q is `Σ_{j answered} log P_j(x_pj | θ_q)`. Items are
//! handled in one of two ways:
//!
//! - **Linear** (divide-by-total models on dense data): `log P_jk(θ) = s_jk·θ + t_jk − log Z_j(θ)`,
//!   so the pattern's log-likelihood is `θ_q·Σ_j s_j,x + Σ_j t_j,x − Σ_j log Z_j(θ_q)`: two sums
//!   over items and one vector of node terms (the per-node `log Z` sum is shared by every pattern
//!   and only added back for the items a pattern skipped). Since these models are exponential
//!   families in θ, the M-step needs only the expected number answering at each node `n_jq`, the
//!   category counts and `Σ_{p: x_pj = k} E[θ | p]` — not the full node × category table.
//! - **Table** (everything else, and every item of sparse data): a table of `log P_jk(θ_q)` is
//!   added for each answered item, and the expected counts `r_jkq` are accumulated in full.
//!
//! With every item linear and right/wrong (the 2PL, Rasch, 1PL), a specialised loop multiplies
//! 0/1 codes instead of indexing, which the compiler vectorises; it is compiled for AVX2 + FMA
//! when the processor has them. No `exp` is called per person × item × node: per pattern there
//! are only the Q exponentials of the posterior, from a branch-free polynomial.

use rayon::prelude::*;

use crate::prediction::items::{LinearForm, divide_by_total};
use crate::prediction::responses::{MISSING, PatternView, Patterns};

/// Patterns handled per parallel task.
pub(crate) const BLOCK: usize = 512;

/// How one item enters the E-step.
#[derive(Clone, Debug)]
pub(crate) enum ItemTable {
    /// Divide-by-total item on dense data: category slopes and intercepts (with a zero slot at
    /// index K for a missing response) and `log Z` per node.
    Linear {
        /// `s_k`, K + 1 entries (the last 0).
        s: Vec<f64>,
        /// `t_k`, K + 1 entries (the last 0).
        t: Vec<f64>,
        /// `log Σ_k exp(s_k θ_q + t_k)` per node.
        log_z: Vec<f64>,
    },
    /// `log P_k(θ_q)`, row-major K × Q.
    Table {
        /// The log probabilities.
        log_p: Vec<f64>,
    },
}

impl ItemTable {
    /// The linear table of a divide-by-total item.
    pub fn linear(form: &LinearForm, nodes: &[f64]) -> ItemTable {
        let mut s = form.s.clone();
        let mut t = form.t.clone();
        s.push(0.0);
        t.push(0.0);
        let log_z = nodes
            .iter()
            .map(|&theta| divide_by_total::log_normaliser(&form.s, &form.t, theta))
            .collect();
        ItemTable::Linear { s, t, log_z }
    }

    /// The log-probability table from a probability function.
    pub fn table(k: usize, nodes: &[f64], probabilities: &dyn Fn(f64, &mut [f64])) -> ItemTable {
        let q = nodes.len();
        let mut log_p = vec![0.0; k * q];
        let mut p = vec![0.0; k];
        for (at, &theta) in nodes.iter().enumerate() {
            probabilities(theta, &mut p);
            for c in 0..k {
                log_p[c * q + at] = p[c].max(1e-300).ln();
            }
        }
        ItemTable::Table { log_p }
    }

    fn is_linear(&self) -> bool {
        matches!(self, ItemTable::Linear { .. })
    }
}

/// What the M-step of one item needs from an E-step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ItemStats {
    /// For linear items: expected number answering per node, and per category the count and
    /// the sum of posterior means of those who chose it.
    Linear {
        /// `n_q`.
        n: Vec<f64>,
        /// Category counts `C_k`.
        count: Vec<f64>,
        /// `Θ_k = Σ_{p: x = k} count_p · E[θ | p]`.
        theta_sum: Vec<f64>,
    },
    /// Expected counts `r_kq` (K × Q, row-major).
    Full {
        /// The table.
        r: Vec<f64>,
    },
}

/// The result of an E-step over one group's patterns.
#[derive(Clone, Debug)]
pub(crate) struct EStep {
    /// Marginal log-likelihood `Σ_p n_p log f(x_p)`.
    pub log_likelihood: f64,
    /// Expected number of persons at each node.
    pub node_counts: Vec<f64>,
    /// Per item.
    pub items: Vec<ItemStats>,
    /// Posterior mean and SD per pattern, when asked for.
    pub moments: Option<Vec<(f64, f64)>>,
}

/// Everything an E-step reads.
pub(crate) struct EStepInput<'a> {
    /// The group's patterns.
    pub patterns: &'a Patterns,
    /// Quadrature nodes.
    pub nodes: &'a [f64],
    /// Log prior weight per node (normalised weights).
    pub log_prior: &'a [f64],
    /// One table per item.
    pub tables: &'a [ItemTable],
    /// Category counts of each item in this group (for linear items' statistics).
    pub category_counts: &'a [Vec<f64>],
}

/// `exp(x)` for `x ≤ 0`, branch-free so that loops over the nodes vectorise: `x = n·ln 2 + r`
/// with |r| ≤ ln 2 / 2, `exp(r)` by its Taylor series to degree 10 (relative error below
/// 3e-13), and `2^n` assembled in the exponent bits (n from the round-to-nearest "magic number"
/// trick, Muller, *Elementary Functions*, 2016, §11). Values below −700 give 0.
#[inline(always)]
pub(crate) fn exp_non_positive(x: f64) -> f64 {
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

/// The posterior mass below which a node's weight is left out of the accumulations: far
/// under the rounding of the sums it would join.
pub(crate) const NEGLIGIBLE_WEIGHT: f64 = 1e-24;

/// The nodes `lo..hi` outside which every posterior weight is negligible.
#[inline(always)]
pub(crate) fn support(weights: &[f64]) -> (usize, usize) {
    let lo = weights
        .iter()
        .position(|&w| w > NEGLIGIBLE_WEIGHT)
        .unwrap_or(0);
    let hi = weights
        .iter()
        .rposition(|&w| w > NEGLIGIBLE_WEIGHT)
        .map_or(lo, |i| i + 1);
    (lo, hi)
}

/// Turns one pattern's log-likelihood over the nodes into posterior weights (in place), and
/// returns (log marginal likelihood, posterior mean, posterior SD). `values` holds
/// `log f(x | θ_q) + log prior_q` on entry and the posterior on exit.
#[inline(always)]
pub(crate) fn posterior_in_place(values: &mut [f64], nodes: &[f64]) -> (f64, f64, f64) {
    let max = max_lanes(values);
    for v in values.iter_mut() {
        *v = exp_non_positive(*v - max);
    }
    let total = sum_lanes(values);
    let inverse = 1.0 / total;
    for v in values.iter_mut() {
        *v *= inverse;
    }
    let (mean, second) = moments_lanes(values, nodes);
    let variance = (second - mean * mean).max(0.0);
    (max + total.ln(), mean, variance.sqrt())
}

// Reductions over the nodes in eight independent lanes: a single running sum is a chain of
// dependent additions the compiler may not reorder (nor vectorise); eight lanes let it do both.
const LANES: usize = 8;

/// The largest value (NaN-free input).
#[inline(always)]
pub(crate) fn max_lanes(x: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = if v > *m { v } else { *m };
        }
    }
    let mut max = f64::NEG_INFINITY;
    for &v in lanes.iter().chain(rest) {
        max = if v > max { v } else { max };
    }
    max
}

/// `Σ x`.
#[inline(always)]
pub(crate) fn sum_lanes(x: &[f64]) -> f64 {
    let mut lanes = [0.0; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (s, &v) in lanes.iter_mut().zip(chunk) {
            *s += v;
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().sum::<f64>()
}

/// `Σ x·y`.
#[inline(always)]
pub(crate) fn dot_lanes(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut lanes = [0.0; LANES];
    let chunks = x.chunks_exact(LANES).zip(y.chunks_exact(LANES));
    for (a, b) in chunks {
        for ((s, &u), &v) in lanes.iter_mut().zip(a).zip(b) {
            *s += u * v;
        }
    }
    let tail = n - n % LANES;
    lanes.iter().sum::<f64>()
        + x[tail..]
            .iter()
            .zip(&y[tail..])
            .map(|(u, v)| u * v)
            .sum::<f64>()
}

/// `(Σ_{code = 1} a, Σ_{code = 1} b)`: the sums of a right/wrong pattern's slopes and
/// intercepts, in lanes with a bit mask, so that the unpredictable 0/1 codes cost no branch (a
/// scalar loop was compiled into one that mispredicted on every other item).
#[inline(always)]
fn right_sums_lanes(codes: &[u8], a: &[f64], b: &[f64]) -> (f64, f64) {
    let n = codes.len().min(a.len()).min(b.len());
    let (codes, a, b) = (&codes[..n], &a[..n], &b[..n]);
    let mut sa = [0.0; LANES];
    let mut sb = [0.0; LANES];
    let chunks = codes
        .chunks_exact(LANES)
        .zip(a.chunks_exact(LANES))
        .zip(b.chunks_exact(LANES));
    for ((c, x), y) in chunks {
        for l in 0..LANES {
            // All ones for a right answer, else zero: the values masked with integer
            // operations (a select was still compiled into a branch).
            let mask = 0u64.wrapping_sub(u64::from(c[l] == 1));
            sa[l] += f64::from_bits(x[l].to_bits() & mask);
            sb[l] += f64::from_bits(y[l].to_bits() & mask);
        }
    }
    let tail = n - n % LANES;
    let (mut ra, mut rb) = (sa.iter().sum::<f64>(), sb.iter().sum::<f64>());
    for ((&c, &x), &y) in codes[tail..].iter().zip(&a[tail..]).zip(&b[tail..]) {
        if c == 1 {
            ra += x;
            rb += y;
        }
    }
    (ra, rb)
}

/// `(Σ w·t, Σ w·t²)`.
#[inline(always)]
fn moments_lanes(w: &[f64], t: &[f64]) -> (f64, f64) {
    let n = w.len().min(t.len());
    let (w, t) = (&w[..n], &t[..n]);
    let mut first = [0.0; LANES];
    let mut second = [0.0; LANES];
    for (a, b) in w.chunks_exact(LANES).zip(t.chunks_exact(LANES)) {
        for i in 0..LANES {
            let wt = a[i] * b[i];
            first[i] += wt;
            second[i] += wt * b[i];
        }
    }
    let tail = n - n % LANES;
    let mut m1: f64 = first.iter().sum();
    let mut m2: f64 = second.iter().sum();
    for (a, b) in w[tail..].iter().zip(&t[tail..]) {
        m1 += a * b;
        m2 += a * b * b;
    }
    (m1, m2)
}

/// Accumulators of a run of patterns.
struct Accumulator {
    log_likelihood: f64,
    node_counts: Vec<f64>,
    /// Dense data: per linear item, the posterior mass of patterns that skipped it (J × Q).
    missing_counts: Vec<f64>,
    /// Per item, offset into `theta_sum` / `r`.
    theta_sum: Vec<f64>,
    /// Dichotomous fast path: `Σ count·E[θ]` of those answering category 1, per item.
    theta_one: Vec<f64>,
    r: Vec<f64>,
    /// Counts per group row (grouped table items).
    group_r: Vec<f64>,
    moments: Vec<(f64, f64)>,
}

impl Accumulator {
    fn add(mut self, other: Accumulator) -> Accumulator {
        self.log_likelihood += other.log_likelihood;
        add_into(&mut self.node_counts, &other.node_counts);
        add_into(&mut self.missing_counts, &other.missing_counts);
        add_into(&mut self.theta_sum, &other.theta_sum);
        add_into(&mut self.theta_one, &other.theta_one);
        add_into(&mut self.r, &other.r);
        add_into(&mut self.group_r, &other.group_r);
        self
    }
}

/// `n` zeros, written rather than taken from freshly mapped (zero) pages: an accumulator's
/// pages are read before they are written, and a zero page read first costs a second fault
/// when it is written (with a flush of every thread's address translations).
pub(crate) fn zeros_written(n: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, 0.0);
    v
}

pub(crate) fn add_into(total: &mut [f64], part: &[f64]) {
    if part.len() == total.len() {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
}

/// Consecutive table items taken together on dense data: every combination of their answers
/// (an item's last state: not answered) has one row of summed log-probabilities per node, so a
/// pattern adds one row per group instead of one per item, and its posterior is added to one
/// row of the group's counts, split into the items' expected counts after the pass.
struct TableGroup {
    /// The items, in order.
    items: Vec<usize>,
    /// Per item: its categories K, and the row stride of its state (K states plus, when some
    /// pattern skips it, a last one for "not answered").
    categories: Vec<usize>,
    strides: Vec<usize>,
    states: Vec<usize>,
    rows: usize,
    /// `rows × Q`: `Σ_items log P_j(state_j)`, a skipped item adding 0.
    log_p: Vec<f64>,
    /// Offset of this group's `rows × Q` counts in the accumulator's `group_r`.
    r_offset: usize,
}

impl TableGroup {
    /// The row of a pattern's answers.
    #[inline(always)]
    fn row(&self, codes: &[u8]) -> usize {
        let mut row = 0;
        for ((&j, &k), &stride) in self.items.iter().zip(&self.categories).zip(&self.strides) {
            let code = codes[j];
            let state = if code == MISSING { k } else { code as usize };
            row += state * stride;
        }
        row
    }
}

/// Groups consecutive table items (at most [`GROUP_ROWS`] answer combinations each) and builds
/// their summed log-probability tables; returns them with the length of their counts.
fn table_groups(
    input: &EStepInput<'_>,
    table_items: &[usize],
    categories: &[usize],
) -> (Vec<TableGroup>, usize) {
    let q = input.nodes.len();
    let skipped = input.patterns.items_with_missing();
    let mut groups: Vec<TableGroup> = Vec::new();
    let mut r_len = 0;
    let mut current: Vec<usize> = Vec::new();
    let mut rows = 1;
    let close =
        |items: &mut Vec<usize>, rows: usize, groups: &mut Vec<TableGroup>, r_len: &mut usize| {
            if items.is_empty() {
                return;
            }
            let mut strides = Vec::with_capacity(items.len());
            let mut states = Vec::with_capacity(items.len());
            let mut stride = 1;
            for &j in items.iter() {
                let n = categories[j] + usize::from(skipped[j]);
                strides.push(stride);
                states.push(n);
                stride *= n;
            }
            let mut log_p = vec![0.0; rows * q];
            for row in 0..rows {
                let out = &mut log_p[row * q..(row + 1) * q];
                for ((&j, &stride), &n) in items.iter().zip(&strides).zip(&states) {
                    let state = row / stride % n;
                    if state < categories[j]
                        && let ItemTable::Table { log_p: table } = &input.tables[j]
                    {
                        for (o, l) in out.iter_mut().zip(&table[state * q..(state + 1) * q]) {
                            *o += l;
                        }
                    }
                }
            }
            let item_categories = items.iter().map(|&j| categories[j]).collect();
            groups.push(TableGroup {
                items: std::mem::take(items),
                categories: item_categories,
                strides,
                states,
                rows,
                log_p,
                r_offset: *r_len,
            });
            *r_len += rows * q;
        };
    for &j in table_items {
        let n = categories[j] + usize::from(skipped[j]);
        if !current.is_empty() && rows * n > GROUP_ROWS {
            close(&mut current, rows, &mut groups, &mut r_len);
            rows = 1;
        }
        current.push(j);
        rows *= n;
    }
    close(&mut current, rows, &mut groups, &mut r_len);
    (groups, r_len)
}

/// Groups have at most this many rows (answer combinations).
const GROUP_ROWS: usize = 256;
/// Items are grouped only when there are many more patterns than a group has rows: the
/// groups' tables are built afresh every E-step.
const GROUP_MIN_PATTERNS: usize = 8 * GROUP_ROWS;

/// The layout of the per-item accumulators, fixed for one E-step.
struct Plan<'a> {
    input: &'a EStepInput<'a>,
    n_nodes: usize,
    /// Categories per item (from the tables).
    categories: Vec<usize>,
    /// Offset of item j's K + 1 slots in `theta_sum` (linear items).
    theta_offset: Vec<usize>,
    /// Offset of item j's K × Q block in `r` (table items).
    r_offset: Vec<usize>,
    theta_len: usize,
    r_len: usize,
    /// Index of item j in `missing_counts` (linear items on dense data).
    all_linear_dichotomous: bool,
    /// `log prior − Σ_{linear j} log Z_j` per node.
    base: Vec<f64>,
    /// Dichotomous fast path: slopes and intercepts of category 1.
    s1: Vec<f64>,
    t1: Vec<f64>,
    /// Generic linear items: flat `s`, `t` with K + 1 slots per item.
    flat_s: Vec<f64>,
    flat_t: Vec<f64>,
    linear_items: Vec<usize>,
    table_items: Vec<usize>,
    /// Dense data with many patterns: the table items in groups (empty otherwise).
    groups: Vec<TableGroup>,
    group_r_len: usize,
    want_moments: bool,
}

impl<'a> Plan<'a> {
    fn new(input: &'a EStepInput<'a>, want_moments: bool, grouped: bool) -> Plan<'a> {
        let n_nodes = input.nodes.len();
        let sparse = input.patterns.is_sparse();
        let mut categories = Vec::with_capacity(input.tables.len());
        let mut theta_offset = Vec::with_capacity(input.tables.len());
        let mut r_offset = Vec::with_capacity(input.tables.len());
        let (mut theta_len, mut r_len) = (0, 0);
        let mut base = input.log_prior.to_vec();
        let mut linear_items = Vec::new();
        let mut table_items = Vec::new();
        let mut flat_s = Vec::new();
        let mut flat_t = Vec::new();
        for (j, table) in input.tables.iter().enumerate() {
            match table {
                ItemTable::Linear { s, t, log_z } if !sparse => {
                    let k = s.len() - 1;
                    categories.push(k);
                    theta_offset.push(theta_len);
                    r_offset.push(usize::MAX);
                    theta_len += k + 1;
                    for (b, z) in base.iter_mut().zip(log_z) {
                        *b -= z;
                    }
                    linear_items.push(j);
                    flat_s.extend_from_slice(s);
                    flat_t.extend_from_slice(t);
                }
                ItemTable::Linear { s, .. } => {
                    // Sparse data: the caller builds tables for every item; a linear one here
                    // is a logic error, treated as a table of its own log-probabilities below.
                    let k = s.len() - 1;
                    categories.push(k);
                    theta_offset.push(usize::MAX);
                    r_offset.push(r_len);
                    r_len += k * n_nodes;
                    table_items.push(j);
                }
                ItemTable::Table { log_p } => {
                    let k = log_p.len() / n_nodes;
                    categories.push(k);
                    theta_offset.push(usize::MAX);
                    r_offset.push(r_len);
                    r_len += k * n_nodes;
                    table_items.push(j);
                }
            }
        }
        let all_linear_dichotomous = !sparse
            && table_items.is_empty()
            && linear_items.iter().all(|&j| {
                matches!(&input.tables[j], ItemTable::Linear { s, t, .. }
                    if s.len() == 3 && s[0] == 0.0 && t[0] == 0.0)
            });
        let (s1, t1) = if all_linear_dichotomous {
            input
                .tables
                .iter()
                .map(|table| match table {
                    ItemTable::Linear { s, t, .. } => (s[1], t[1]),
                    ItemTable::Table { .. } => (0.0, 0.0),
                })
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let (groups, group_r_len) = if grouped && !sparse && !table_items.is_empty() {
            table_groups(input, &table_items, &categories)
        } else {
            (Vec::new(), 0)
        };
        Plan {
            input,
            n_nodes,
            categories,
            theta_offset,
            r_offset,
            theta_len,
            r_len,
            groups,
            group_r_len,
            all_linear_dichotomous,
            base,
            s1,
            t1,
            flat_s,
            flat_t,
            linear_items,
            table_items,
            want_moments,
        }
    }

    fn accumulator(&self, rows: usize) -> Accumulator {
        let n_items = self.input.tables.len();
        let dense_missing = !self.input.patterns.is_sparse()
            && self.input.patterns.has_missing()
            && !self.linear_items.is_empty();
        Accumulator {
            log_likelihood: 0.0,
            node_counts: vec![0.0; self.n_nodes],
            missing_counts: if dense_missing {
                vec![0.0; n_items * self.n_nodes]
            } else {
                Vec::new()
            },
            theta_sum: vec![0.0; self.theta_len],
            theta_one: vec![
                0.0;
                if self.all_linear_dichotomous {
                    n_items
                } else {
                    0
                }
            ],
            r: zeros_written(if self.groups.is_empty() {
                self.r_len
            } else {
                0
            }),
            group_r: zeros_written(self.group_r_len),
            moments: if self.want_moments {
                Vec::with_capacity(rows)
            } else {
                Vec::new()
            },
        }
    }

    /// Runs patterns `lo..hi`, with AVX2 + FMA code when the processor has them.
    fn run(&self, lo: usize, hi: usize, acc: &mut Accumulator) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            unsafe { self.run_avx2(lo, hi, acc) };
            return;
        }
        self.run_portable(lo, hi, acc);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, lo: usize, hi: usize, acc: &mut Accumulator) {
        self.run_portable(lo, hi, acc);
    }

    #[inline(always)]
    fn run_portable(&self, lo: usize, hi: usize, acc: &mut Accumulator) {
        if self.all_linear_dichotomous {
            self.run_dichotomous(lo, hi, acc);
        } else {
            self.run_general(lo, hi, acc);
        }
    }

    /// Every item linear and right/wrong, dense: `s = Σ x·a`, `t = Σ x·d` with 0/1 `x`.
    #[inline(always)]
    fn run_dichotomous(&self, lo: usize, hi: usize, acc: &mut Accumulator) {
        let nodes = self.input.nodes;
        let n_nodes = self.n_nodes;
        let patterns = self.input.patterns;
        let tables = self.input.tables;
        let mut values = vec![0.0; n_nodes];
        for p in lo..hi {
            let count = patterns.counts[p];
            let PatternView::Dense { codes, missing } = patterns.view(p) else {
                continue;
            };
            let (s, t) = right_sums_lanes(codes, &self.s1, &self.t1);
            for ((v, &theta), &b) in values.iter_mut().zip(nodes).zip(&self.base) {
                *v = s * theta + b;
            }
            for &j in missing {
                if let ItemTable::Linear { log_z, .. } = &tables[j as usize] {
                    for (v, z) in values.iter_mut().zip(log_z) {
                        *v += z;
                    }
                }
            }
            let (ll, mean, sd) = posterior_in_place(&mut values, nodes);
            acc.log_likelihood += count * (ll + t);
            if self.want_moments {
                acc.moments.push((mean, sd));
            }
            for (a, v) in acc.node_counts.iter_mut().zip(&values) {
                *a += count * v;
            }
            for &j in missing {
                let at = j as usize * n_nodes;
                for (a, v) in acc.missing_counts[at..at + n_nodes].iter_mut().zip(&values) {
                    *a += count * v;
                }
            }
            let weighted_mean = count * mean;
            let bits = weighted_mean.to_bits();
            for (&code, sum) in codes.iter().zip(acc.theta_one.iter_mut()) {
                *sum += f64::from_bits(bits & 0u64.wrapping_sub(u64::from(code == 1)));
            }
        }
    }

    /// Any mix of linear and table items, dense or sparse.
    #[inline(always)]
    fn run_general(&self, lo: usize, hi: usize, acc: &mut Accumulator) {
        let nodes = self.input.nodes;
        let n_nodes = self.n_nodes;
        let patterns = self.input.patterns;
        let tables = self.input.tables;
        let mut values = vec![0.0; n_nodes];
        // Each group's row of the current pattern, found once for both of its uses.
        let mut group_rows: Vec<usize> = Vec::with_capacity(self.groups.len());
        for p in lo..hi {
            let count = patterns.counts[p];
            let view = patterns.view(p);
            let mut s = 0.0;
            let mut t = 0.0;
            match &view {
                PatternView::Dense { codes, missing } => {
                    let mut offset = 0;
                    for &j in &self.linear_items {
                        let k = self.categories[j];
                        let slot = offset + (codes[j] as usize).min(k);
                        s += self.flat_s[slot];
                        t += self.flat_t[slot];
                        offset += k + 1;
                    }
                    for ((v, &theta), &b) in values.iter_mut().zip(nodes).zip(&self.base) {
                        *v = s * theta + b;
                    }
                    for &j in missing.iter() {
                        if let ItemTable::Linear { log_z, .. } = &tables[j as usize] {
                            for (v, z) in values.iter_mut().zip(log_z) {
                                *v += z;
                            }
                        }
                    }
                    if self.groups.is_empty() {
                        for &j in &self.table_items {
                            let code = codes[j];
                            if code == MISSING {
                                continue;
                            }
                            if let ItemTable::Table { log_p } = &tables[j] {
                                let row =
                                    &log_p[code as usize * n_nodes..(code as usize + 1) * n_nodes];
                                for (v, l) in values.iter_mut().zip(row) {
                                    *v += l;
                                }
                            }
                        }
                    } else {
                        group_rows.clear();
                        for group in &self.groups {
                            let row = group.row(codes);
                            group_rows.push(row);
                            let at = row * n_nodes;
                            for (v, l) in values.iter_mut().zip(&group.log_p[at..at + n_nodes]) {
                                *v += l;
                            }
                        }
                    }
                }
                PatternView::Sparse { items, codes } => {
                    values.copy_from_slice(self.input.log_prior);
                    for (&j, &code) in items.iter().zip(codes.iter()) {
                        add_log_probabilities(&tables[j as usize], code, nodes, &mut values);
                    }
                }
            }
            let (ll, mean, sd) = posterior_in_place(&mut values, nodes);
            acc.log_likelihood += count * (ll + t);
            if self.want_moments {
                acc.moments.push((mean, sd));
            }
            for (a, v) in acc.node_counts.iter_mut().zip(&values) {
                *a += count * v;
            }
            let (lo_q, hi_q) = support(&values);
            match &view {
                PatternView::Dense { codes, missing } => {
                    if !acc.missing_counts.is_empty() {
                        for &j in missing.iter() {
                            if tables[j as usize].is_linear() {
                                let at = j as usize * n_nodes;
                                for (a, v) in
                                    acc.missing_counts[at..at + n_nodes].iter_mut().zip(&values)
                                {
                                    *a += count * v;
                                }
                            }
                        }
                    }
                    let weighted_mean = count * mean;
                    for &j in &self.linear_items {
                        let k = self.categories[j];
                        acc.theta_sum[self.theta_offset[j] + (codes[j] as usize).min(k)] +=
                            weighted_mean;
                    }
                    if self.groups.is_empty() {
                        for &j in &self.table_items {
                            let code = codes[j];
                            if code == MISSING {
                                continue;
                            }
                            let at = self.r_offset[j] + code as usize * n_nodes;
                            for (a, v) in acc.r[at + lo_q..at + hi_q]
                                .iter_mut()
                                .zip(&values[lo_q..hi_q])
                            {
                                *a += count * v;
                            }
                        }
                    } else {
                        for (group, &row) in self.groups.iter().zip(&group_rows) {
                            let at = group.r_offset + row * n_nodes;
                            for (a, v) in acc.group_r[at + lo_q..at + hi_q]
                                .iter_mut()
                                .zip(&values[lo_q..hi_q])
                            {
                                *a += count * v;
                            }
                        }
                    }
                }
                PatternView::Sparse { items, codes } => {
                    for (&j, &code) in items.iter().zip(codes.iter()) {
                        let at = self.r_offset[j as usize] + code as usize * n_nodes;
                        for (a, v) in acc.r[at + lo_q..at + hi_q]
                            .iter_mut()
                            .zip(&values[lo_q..hi_q])
                        {
                            *a += count * v;
                        }
                    }
                }
            }
        }
    }
}

/// Adds an item's log-probability of category `code` at every node.
#[inline(always)]
fn add_log_probabilities(table: &ItemTable, code: u8, nodes: &[f64], values: &mut [f64]) {
    match table {
        ItemTable::Table { log_p } => {
            let n = values.len();
            let row = &log_p[code as usize * n..(code as usize + 1) * n];
            for (v, l) in values.iter_mut().zip(row) {
                *v += l;
            }
        }
        ItemTable::Linear { s, t, log_z } => {
            let (s, t) = (s[code as usize], t[code as usize]);
            for ((v, &theta), z) in values.iter_mut().zip(nodes).zip(log_z) {
                *v += s * theta + t - z;
            }
        }
    }
}

/// The log-likelihood of one pattern at every node plus the log prior (the values the posterior
/// is made from), for callers that need the posterior of single patterns (standard errors, fit
/// statistics).
pub(crate) fn pattern_log_likelihood(
    patterns: &Patterns,
    p: usize,
    tables: &[ItemTable],
    nodes: &[f64],
    log_prior: &[f64],
    values: &mut [f64],
) {
    values.copy_from_slice(log_prior);
    for (j, code) in patterns.responses(p) {
        add_log_probabilities(&tables[j], code, nodes, values);
    }
}

/// Each pattern's log-likelihood at every node plus the log prior, as
/// [`pattern_log_likelihood`], for callers that take the posterior of one pattern at a time
/// (the standard errors). On dense data the linear items enter as in the E-step, by their two
/// sums `θ·Σ s + Σ t` over a per-node base `log prior − Σ log Z_j` (with `log Z` added back
/// for the items a pattern skipped): a pattern costs one pass over its codes and one over the
/// nodes instead of one over the nodes per item.
pub(crate) struct PatternRows<'a> {
    patterns: &'a Patterns,
    tables: &'a [ItemTable],
    nodes: &'a [f64],
    log_prior: &'a [f64],
    /// Dense data: `log prior − Σ_{linear j} log Z_j` per node.
    base: Option<Vec<f64>>,
}

impl<'a> PatternRows<'a> {
    pub(crate) fn new(
        patterns: &'a Patterns,
        tables: &'a [ItemTable],
        nodes: &'a [f64],
        log_prior: &'a [f64],
    ) -> PatternRows<'a> {
        let base = (!patterns.is_sparse()).then(|| {
            let mut base = log_prior.to_vec();
            for table in tables {
                if let ItemTable::Linear { log_z, .. } = table {
                    for (b, z) in base.iter_mut().zip(log_z) {
                        *b -= z;
                    }
                }
            }
            base
        });
        PatternRows {
            patterns,
            tables,
            nodes,
            log_prior,
            base,
        }
    }

    /// Pattern `p`'s values into `values` (one per node).
    pub(crate) fn fill(&self, p: usize, values: &mut [f64]) {
        let (Some(base), PatternView::Dense { codes, missing }) =
            (&self.base, self.patterns.view(p))
        else {
            pattern_log_likelihood(
                self.patterns,
                p,
                self.tables,
                self.nodes,
                self.log_prior,
                values,
            );
            return;
        };
        let (mut s, mut t) = (0.0, 0.0);
        for (&code, table) in codes.iter().zip(self.tables) {
            if let ItemTable::Linear { s: sj, t: tj, .. } = table {
                // A missing code takes the zero slot at the end.
                let slot = (code as usize).min(sj.len() - 1);
                s += sj[slot];
                t += tj[slot];
            }
        }
        for ((v, &theta), &b) in values.iter_mut().zip(self.nodes).zip(base) {
            *v = s * theta + t + b;
        }
        for &j in missing {
            if let ItemTable::Linear { log_z, .. } = &self.tables[j as usize] {
                for (v, z) in values.iter_mut().zip(log_z) {
                    *v += z;
                }
            }
        }
        for (&code, table) in codes.iter().zip(self.tables) {
            if code != MISSING && !table.is_linear() {
                add_log_probabilities(table, code, self.nodes, values);
            }
        }
    }
}

/// Runs `run(state, block)` over blocks `0..n_blocks` in at most `max_chunks` contiguous chunks
/// in parallel, one `make()` state per chunk, and returns the states in block order. The number
/// of chunks (a few per thread, or one per thread for large states) bounds the memory the
/// per-chunk states take, however many blocks there are.
pub(crate) fn chunked_by<T: Send>(
    n_blocks: usize,
    max_chunks: usize,
    make: impl Fn() -> T + Sync,
    run: impl Fn(&mut T, usize) + Sync,
) -> Vec<T> {
    let n_chunks = n_blocks.min(max_chunks).max(1);
    (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let mut state = make();
            for b in (c * n_blocks / n_chunks)..((c + 1) * n_blocks / n_chunks) {
                run(&mut state, b);
            }
            state
        })
        .collect()
}

/// Runs the E-step over a group's patterns.
pub(crate) fn e_step(input: &EStepInput<'_>, want_moments: bool) -> EStep {
    e_step_with(
        input,
        want_moments,
        input.patterns.len() >= GROUP_MIN_PATTERNS,
    )
}

/// [`e_step`], with the table items in groups or one by one.
fn e_step_with(input: &EStepInput<'_>, want_moments: bool, grouped: bool) -> EStep {
    let plan = Plan::new(input, want_moments, grouped);
    let n_patterns = input.patterns.len();
    let n_blocks = n_patterns.div_ceil(BLOCK);
    // Grouped items have large accumulators: one per thread.
    let chunks = if plan.groups.is_empty() {
        4 * rayon::current_num_threads()
    } else {
        rayon::current_num_threads()
    };
    let parts = chunked_by(
        n_blocks,
        chunks,
        || plan.accumulator(0),
        |acc, b| {
            let lo = b * BLOCK;
            let hi = ((b + 1) * BLOCK).min(n_patterns);
            plan.run(lo, hi, acc);
        },
    );
    // Chunks are in block order, so the moments concatenate in pattern order.
    let mut moments = Vec::with_capacity(if want_moments { n_patterns } else { 0 });
    let mut total = plan.accumulator(0);
    for mut part in parts {
        moments.append(&mut part.moments);
        total = total.add(part);
    }
    total.moments = moments;
    let q = plan.n_nodes;
    if !plan.groups.is_empty() {
        // Each group row's counts go to the answered category of each of its items.
        total.r = vec![0.0; plan.r_len];
        for group in &plan.groups {
            for row in 0..group.rows {
                let counts =
                    &total.group_r[group.r_offset + row * q..group.r_offset + (row + 1) * q];
                for (((&j, &k), &stride), &states) in group
                    .items
                    .iter()
                    .zip(&group.categories)
                    .zip(&group.strides)
                    .zip(&group.states)
                {
                    let state = row / stride % states;
                    if state < k {
                        let at = plan.r_offset[j] + state * q;
                        add_into(&mut total.r[at..at + q], counts);
                    }
                }
            }
        }
    }

    if plan.all_linear_dichotomous {
        // The fast path kept category 1's sums contiguous; category 0 has s = t = 0.
        for (j, sum) in total.theta_one.iter().enumerate() {
            total.theta_sum[3 * j + 1] = *sum;
        }
    }
    let items = input
        .tables
        .iter()
        .enumerate()
        .map(|(j, table)| {
            if plan.theta_offset[j] != usize::MAX {
                let k = plan.categories[j];
                let n: Vec<f64> = if total.missing_counts.is_empty() {
                    total.node_counts.clone()
                } else {
                    let missing = &total.missing_counts[j * q..(j + 1) * q];
                    total
                        .node_counts
                        .iter()
                        .zip(missing)
                        .map(|(a, m)| (a - m).max(0.0))
                        .collect()
                };
                let offset = plan.theta_offset[j];
                ItemStats::Linear {
                    n,
                    count: input.category_counts[j].clone(),
                    theta_sum: total.theta_sum[offset..offset + k].to_vec(),
                }
            } else {
                let _ = table;
                let k = plan.categories[j];
                let offset = plan.r_offset[j];
                ItemStats::Full {
                    r: total.r[offset..offset + k * q].to_vec(),
                }
            }
        })
        .collect();
    EStep {
        log_likelihood: total.log_likelihood,
        node_counts: total.node_counts,
        items,
        moments: want_moments.then_some(total.moments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::estimation::{FitSettings, setup};
    use crate::prediction::items::ItemType;

    /// Items in groups give the E-step of items one by one: log-likelihood, node counts,
    /// expected counts and moments, with missing responses and a mixed test.
    #[test]
    fn grouped_items_give_the_same_e_step() {
        let matrix = crate::prediction::simulation::simulate_polytomous(7, 4, 900, 0.15, 21);
        let first = matrix.item_names()[2].clone();
        for model in [ItemType::Graded, ItemType::Nominal, ItemType::Gpcm] {
            let mut settings = FitSettings {
                model,
                ..FitSettings::default()
            };
            // A divide-by-total item among table items (or a table item among them).
            let other = if model == ItemType::Graded {
                ItemType::Gpcm
            } else {
                ItemType::Graded
            };
            settings.item_models.insert(first.clone(), other);
            let setup = setup::problem(&matrix, &settings).unwrap();
            let problem = &setup.problem;
            let psi = setup.start_values();
            let tables = problem.tables(0, &psi);
            let log_prior = problem.log_prior(0, &psi);
            let input = EStepInput {
                patterns: &problem.groups[0].patterns,
                nodes: problem.nodes(),
                log_prior: &log_prior,
                tables: &tables,
                category_counts: &problem.groups[0].category_counts,
            };
            let one = e_step_with(&input, true, false);
            let grouped = e_step_with(&input, true, true);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * a.abs().max(1.0);
            assert!(
                close(one.log_likelihood, grouped.log_likelihood),
                "{model:?}"
            );
            for (a, b) in one.node_counts.iter().zip(&grouped.node_counts) {
                assert!(close(*a, *b), "{model:?} node counts {a} vs {b}");
            }
            let mut full = 0;
            for (x, y) in one.items.iter().zip(&grouped.items) {
                match (x, y) {
                    (ItemStats::Full { r: a }, ItemStats::Full { r: b }) => {
                        full += 1;
                        assert_eq!(a.len(), b.len());
                        for (u, v) in a.iter().zip(b) {
                            assert!(close(*u, *v), "{model:?} expected counts {u} vs {v}");
                        }
                    }
                    (
                        ItemStats::Linear { theta_sum: a, .. },
                        ItemStats::Linear { theta_sum: b, .. },
                    ) => {
                        for (u, v) in a.iter().zip(b) {
                            assert!(close(*u, *v), "{model:?} θ sums {u} vs {v}");
                        }
                    }
                    _ => panic!("{model:?}: the items' statistics differ in kind"),
                }
            }
            assert!(full > 0, "{model:?}: no table items were grouped");
            let (a, b) = (one.moments.unwrap(), grouped.moments.unwrap());
            for ((m1, s1), (m2, s2)) in a.iter().zip(&b) {
                assert!(close(*m1, *m2) && close(*s1, *s2), "{model:?} moments");
            }
        }
    }

    #[test]
    fn pattern_rows_equal_the_item_by_item_sum() {
        // Divide-by-total (linear) and graded (table) items, dense with skipped items.
        let matrix = crate::prediction::simulation::simulate_polytomous(6, 3, 400, 0.2, 5);
        let mut settings = FitSettings {
            model: ItemType::Gpcm,
            ..FitSettings::default()
        };
        settings
            .item_models
            .insert(matrix.item_names()[1].clone(), ItemType::Graded);
        let setup = setup::problem(&matrix, &settings).unwrap();
        let problem = &setup.problem;
        let psi = setup.start_values();
        let tables = problem.tables(0, &psi);
        let log_prior = problem.log_prior(0, &psi);
        let patterns = &problem.groups[0].patterns;
        assert!(!patterns.is_sparse() && patterns.has_missing());
        assert!(tables.iter().any(|t| t.is_linear()) && tables.iter().any(|t| !t.is_linear()));
        let nodes = problem.nodes();
        let rows = PatternRows::new(patterns, &tables, nodes, &log_prior);
        let mut fast = vec![0.0; nodes.len()];
        let mut slow = vec![0.0; nodes.len()];
        for p in 0..patterns.len() {
            rows.fill(p, &mut fast);
            pattern_log_likelihood(patterns, p, &tables, nodes, &log_prior, &mut slow);
            for (a, b) in fast.iter().zip(&slow) {
                assert!(
                    (a - b).abs() < 1e-10 * b.abs().max(1.0),
                    "pattern {p}: {a} vs {b}"
                );
            }
        }
    }

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

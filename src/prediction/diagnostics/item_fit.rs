//! Item fit: Orlando & Thissen's (2000) S-X² for right/wrong items and its generalisation to
//! ordered and nominal categories (Kang & Chen, 2008); Yen's (1981) Q1 (Bock's X² with ten θ
//! groups); Zh (Drasgow, Levine & Williams, 1985); infit and outfit mean squares with their
//! standardised t (Wright & Masters, 1982) — each computed as mirt's `itemfit` does.
//!
//! **S-X².** For item i and sum score s (the total includes item i), the model's
//! `P(X_i = c | S = s) = Σ_q L₋ᵢ[s − c, q]·P_ic(θ_q)·w_q / Σ_q L[s, q]·w_q`, where `L` and `L₋ᵢ`
//! are the Lord–Wingersky sum-score likelihoods with and without item i on the calibration's
//! quadrature. Expected counts are that times the persons with score s; observed counts are
//! the persons with score s and response c. The extreme scores are dropped, cells are pooled
//! until expected counts reach 1 exactly as mirt's `collapseCells` pools them (including the
//! order of its passes), and `S-X² = Σ (O − E)²/E` on `cells − rows − parameters` degrees of
//! freedom, the parameters being the item's free parameters and the latent ones.
//! With missing responses S-X² uses the persons who answered every item (mirt's
//! `na.rm = TRUE`: the parameters stay those of the full fit); the count is reported.
//!
//! **Q1.** Persons are sorted by their EAP θ̂ (stable); those who answered the item are cut
//! into ten groups of equal size (the remainder split between the first and last); in each,
//! `X² += Σ_c (r_c − N_g·P_c(θ̄_g))² / (N_g·P_c(θ̄_g))` at the group's mean θ̂, on
//! `groups·(K − 1) − parameters` degrees of freedom. No pooling (as mirt).
//!
//! **Zh, infit, outfit** are sums over the persons who answered the item (see
//! `residuals`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::context::{Grid, ItemTable};
use super::distributions::{chi_square_sf, rmsea};
use super::reliability::{lord_wingersky, lord_wingersky_step};
use super::residuals::{FitSums, SumScoreTables};
use crate::prediction::model::ItemParameters;
use crate::prediction::p_adjust::{PAdjust, adjust};
use crate::prediction::responses::ResponseMatrix;

/// A χ² item-fit test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareTest {
    /// The statistic.
    pub value: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Upper-tail p.
    pub p: f64,
    /// p adjusted over the items (Holm, Benjamini–Hochberg or none).
    pub p_adjusted: f64,
    /// RMSEA of the statistic, `√(max(X² − df, 0) / (df·(N − 1)))`.
    pub rmsea: f64,
}

impl ChiSquareTest {
    fn new(value: f64, df: f64, persons: f64) -> ChiSquareTest {
        let (value, df) = if df > 0.0 {
            (value, df)
        } else {
            (f64::NAN, df.max(0.0))
        };
        let p = chi_square_sf(value, df);
        ChiSquareTest {
            value,
            df,
            p,
            p_adjusted: p,
            rmsea: rmsea(value, df, persons),
        }
    }
}

/// The fit of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemFit {
    /// Item name.
    pub item: String,
    /// Persons who answered it.
    pub persons: usize,
    /// S-X² (Orlando–Thissen; Kang–Chen for more than two categories); `None` when it cannot
    /// be computed (no complete cases, or the pooled table has a single row).
    pub s_x2: Option<ChiSquareTest>,
    /// Yen's Q1 with ten θ groups.
    pub q1: Option<ChiSquareTest>,
    /// Zh over the persons who answered the item (negative: fewer likely responses than the
    /// model expects).
    pub zh: f64,
    /// Infit mean square (information-weighted).
    pub infit: f64,
    /// Its standardised t.
    pub infit_t: f64,
    /// Outfit mean square (unweighted).
    pub outfit: f64,
    /// Its standardised t.
    pub outfit_t: f64,
    /// Whether the item misfits: its S-X² (or, without one, its Q1) adjusted p is below the
    /// level asked for.
    pub flagged: bool,
}

/// The Lord–Wingersky tables of the first 0, 1, …, n items of `tables` ((score + 1) × Q each,
/// row-major).
fn lord_wingersky_steps(tables: &[&ItemTable], q: usize) -> Vec<Vec<f64>> {
    let mut steps = Vec::with_capacity(tables.len() + 1);
    steps.push(vec![1.0; q]);
    for table in tables {
        let from = &steps[steps.len() - 1];
        let mut next = vec![0.0; from.len() + (table.n_categories - 1) * q];
        lord_wingersky_step(from, table, q, &mut next);
        steps.push(next);
    }
    steps
}

/// The sum-score likelihood of two disjoint sets of items from theirs: at each node, the
/// convolution over scores.
fn convolve(a: &[f64], b: &[f64], q: usize) -> Vec<f64> {
    let (rows_a, rows_b) = (a.len() / q, b.len() / q);
    let mut out = vec![0.0; (rows_a + rows_b - 1) * q];
    for sa in 0..rows_a {
        let from = &a[sa * q..(sa + 1) * q];
        for sb in 0..rows_b {
            let to = &mut out[(sa + sb) * q..(sa + sb + 1) * q];
            for ((t, x), y) in to.iter_mut().zip(from).zip(&b[sb * q..(sb + 1) * q]) {
                *t += x * y;
            }
        }
    }
    out
}

/// The Lord–Wingersky tables of the items before each item and after it: `before[i]` holds
/// items `0..i`, `after[i]` items `i..n`, so that item i's table without it is
/// `convolve(before[i], after[i + 1])`.
fn leave_one_out_sides(tables: &[ItemTable], q: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let forward: Vec<&ItemTable> = tables.iter().collect();
    let backward: Vec<&ItemTable> = tables.iter().rev().collect();
    let mut after = lord_wingersky_steps(&backward, q);
    after.reverse();
    (lord_wingersky_steps(&forward, q), after)
}

/// S-X² of every item: `None` for items whose table cannot be formed.
pub(crate) fn s_x2(
    tables: &[ItemTable],
    grid: &Grid,
    observed: &SumScoreTables,
    parameters: &[usize],
    latent_parameters: usize,
    persons: f64,
    min_expected: f64,
) -> Vec<Option<ChiSquareTest>> {
    let q = grid.len();
    let n = tables.len();
    let max = observed.max_score;
    if max < 2 || observed.persons == 0 {
        return vec![None; n];
    }
    let all: Vec<&ItemTable> = tables.iter().collect();
    let l_all = lord_wingersky(&all, q);
    let totals: Vec<f64> = (0..=max)
        .map(|s| {
            l_all[s * q..(s + 1) * q]
                .iter()
                .zip(&grid.weights)
                .map(|(l, w)| l * w)
                .sum()
        })
        .collect();
    // Each item's sum-score likelihood without it, from the items before it and those after it
    // (the recursions' intermediate tables, kept while they are small); otherwise recomputed.
    let kept_bytes = 2.0 * (n as f64) * (max as f64 + 1.0) * (q as f64) * 8.0;
    let sides = (kept_bytes <= 256e6).then(|| leave_one_out_sides(tables, q));
    (0..n)
        .into_par_iter()
        .map(|i| {
            let l_rest = match &sides {
                Some((before, after)) => convolve(&before[i], &after[i + 1], q),
                None => {
                    let others: Vec<&ItemTable> =
                        (0..n).filter(|&j| j != i).map(|j| &tables[j]).collect();
                    lord_wingersky(&others, q)
                }
            };
            let k = tables[i].n_categories;
            let rest_max = max - (k - 1);
            // Rows s = 1..max−1.
            let mut expected: Vec<Vec<Option<f64>>> = Vec::with_capacity(max - 1);
            let mut observed_rows: Vec<Vec<f64>> = Vec::with_capacity(max - 1);
            for s in 1..max {
                let n_s = observed.counts[s];
                let row: Vec<Option<f64>> = (0..k)
                    .map(|c| {
                        if c > s || s - c > rest_max {
                            return None;
                        }
                        if totals[s] <= 0.0 {
                            return Some(0.0);
                        }
                        let rest = &l_rest[(s - c) * q..(s - c + 1) * q];
                        let p = tables[i].category(c);
                        let joint: f64 = rest
                            .iter()
                            .zip(p)
                            .zip(&grid.weights)
                            .map(|((l, p), w)| l * p * w)
                            .sum();
                        Some(joint / totals[s] * n_s)
                    })
                    .collect();
                expected.push(row);
                observed_rows.push(observed.observed[i][s * k..(s + 1) * k].to_vec());
            }
            let (o, e) = collapse_cells(observed_rows, expected, min_expected)?;
            let mut value = 0.0;
            let mut cells = 0usize;
            for (o_row, e_row) in o.iter().zip(&e) {
                for (o, e) in o_row.iter().zip(e_row) {
                    if let Some(e) = e {
                        value += (o - e) * (o - e) / e;
                        cells += 1;
                    }
                }
            }
            let df =
                cells as f64 - e.len() as f64 - parameters[i] as f64 - latent_parameters as f64;
            Some(ChiSquareTest::new(value, df, persons))
        })
        .collect()
}

type Table = (Vec<Vec<f64>>, Vec<Vec<Option<f64>>>);

/// mirt's `collapseCells` (R/utils.R), step for step: structural empty rows folded into their
/// neighbours, empty rows dropped, rows of one person merged down, sparse categories of a row
/// merged into the neighbour with the smaller expectation, rare right-hand columns folded,
/// then rows with expected counts below `min_expected` merged into the neighbour with the
/// smaller observed total. Cells with expectation 0 come back as `None`. Returns `None` when
/// fewer than two rows (or columns) remain.
pub(crate) fn collapse_cells(
    observed: Vec<Vec<f64>>,
    expected: Vec<Vec<Option<f64>>>,
    min_expected: f64,
) -> Option<Table> {
    let mut o = observed;
    let structural: Vec<usize> = (0..expected.len())
        .filter(|&r| expected[r].iter().any(|v| v.is_none()))
        .collect();
    let mut e: Vec<Vec<f64>> = expected
        .into_iter()
        .map(|row| row.into_iter().map(|v| v.unwrap_or(0.0)).collect())
        .collect();
    let ncol = e.first().map_or(0, |r| r.len());
    if ncol < 2 {
        return None;
    }
    let add_row = |m: &mut Vec<Vec<f64>>, from: usize, to: usize| {
        let source = m[from].clone();
        for (t, s) in m[to].iter_mut().zip(source) {
            *t += s;
        }
    };
    // a. Rows with structurally empty cells: the top half into the row below them, the bottom
    // half into the row above them.
    if !structural.is_empty() {
        let half = structural.len() / 2;
        let up: Vec<usize> = if half >= 1 {
            (structural[0]..=structural[half - 1]).collect()
        } else {
            Vec::new()
        };
        let low: Vec<usize> = (structural[half]..=structural[structural.len() - 1]).collect();
        let mut removed = vec![false; e.len()];
        if let Some(&top) = up.iter().max()
            && top + 1 < e.len()
        {
            for &r in &up {
                add_row(&mut e, r, top + 1);
                add_row(&mut o, r, top + 1);
            }
        }
        if let Some(&bottom) = low.iter().min()
            && bottom >= 1
        {
            for &r in &low {
                add_row(&mut e, r, bottom - 1);
                add_row(&mut o, r, bottom - 1);
            }
        }
        for r in up.iter().chain(&low) {
            if let Some(slot) = removed.get_mut(*r) {
                *slot = true;
            }
        }
        retain_rows(&mut e, &mut o, &removed);
    }
    if e.is_empty() {
        return None;
    }
    // b. Rows nobody is in.
    let empty: Vec<bool> = o.iter().map(|r| r.iter().sum::<f64>() == 0.0).collect();
    retain_rows(&mut e, &mut o, &empty);
    if e.len() < 2 {
        return None;
    }
    let sparse: Vec<Vec<bool>> = e
        .iter()
        .map(|r| r.iter().map(|&v| v < min_expected).collect())
        .collect();
    // c. Rows of a single person merged into the next; a last such row into the one above.
    let mut single = vec![false; e.len()];
    for j in 0..e.len() - 1 {
        if o[j].iter().sum::<f64>() == 1.0 {
            single[j] = true;
            add_row(&mut o, j, j + 1);
            add_row(&mut e, j, j + 1);
        }
    }
    retain_rows(&mut e, &mut o, &single);
    if e.len() < 2 {
        return None;
    }
    let last = e.len() - 1;
    if o[last].iter().sum::<f64>() == 1.0 {
        add_row(&mut o, last, last - 1);
        add_row(&mut e, last, last - 1);
        o.pop();
        e.pop();
    }
    if e.len() < 2 {
        return None;
    }
    // d. Within a row with sparse cells (flags from before step c, by row position as mirt
    // keeps them), merge the smallest cell into a neighbour until every cell reaches the
    // minimum; the row is then left-justified.
    let mut ncol = ncol;
    if ncol > 2 {
        for j in 0..e.len() {
            if !sparse.get(j).is_some_and(|r| r.iter().any(|&s| s)) {
                continue;
            }
            let mut te = e[j].clone();
            let mut to = o[j].clone();
            while te.len() > 2 {
                let m = te.iter().cloned().fold(f64::INFINITY, f64::min);
                let w = te.iter().rposition(|&v| v == m).unwrap_or(0);
                // The first merges right, the last left, others into the smaller neighbour
                // (the left one on ties).
                let pick = if w == 0 {
                    1
                } else if w == te.len() - 1 || te[w - 1] <= te[w + 1] {
                    w - 1
                } else {
                    w + 1
                };
                te[pick] += te[w];
                to[pick] += to[w];
                te.remove(w);
                to.remove(w);
                if te.iter().all(|&v| v >= min_expected) {
                    break;
                }
            }
            te.resize(ncol, 0.0);
            to.resize(ncol, 0.0);
            e[j] = te;
            o[j] = to;
        }
        // e. Fold the last column into the one before while its expected total is small.
        loop {
            let threshold = min_expected * (e.len() as f64 * 0.1).ceil();
            let last_total: f64 = e.iter().map(|r| r[ncol - 1]).sum();
            if last_total >= threshold || ncol == 2 {
                break;
            }
            for (re, ro) in e.iter_mut().zip(o.iter_mut()) {
                re[ncol - 2] += re[ncol - 1];
                ro[ncol - 2] += ro[ncol - 1];
                re.pop();
                ro.pop();
            }
            ncol -= 1;
        }
    }
    // f. Columns with expectation in fewer than 5 % of the rows fold into their left
    // neighbour.
    let mut drop_column = vec![false; ncol];
    for j in (1..ncol).rev() {
        let used = e.iter().filter(|r| r[j] > 0.0).count() as f64 / e.len() as f64;
        if used < 0.05 {
            drop_column[j] = true;
            for (re, ro) in e.iter_mut().zip(o.iter_mut()) {
                re[j - 1] += re[j];
                ro[j - 1] += ro[j];
            }
        }
    }
    if drop_column.iter().any(|&d| d) {
        for (re, ro) in e.iter_mut().zip(o.iter_mut()) {
            let mut c = 0;
            re.retain(|_| {
                c += 1;
                !drop_column[c - 1]
            });
            let mut c = 0;
            ro.retain(|_| {
                c += 1;
                !drop_column[c - 1]
            });
        }
        ncol = e[0].len();
    }
    // g. Rows with a small (non-zero) expectation merge into a neighbour: the first and last
    // rows inward, others into the neighbour with the smaller observed total (ties upward).
    loop {
        if e.len() < 2 || ncol < 2 {
            break;
        }
        let flagged = e
            .iter()
            .position(|r| r.iter().any(|&v| v < min_expected && v != 0.0));
        let Some(w) = flagged else {
            break;
        };
        let pick = if w == 0 {
            1
        } else if w == e.len() - 1 {
            w - 1
        } else {
            let above: f64 = o[w - 1].iter().sum();
            let below: f64 = o[w + 1].iter().sum();
            if above <= below { w - 1 } else { w + 1 }
        };
        add_row(&mut e, w, pick);
        add_row(&mut o, w, pick);
        e.remove(w);
        o.remove(w);
    }
    if e.len() < 2 || ncol < 2 {
        return None;
    }
    let e = e
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| (v != 0.0).then_some(v))
                .collect::<Vec<_>>()
        })
        .collect();
    Some((o, e))
}

fn retain_rows(e: &mut Vec<Vec<f64>>, o: &mut Vec<Vec<f64>>, removed: &[bool]) {
    let mut r = 0;
    e.retain(|_| {
        r += 1;
        !removed.get(r - 1).copied().unwrap_or(false)
    });
    let mut r = 0;
    o.retain(|_| {
        r += 1;
        !removed.get(r - 1).copied().unwrap_or(false)
    });
}

/// The persons' order by θ̂ (ascending, ties in person order) and their θ̂.
pub(crate) fn theta_order(thetas: &[Option<f64>]) -> Vec<(usize, f64)> {
    let mut order: Vec<(usize, f64)> = thetas
        .iter()
        .enumerate()
        .filter_map(|(p, t)| t.map(|t| (p, t)))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    order
}

/// The sizes of `groups` groups of `n` ordered persons: equal, the remainder split between
/// the first (half, rounded down) and the last group (mirt's `group.bins`).
pub(crate) fn group_sizes(n: usize, groups: usize) -> Vec<usize> {
    let groups = groups.max(1);
    let base = n / groups;
    let remainder = n % groups;
    let mut sizes = vec![base; groups];
    sizes[0] += remainder / 2;
    sizes[groups - 1] += remainder - remainder / 2;
    sizes
}

/// Yen's Q1 for every item.
pub(crate) fn q1(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
    order: &[(usize, f64)],
    parameters: &[usize],
    groups: usize,
    persons: f64,
) -> Vec<Option<ChiSquareTest>> {
    (0..items.len())
        .into_par_iter()
        .map(|j| {
            let item = &items[j];
            let k = item.n_categories();
            let answered: Vec<(f64, usize)> = order
                .iter()
                .filter_map(|&(p, theta)| {
                    responses
                        .response(p, j)
                        .map(|c| (theta, (c as usize).min(k - 1)))
                })
                .collect();
            if answered.len() < 2 * groups {
                return None;
            }
            let mut value = 0.0;
            let mut df = 0.0;
            let mut at = 0;
            let mut p = vec![0.0; k];
            let mut counts = vec![0.0; k];
            for size in group_sizes(answered.len(), groups) {
                let members = &answered[at..at + size];
                at += size;
                if size < 2 {
                    continue;
                }
                counts.iter_mut().for_each(|c| *c = 0.0);
                let mut mean = 0.0;
                for &(theta, c) in members {
                    counts[c] += 1.0;
                    mean += theta;
                }
                mean /= size as f64;
                item.probabilities_into(mean, &mut p);
                for c in 0..k {
                    let e = size as f64 * p[c];
                    value += (counts[c] - e) * (counts[c] - e) / e;
                }
                df += (k - 1) as f64;
            }
            Some(ChiSquareTest::new(
                value,
                df - parameters[j] as f64,
                persons,
            ))
        })
        .collect()
}

/// Assembles the item-fit table and adjusts the p-values over the items.
#[allow(clippy::too_many_arguments)]
pub(crate) fn item_fit_table(
    items: &[ItemParameters],
    sums: &[FitSums],
    s_x2: Vec<Option<ChiSquareTest>>,
    q1: Vec<Option<ChiSquareTest>>,
    method: PAdjust,
    alpha: f64,
) -> Vec<ItemFit> {
    let adjusted = |tests: &[Option<ChiSquareTest>]| -> Vec<Option<ChiSquareTest>> {
        let p: Vec<f64> = tests.iter().map(|t| t.map_or(f64::NAN, |t| t.p)).collect();
        let a = adjust(&p, method);
        tests
            .iter()
            .zip(a)
            .map(|(t, a)| {
                t.map(|mut t| {
                    t.p_adjusted = a;
                    t
                })
            })
            .collect()
    };
    let s_x2 = adjusted(&s_x2);
    let q1 = adjusted(&q1);
    items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            let (outfit, outfit_t) = sums[j].outfit();
            let (infit, infit_t) = sums[j].infit();
            let test = s_x2[j].or(q1[j]);
            ItemFit {
                item: item.item.clone(),
                persons: sums[j].n as usize,
                s_x2: s_x2[j],
                q1: q1[j],
                zh: sums[j].zh(),
                infit,
                infit_t,
                outfit,
                outfit_t,
                flagged: test.is_some_and(|t| t.p_adjusted < alpha),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_an_item_out_by_the_items_before_and_after_it() {
        // Items of 2, 3 and 4 categories at three nodes: the convolution of the tables before
        // and after each item is the recursion over the other items.
        let q = 3;
        let table = |k: usize, shift: f64| {
            let mut p = vec![0.0; k * q];
            for node in 0..q {
                let raw: Vec<f64> = (0..k)
                    .map(|c| 1.0 + c as f64 * (node as f64 + shift))
                    .collect();
                let total: f64 = raw.iter().sum();
                for c in 0..k {
                    p[c * q + node] = raw[c] / total;
                }
            }
            ItemTable {
                n_categories: k,
                p,
                expected: vec![0.0; q],
                second: vec![0.0; q],
            }
        };
        let tables = [
            table(2, 0.3),
            table(3, 0.1),
            table(4, 0.7),
            table(2, 1.1),
            table(3, 0.5),
        ];
        let (before, after) = leave_one_out_sides(&tables, q);
        for i in 0..tables.len() {
            let others: Vec<&ItemTable> = (0..tables.len())
                .filter(|&j| j != i)
                .map(|j| &tables[j])
                .collect();
            let direct = lord_wingersky(&others, q);
            let combined = convolve(&before[i], &after[i + 1], q);
            assert_eq!(direct.len(), combined.len(), "item {i}");
            for (a, b) in direct.iter().zip(&combined) {
                assert!((a - b).abs() < 1e-15, "item {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn groups_split_the_remainder() {
        assert_eq!(group_sizes(1000, 10), vec![100; 10]);
        let sizes = group_sizes(1007, 10);
        assert_eq!(sizes[0], 103);
        assert_eq!(sizes[9], 104);
        assert_eq!(sizes.iter().sum::<usize>(), 1007);
    }

    #[test]
    fn collapsing_merges_single_person_rows_and_small_cells() {
        // Row 0 has one person: it merges into row 1.
        let o = vec![vec![1.0, 0.0], vec![5.0, 5.0], vec![3.0, 9.0]];
        let e = vec![
            vec![Some(0.6), Some(0.4)],
            vec![Some(5.5), Some(4.5)],
            vec![Some(4.0), Some(8.0)],
        ];
        let (o, e) = collapse_cells(o, e, 1.0).unwrap();
        assert_eq!(o, vec![vec![6.0, 5.0], vec![3.0, 9.0]]);
        assert_eq!(e[0], vec![Some(6.1), Some(4.9)]);
    }
}

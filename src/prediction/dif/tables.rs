//! The data every observed-score DIF method reads: each person's item scores and group, and per
//! item the persons counted by matching score × group × item score — one pass over the
//! responses for every item at once, spread over the cores.
//!
//! The matching score of a studied item is the sum of the person's scores on the anchor items
//! plus the studied item itself when it is not an anchor (Holland & Thayer, 1988; difR's
//! `mantelHaenszel` and `Logistik` do the same). Item scores are category codes 0…K−1 (the
//! categories in numeric order). A person who skipped the studied item is left out of its
//! table; a skipped anchor item adds nothing to the score (difR sums with `na.rm = TRUE`).

use rayon::prelude::*;

use crate::prediction::PredictionError;
use crate::prediction::groups::Groups;
use crate::prediction::responses::{MISSING, ResponseMatrix};

/// The most person × item cells the observed-score methods copy (one byte each).
const MAX_CELLS: usize = 400_000_000;

/// Item scores of the persons of two groups.
pub(crate) struct ScoreData {
    /// Item names.
    pub items: Vec<String>,
    /// Categories per item.
    pub categories: Vec<usize>,
    /// Person-major codes (`MISSING` where skipped).
    pub codes: Vec<u8>,
    /// Per person: in the focal group.
    pub focal: Vec<bool>,
}

impl ScoreData {
    /// The persons of `groups`' reference (0) and first focal group (1).
    pub fn new(responses: &ResponseMatrix, groups: &Groups) -> Result<ScoreData, PredictionError> {
        let n_items = responses.n_items();
        let persons: Vec<(usize, bool)> = groups
            .membership
            .iter()
            .enumerate()
            .filter_map(|(p, g)| match g {
                Some(0) => Some((p, false)),
                Some(1) => Some((p, true)),
                _ => None,
            })
            .collect();
        let cells = persons.len().saturating_mul(n_items);
        if cells > MAX_CELLS {
            return Err(PredictionError::TooLarge(format!(
                "{} persons × {n_items} items are too many responses for the score-based DIF methods; choose fewer items",
                persons.len()
            )));
        }
        let mut codes = vec![MISSING; cells];
        for (row, &(p, _)) in codes.chunks_mut(n_items.max(1)).zip(&persons) {
            match responses.dense_row(p) {
                Some(source) => row.copy_from_slice(source),
                None => {
                    for (j, code) in responses.responses_of(p) {
                        row[j] = code;
                    }
                }
            }
        }
        Ok(ScoreData {
            items: responses.item_names().to_vec(),
            categories: (0..n_items).map(|j| responses.n_categories(j)).collect(),
            codes,
            focal: persons.iter().map(|&(_, f)| f).collect(),
        })
    }

    /// Number of persons.
    pub fn n_persons(&self) -> usize {
        self.focal.len()
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
}

/// One item's counts by matching score, group and item score.
#[derive(Clone, Debug)]
pub(crate) struct StratifiedTable {
    /// Categories of the item.
    pub k: usize,
    /// Number of score strata (matching scores 0…n_strata−1).
    pub n_strata: usize,
    /// `counts[(s·2 + g)·k + c]`: persons with matching score s in group g (0 reference,
    /// 1 focal) scoring c on the item.
    pub counts: Vec<f64>,
}

impl StratifiedTable {
    /// Persons at score s in group g with item score c.
    #[inline]
    pub fn at(&self, s: usize, g: usize, c: usize) -> f64 {
        self.counts[(s * 2 + g) * self.k + c]
    }
}

/// The stratified tables of every item with matching scores over `anchors` (plus the studied
/// item when it is not an anchor).
pub(crate) fn stratified_tables(data: &ScoreData, anchors: &[bool]) -> Vec<StratifiedTable> {
    let n_items = data.n_items();
    let anchor_max: usize = (0..n_items)
        .filter(|&j| anchors[j])
        .map(|j| data.categories[j].saturating_sub(1))
        .sum();
    let shapes: Vec<(usize, usize)> = (0..n_items)
        .map(|j| {
            let k = data.categories[j].max(1);
            let extra = if anchors[j] { 0 } else { k - 1 };
            (k, anchor_max + extra + 1)
        })
        .collect();
    let empty = || -> Vec<Vec<u32>> {
        shapes
            .iter()
            .map(|&(k, strata)| vec![0u32; strata * 2 * k])
            .collect()
    };
    let n_persons = data.n_persons();
    let chunk = 4096;
    let n_chunks = n_persons.div_ceil(chunk);
    let anchor_list: Vec<usize> = (0..n_items).filter(|&j| anchors[j]).collect();
    let parts: Vec<Vec<Vec<u32>>> = (0..n_chunks)
        .into_par_iter()
        .fold(empty, |mut tables, c| {
            let lo = c * chunk;
            let hi = ((c + 1) * chunk).min(n_persons);
            for p in lo..hi {
                let row = &data.codes[p * n_items..(p + 1) * n_items];
                let g = usize::from(data.focal[p]);
                let mut base = 0usize;
                for &j in &anchor_list {
                    let code = row[j];
                    if code != MISSING {
                        base += code as usize;
                    }
                }
                for (j, (&code, table)) in row.iter().zip(tables.iter_mut()).enumerate() {
                    if code == MISSING {
                        continue;
                    }
                    let (k, _) = shapes[j];
                    let s = if anchors[j] {
                        base
                    } else {
                        base + code as usize
                    };
                    table[(s * 2 + g) * k + code as usize] += 1;
                }
            }
            tables
        })
        .collect();
    let mut total = empty();
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            for (a, b) in t.iter_mut().zip(p) {
                *a += b;
            }
        }
    }
    total
        .into_iter()
        .zip(&shapes)
        .map(|(counts, &(k, n_strata))| StratifiedTable {
            k,
            n_strata,
            counts: counts.into_iter().map(f64::from).collect(),
        })
        .collect()
}

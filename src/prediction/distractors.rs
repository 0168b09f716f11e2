//! Distractor analysis of multiple-choice items from the unscored answers and their key: per
//! item and option, how many persons chose it overall and in total-score groups, its
//! option–rest point-biserial correlation, and flags for what deserves a second look — a
//! distractor that attracts the strong students, a key that the weak choose more than the
//! strong, an option nobody chooses, a probable miskey.
//!
//! The **total score** is the number of keyed items a person answered with the key (a missing
//! answer counts as wrong, as ShinyItemAnalysis's `DistractorAnalysis` does). Persons are split
//! into score groups at the total's quantiles, as [`super::classical::score_group_cuts`] does
//! for the upper–lower index (persons with the same total stay in one group, so groups may
//! differ in size). Proportions are of all persons in the group, so the rows of an item —
//! including "(no answer)" — add up to 1.
//!
//! The **option–rest point-biserial** is the Pearson correlation, over every person, of
//! "chose this option" (0/1) with the rest score (the total without this item), so the key's
//! own correctness does not inflate it (Attali & Fraenkel, 2000; jMetrik reports the same
//! correlation with the total).
//!
//! Flags (Haladyna & Rodriguez, 2013, ch. 17; ShinyItemAnalysis's distractor plots):
//!
//! - [`DistractorFlag::AttractsTopGroup`]: a distractor chosen by a larger proportion of the
//!   top score group than of the bottom one — by more than chance: the one-sided z test of the
//!   two proportions (pooled standard error) exceeds 1.645, so one strong student's odd answer
//!   does not raise it;
//! - [`DistractorFlag::KeyNegative`]: the key's point-biserial is negative;
//! - [`DistractorFlag::NeverChosen`]: an option nobody chose (the options are those given in
//!   the settings, or every value seen in any keyed item, plus the keys);
//! - [`DistractorFlag::ProbableMiskey`]: a distractor whose point-biserial is positive and
//!   higher than the key's.
//!
//! Everything is one pass over the answers for the totals and one for the counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classical::{score_group, score_group_cuts};
use super::responses::{MISSING, ResponseMatrix};
use super::{FitSettings, ItemParameters, ItemType, PredictionError, StandardErrorMethod};
use crate::preprocessing::KeyEntry;

/// The row label of persons who gave no answer.
pub const NO_ANSWER: &str = "(no answer)";

/// Settings of the distractor analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistractorSettings {
    /// Number of total-score groups (2 to 10; 3 by default, 3–5 usual).
    pub groups: usize,
    /// The options every item offers (e.g. A, B, C, D), for the "nobody chooses" flag; empty:
    /// every value seen in any keyed item, plus the keys.
    pub options: Vec<String>,
}

impl Default for DistractorSettings {
    fn default() -> Self {
        DistractorSettings {
            groups: 3,
            options: Vec::new(),
        }
    }
}

impl DistractorSettings {
    /// Checks the number of groups.
    pub fn validate(&self) -> Result<(), PredictionError> {
        if !(2..=10).contains(&self.groups) {
            return Err(PredictionError::InvalidSetting(format!(
                "the distractor analysis needs 2 to 10 score groups, got {}",
                self.groups
            )));
        }
        Ok(())
    }
}

/// Something about an option worth a second look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistractorFlag {
    /// A distractor chosen more often in the top score group than in the bottom one (one-sided
    /// z test of the two proportions at 5 %).
    AttractsTopGroup,
    /// The key's option–rest correlation is negative.
    KeyNegative,
    /// Nobody chose the option.
    NeverChosen,
    /// A distractor with a positive point-biserial higher than the key's: the key may be wrong.
    ProbableMiskey,
}

impl DistractorFlag {
    /// Every flag, most serious first.
    pub const ALL: [DistractorFlag; 4] = [
        DistractorFlag::ProbableMiskey,
        DistractorFlag::KeyNegative,
        DistractorFlag::AttractsTopGroup,
        DistractorFlag::NeverChosen,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            DistractorFlag::AttractsTopGroup => "attracts top group",
            DistractorFlag::KeyNegative => "key discriminates negatively",
            DistractorFlag::NeverChosen => "never chosen",
            DistractorFlag::ProbableMiskey => "probable miskey",
        }
    }

    /// One sentence for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            DistractorFlag::AttractsTopGroup => {
                "a distractor chosen more often by the top score group than by the bottom one"
            }
            DistractorFlag::KeyNegative => {
                "the key is chosen less by persons with high rest scores (negative point-biserial)"
            }
            DistractorFlag::NeverChosen => "an option nobody chose",
            DistractorFlag::ProbableMiskey => {
                "a distractor correlates more with the rest score than the key does: check the key"
            }
        }
    }
}

/// One option of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionStatistics {
    /// The option as in the data, or [`NO_ANSWER`].
    pub option: String,
    /// Whether this is the key.
    pub is_key: bool,
    /// Whether this row counts the persons without an answer.
    pub is_no_answer: bool,
    /// Persons who chose it.
    pub count: usize,
    /// Their proportion among all persons.
    pub proportion: f64,
    /// Their proportion in each score group, lowest first (`None` for an empty group).
    pub group_proportions: Vec<Option<f64>>,
    /// Mean total score of those who chose it.
    pub mean_total: Option<f64>,
    /// Option–rest point-biserial correlation.
    pub point_biserial: Option<f64>,
    /// Flags of this option.
    pub flags: Vec<DistractorFlag>,
}

/// The distractor analysis of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistractorItem {
    /// Item name.
    pub item: String,
    /// The key, as given.
    pub key: String,
    /// The options (in natural order), then "(no answer)" when anyone left the item out.
    pub options: Vec<OptionStatistics>,
    /// Proportion of all persons who chose the key.
    pub proportion_correct: f64,
    /// Every flag of the item's options, most serious first.
    pub flags: Vec<DistractorFlag>,
}

impl DistractorItem {
    /// The key's row.
    pub fn key_option(&self) -> Option<&OptionStatistics> {
        self.options.iter().find(|o| o.is_key)
    }

    /// The flags as text: "probable miskey (C); never chosen (E)".
    pub fn flags_text(&self) -> String {
        let mut parts = Vec::new();
        for flag in &self.flags {
            let options: Vec<&str> = self
                .options
                .iter()
                .filter(|o| o.flags.contains(flag))
                .map(|o| o.option.as_str())
                .collect();
            parts.push(format!("{} ({})", flag.name(), options.join(", ")));
        }
        parts.join("; ")
    }
}

/// The distractor analysis of a test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistractorAnalysis {
    /// The settings used.
    pub settings: DistractorSettings,
    /// Persons.
    pub n_persons: usize,
    /// Each person's total score (number of keyed items answered with the key).
    pub totals: Vec<u32>,
    /// Total-score cut points between the groups.
    pub group_cuts: Vec<f64>,
    /// Persons per group, lowest first.
    pub group_sizes: Vec<usize>,
    /// Total-score range of each group (lowest, highest score present; `None` when empty).
    pub group_ranges: Vec<Option<(u32, u32)>>,
    /// One entry per keyed item, in data order.
    pub items: Vec<DistractorItem>,
}

impl DistractorAnalysis {
    /// The items with at least one flag, most serious first, then the others.
    pub fn items_flagged_first(&self) -> Vec<&DistractorItem> {
        let rank = |item: &DistractorItem| {
            item.flags
                .first()
                .and_then(|f| DistractorFlag::ALL.iter().position(|a| a == f))
                .unwrap_or(DistractorFlag::ALL.len())
        };
        let mut items: Vec<&DistractorItem> = self.items.iter().collect();
        items.sort_by_key(|i| rank(i));
        items
    }

    /// The group labels: "1 (0–12)", "2 (13–19)", …
    pub fn group_labels(&self) -> Vec<String> {
        self.group_ranges
            .iter()
            .enumerate()
            .map(|(g, range)| match range {
                Some((lo, hi)) if lo == hi => format!("{} ({lo})", g + 1),
                Some((lo, hi)) => format!("{} ({lo}–{hi})", g + 1),
                None => format!("{} (empty)", g + 1),
            })
            .collect()
    }

    /// The table of every item and option: `item, option, key, n, proportion, group_1 …
    /// group_G, mean_total, point_biserial, flags`.
    pub fn table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        use polars::prelude::Column;
        let rows: Vec<(&DistractorItem, &OptionStatistics)> = self
            .items
            .iter()
            .flat_map(|i| i.options.iter().map(move |o| (i, o)))
            .collect();
        let mut columns = vec![
            Column::new(
                "item".into(),
                rows.iter().map(|r| r.0.item.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "option".into(),
                rows.iter().map(|r| r.1.option.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "key".into(),
                rows.iter().map(|r| r.1.is_key).collect::<Vec<_>>(),
            ),
            Column::new(
                "n".into(),
                rows.iter().map(|r| r.1.count as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "proportion".into(),
                rows.iter().map(|r| r.1.proportion).collect::<Vec<_>>(),
            ),
        ];
        for g in 0..self.group_sizes.len() {
            columns.push(Column::new(
                format!("group_{}", g + 1).into(),
                rows.iter()
                    .map(|r| r.1.group_proportions.get(g).copied().flatten())
                    .collect::<Vec<_>>(),
            ));
        }
        columns.push(Column::new(
            "mean_total".into(),
            rows.iter().map(|r| r.1.mean_total).collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            "point_biserial".into(),
            rows.iter().map(|r| r.1.point_biserial).collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            "flags".into(),
            rows.iter()
                .map(|r| {
                    r.1.flags
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .collect::<Vec<_>>(),
        ));
        polars::prelude::DataFrame::new(rows.len(), columns)
            .map_err(|e| PredictionError::Data(e.to_string()))
    }
}

/// Whether an answer's label is the key: the same text, or the same number ("1" and "1.0").
pub fn matches_key(label: &str, key: &str) -> bool {
    let (label, key) = (label.trim(), key.trim());
    if label == key {
        return true;
    }
    match (label.parse::<f64>(), key.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Natural order of option labels: numbers numerically, then text.
fn option_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    }
}

/// Per keyed item: its column in the raw matrix and the key's code (`None` when nobody gave
/// the key's value).
fn keyed_items(
    raw: &ResponseMatrix,
    key: &[KeyEntry],
) -> Result<Vec<(usize, Option<u8>, String)>, PredictionError> {
    let names = raw.item_names();
    key.iter()
        .filter(|k| !k.column.is_empty())
        .map(|k| {
            let j = names.iter().position(|n| n == &k.column).ok_or_else(|| {
                PredictionError::ColumnNotFound {
                    column: k.column.clone(),
                    available: super::responses::shorten_list(names),
                }
            })?;
            if k.key.trim().is_empty() {
                return Err(PredictionError::Data(format!(
                    "the key of item {} is empty",
                    crate::text::quoted(&k.column)
                )));
            }
            let code = raw
                .categories(j)
                .iter()
                .position(|label| matches_key(label, &k.key))
                .map(|c| c as u8);
            Ok((j, code, k.key.trim().to_string()))
        })
        .collect()
}

/// Scores unscored answers by a key: 1 where the answer is the key, 0 where it is another
/// answer, missing where there is none — as the `score_key` preprocessing step does. The
/// result has the keyed items, in the key's order.
pub fn score_by_key(
    raw: &ResponseMatrix,
    key: &[KeyEntry],
) -> Result<ResponseMatrix, PredictionError> {
    let keyed = keyed_items(raw, key)?;
    let n_items = keyed.len();
    let mut codes = vec![MISSING; raw.n_persons() * n_items];
    codes
        .par_chunks_mut(n_items.max(1))
        .enumerate()
        .for_each(|(p, row)| {
            for (slot, (j, key_code, _)) in row.iter_mut().zip(&keyed) {
                if let Some(code) = raw.response(p, *j) {
                    *slot = u8::from(Some(code) == *key_code);
                }
            }
        });
    ResponseMatrix::from_labelled_codes(
        raw.person_ids().to_vec(),
        keyed
            .iter()
            .map(|(j, _, _)| raw.item_names()[*j].clone())
            .collect(),
        vec![vec!["0".to_string(), "1".to_string()]; n_items],
        codes,
    )
}

/// Reads an answer key from a table: either long, with columns `item` and `key` (one row per
/// item), or wide, one row whose columns are the items and whose cells are their keys.
pub fn key_from_table(
    frame: &polars::prelude::DataFrame,
) -> Result<Vec<KeyEntry>, PredictionError> {
    use polars::prelude::DataType;
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let text = |name: &str| -> Result<Vec<Option<String>>, PredictionError> {
        let column = frame
            .column(name)
            .map_err(|_| PredictionError::ColumnNotFound {
                column: name.to_string(),
                available: super::responses::shorten_list(&names),
            })?;
        let cast = column
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(|e| PredictionError::Data(format!("key column \"{name}\": {e}")))?;
        Ok(cast
            .str()
            .map_err(|e| PredictionError::Data(format!("key column \"{name}\": {e}")))?
            .iter()
            .map(|v| v.map(|s| s.trim().to_string()))
            .collect())
    };
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let entries: Vec<KeyEntry> = if let (Some(i), Some(k)) = (
        lower.iter().position(|n| n == "item"),
        lower.iter().position(|n| n == "key"),
    ) {
        let items = text(&names[i])?;
        let keys = text(&names[k])?;
        items
            .into_iter()
            .zip(keys)
            .enumerate()
            .map(|(row, (item, key))| match (item, key) {
                (Some(item), Some(key)) if !item.is_empty() && !key.is_empty() => {
                    Ok(KeyEntry { column: item, key })
                }
                _ => Err(PredictionError::Data(format!(
                    "key table row {}: the item or its key is empty",
                    row + 2
                ))),
            })
            .collect::<Result<_, _>>()?
    } else if frame.height() == 1 {
        names
            .iter()
            .map(|name| {
                let key = text(name)?.into_iter().next().flatten().unwrap_or_default();
                if key.is_empty() {
                    return Err(PredictionError::Data(format!(
                        "key table: the key of item {} is empty",
                        crate::text::quoted(name)
                    )));
                }
                Ok(KeyEntry {
                    column: name.clone(),
                    key,
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(PredictionError::Data(format!(
            "a key table has either the columns \"item\" and \"key\", or one row with a column per item; this one has {} rows and the columns {}",
            frame.height(),
            super::responses::shorten_list(&names)
        )));
    };
    if entries.is_empty() {
        return Err(PredictionError::Data("the key table is empty".into()));
    }
    Ok(entries)
}

/// Persons per parallel chunk.
const CHUNK: usize = 4096;

/// Per item and option slot: count, Σ total, count per group.
struct Counts {
    /// Per item, the first slot's index into the flat arrays.
    offsets: Vec<usize>,
    count: Vec<u64>,
    sum: Vec<u64>,
    /// `slot × groups + group`.
    groups: Vec<u64>,
}

impl Counts {
    fn new(offsets: &[usize], groups: usize) -> Counts {
        let slots = offsets.last().copied().unwrap_or(0);
        Counts {
            offsets: offsets.to_vec(),
            count: vec![0; slots],
            sum: vec![0; slots],
            groups: vec![0; slots * groups],
        }
    }

    fn merge(mut self, o: Counts) -> Counts {
        for (a, b) in self.count.iter_mut().zip(&o.count) {
            *a += b;
        }
        for (a, b) in self.sum.iter_mut().zip(&o.sum) {
            *a += b;
        }
        for (a, b) in self.groups.iter_mut().zip(&o.groups) {
            *a += b;
        }
        self
    }
}

/// The distractor analysis of the unscored answers `raw` (each item's categories are its
/// answer options) against `key`. Items of `raw` without a key are left out; a key naming an
/// item that `raw` lacks is an error.
pub fn distractor_analysis(
    raw: &ResponseMatrix,
    key: &[KeyEntry],
    settings: &DistractorSettings,
) -> Result<DistractorAnalysis, PredictionError> {
    settings.validate()?;
    let keyed = keyed_items(raw, key)?;
    if keyed.is_empty() {
        return Err(PredictionError::Data(
            "the key names no item; give the key of at least one item".into(),
        ));
    }
    let n_persons = raw.n_persons();
    let n_groups = settings.groups;
    // Slots per item: its categories, then one for "no answer".
    let mut offsets = Vec::with_capacity(keyed.len() + 1);
    offsets.push(0usize);
    for (j, _, _) in &keyed {
        offsets.push(offsets.last().copied().unwrap_or(0) + raw.n_categories(*j) + 1);
    }
    // Keyed position of every raw item, for the passes below.
    let mut position = vec![usize::MAX; raw.n_items()];
    for (k, (j, _, _)) in keyed.iter().enumerate() {
        position[*j] = k;
    }
    let key_codes: Vec<u8> = keyed
        .iter()
        .map(|(_, code, _)| code.unwrap_or(MISSING))
        .collect();

    // Pass 1: totals.
    let totals: Vec<u32> = (0..n_persons)
        .into_par_iter()
        .with_min_len(CHUNK)
        .map(|p| {
            raw.responses_of(p)
                .filter(|&(j, c)| {
                    let k = position[j];
                    k != usize::MAX && key_codes[k] == c
                })
                .count() as u32
        })
        .collect();
    let mut histogram = vec![0usize; keyed.len() + 1];
    for &t in &totals {
        histogram[t as usize] += 1;
    }
    let cuts = score_group_cuts(&histogram, n_groups);
    let group_of: Vec<usize> = (0..histogram.len())
        .map(|t| score_group(t as f64, &cuts))
        .collect();
    let mut group_sizes = vec![0usize; n_groups];
    let mut group_ranges: Vec<Option<(u32, u32)>> = vec![None; n_groups];
    for (t, &count) in histogram.iter().enumerate() {
        if count > 0 {
            let g = group_of[t];
            group_sizes[g] += count;
            let t = t as u32;
            group_ranges[g] = Some(match group_ranges[g] {
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
                None => (t, t),
            });
        }
    }

    // Pass 2: counts per option and group.
    let counts = totals
        .par_chunks(CHUNK)
        .enumerate()
        .fold(
            || Counts::new(&offsets, n_groups),
            |mut c, (chunk_index, totals)| {
                let mut answered = vec![false; keyed.len()];
                for (offset, &t) in totals.iter().enumerate() {
                    let p = chunk_index * CHUNK + offset;
                    let g = group_of[t as usize];
                    let t64 = u64::from(t);
                    answered.iter_mut().for_each(|a| *a = false);
                    for (j, code) in raw.responses_of(p) {
                        let k = position[j];
                        if k == usize::MAX {
                            continue;
                        }
                        answered[k] = true;
                        let slot = c.offsets[k] + code as usize;
                        c.count[slot] += 1;
                        c.sum[slot] += t64;
                        c.groups[slot * n_groups + g] += 1;
                    }
                    for (k, &a) in answered.iter().enumerate() {
                        if !a {
                            let slot = c.offsets[k + 1] - 1;
                            c.count[slot] += 1;
                            c.sum[slot] += t64;
                            c.groups[slot * n_groups + g] += 1;
                        }
                    }
                }
                c
            },
        )
        .reduce(|| Counts::new(&offsets, n_groups), Counts::merge);

    // Every option any keyed item shows, for "never chosen".
    let mut all_options: Vec<String> = if settings.options.is_empty() {
        let mut seen: Vec<String> = Vec::new();
        for (j, _, key) in &keyed {
            for label in raw.categories(*j).iter().chain(std::iter::once(key)) {
                if !seen.iter().any(|s| matches_key(s, label)) {
                    seen.push(label.clone());
                }
            }
        }
        seen
    } else {
        settings
            .options
            .iter()
            .map(|o| o.trim().to_string())
            .collect()
    };
    all_options.sort_by(|a, b| option_order(a, b));

    let n = n_persons as u64;
    let sum_t: u128 = totals.iter().map(|&t| u128::from(t)).sum();
    let sum_tt: u128 = totals.iter().map(|&t| u128::from(t) * u128::from(t)).sum();
    let items = keyed
        .iter()
        .enumerate()
        .map(|(k, (j, key_code, key))| {
            let first = offsets[k];
            let categories = raw.categories(*j);
            // Rest score R = T − (1 if the key was chosen): its sums over every person.
            let (n_key, key_sum) = match key_code {
                Some(c) => (
                    counts.count[first + *c as usize],
                    counts.sum[first + *c as usize],
                ),
                None => (0, 0),
            };
            let rest_sum = sum_t as i128 - n_key as i128;
            let rest_sq = sum_tt as i128 - 2 * key_sum as i128 + n_key as i128;
            let rest_var = n as i128 * rest_sq - rest_sum * rest_sum;
            let option_row = |label: String, slot: Option<usize>, is_key: bool, no_answer: bool| {
                let (count, sum) = match slot {
                    Some(s) => (counts.count[s], counts.sum[s]),
                    None => (0, 0),
                };
                let key_shift = i128::from(is_key) * count as i128;
                let chosen_rest = sum as i128 - key_shift;
                let numerator = n as i128 * chosen_rest - count as i128 * rest_sum;
                let indicator_var = n as i128 * count as i128 - (count as i128).pow(2);
                let point_biserial = (indicator_var > 0 && rest_var > 0).then(|| {
                    numerator as f64 / ((indicator_var as f64) * (rest_var as f64)).sqrt()
                });
                let group_proportions = (0..n_groups)
                    .map(|g| {
                        (group_sizes[g] > 0).then(|| {
                            let chosen = slot.map_or(0, |s| counts.groups[s * n_groups + g]);
                            chosen as f64 / group_sizes[g] as f64
                        })
                    })
                    .collect();
                OptionStatistics {
                    option: label,
                    is_key,
                    is_no_answer: no_answer,
                    count: count as usize,
                    proportion: if n > 0 { count as f64 / n as f64 } else { 0.0 },
                    group_proportions,
                    mean_total: (count > 0).then(|| sum as f64 / count as f64),
                    point_biserial,
                    flags: Vec::new(),
                }
            };
            // Options: the item's categories, the other items' options, the key.
            let mut labels: Vec<(String, Option<usize>)> = categories
                .iter()
                .enumerate()
                .map(|(c, label)| (label.clone(), Some(first + c)))
                .collect();
            for option in &all_options {
                if !labels.iter().any(|(l, _)| matches_key(l, option)) {
                    labels.push((option.clone(), None));
                }
            }
            if key_code.is_none() && !labels.iter().any(|(l, _)| matches_key(l, key)) {
                labels.push((key.clone(), None));
            }
            labels.sort_by(|a, b| option_order(&a.0, &b.0));
            let mut options: Vec<OptionStatistics> = labels
                .into_iter()
                .map(|(label, slot)| {
                    let is_key = matches_key(&label, key);
                    option_row(label, slot, is_key, false)
                })
                .collect();
            let no_answer_slot = offsets[k + 1] - 1;
            if counts.count[no_answer_slot] > 0 {
                options.push(option_row(
                    NO_ANSWER.to_string(),
                    Some(no_answer_slot),
                    false,
                    true,
                ));
            }
            flag_options(&mut options, &group_sizes);
            let mut flags: Vec<DistractorFlag> = Vec::new();
            for flag in DistractorFlag::ALL {
                if options.iter().any(|o| o.flags.contains(&flag)) {
                    flags.push(flag);
                }
            }
            DistractorItem {
                item: raw.item_names()[*j].clone(),
                key: key.clone(),
                proportion_correct: options
                    .iter()
                    .find(|o| o.is_key)
                    .map_or(0.0, |o| o.proportion),
                options,
                flags,
            }
        })
        .collect();
    Ok(DistractorAnalysis {
        settings: settings.clone(),
        n_persons,
        totals,
        group_cuts: cuts,
        group_sizes,
        group_ranges,
        items,
    })
}

/// One-sided z statistic of two proportions, top against bottom (pooled standard error).
fn two_proportion_z(top: f64, n_top: usize, bottom: f64, n_bottom: usize) -> f64 {
    let (nt, nb) = (n_top as f64, n_bottom as f64);
    let pooled = (top * nt + bottom * nb) / (nt + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nb)).sqrt();
    if se > 0.0 { (top - bottom) / se } else { 0.0 }
}

/// z above which a distractor's larger share in the top group counts (one-sided 5 %).
const ATTRACTS_Z: f64 = 1.645;

/// Sets the flags of an item's options (see the module documentation).
fn flag_options(options: &mut [OptionStatistics], group_sizes: &[usize]) {
    let n_groups = group_sizes.len();
    let key_r = options
        .iter()
        .find(|o| o.is_key)
        .and_then(|o| o.point_biserial);
    for option in options.iter_mut().filter(|o| !o.is_no_answer) {
        if option.count == 0 {
            option.flags.push(DistractorFlag::NeverChosen);
            continue;
        }
        if option.is_key {
            if option.point_biserial.is_some_and(|r| r < 0.0) {
                option.flags.push(DistractorFlag::KeyNegative);
            }
            continue;
        }
        if let (Some(r), key_r) = (option.point_biserial, key_r)
            && r > 0.0
            && key_r.is_none_or(|k| r > k)
        {
            option.flags.push(DistractorFlag::ProbableMiskey);
        }
        let bottom = option.group_proportions.first().copied().flatten();
        let top = option
            .group_proportions
            .get(n_groups - 1)
            .copied()
            .flatten();
        if let (Some(bottom), Some(top)) = (bottom, top)
            && top > bottom
            && two_proportion_z(top, group_sizes[n_groups - 1], bottom, group_sizes[0]) > ATTRACTS_Z
        {
            option.flags.push(DistractorFlag::AttractsTopGroup);
        }
    }
}

/// A nominal-model fit to the unscored answers, for drawing its option curves over the
/// distractor plot: the fitted items (categories are the options) and the mean θ estimate of
/// each score group (where the group's observed proportions are drawn).
#[derive(Clone, Debug)]
pub struct NominalOverlay {
    /// The fitted nominal items, in the order of the analysis's items.
    pub items: Vec<ItemParameters>,
    /// Mean EAP θ of each score group (`None` for an empty group).
    pub group_theta: Vec<Option<f64>>,
}

impl NominalOverlay {
    /// The fitted item of that name.
    pub fn item(&self, name: &str) -> Option<&ItemParameters> {
        self.items.iter().find(|i| i.item == name)
    }
}

/// Fits Bock's nominal model to the unscored answers of the analysed items (each item's key
/// made its last category, so that θ points towards the keyed answers), scores every person
/// by EAP, and returns the fitted items with each score group's mean θ.
pub fn fit_nominal_overlay(
    raw: &ResponseMatrix,
    analysis: &DistractorAnalysis,
    progress: &mut dyn FnMut(super::Progress),
    cancel: &AtomicBool,
) -> Result<NominalOverlay, PredictionError> {
    let names: HashMap<&str, usize> = raw
        .item_names()
        .iter()
        .enumerate()
        .map(|(j, n)| (n.as_str(), j))
        .collect();
    let columns: Vec<usize> = analysis
        .items
        .iter()
        .map(|i| {
            names
                .get(i.item.as_str())
                .copied()
                .ok_or_else(|| PredictionError::ColumnNotFound {
                    column: i.item.clone(),
                    available: super::responses::shorten_list(raw.item_names()),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut matrix = raw.select_items(&columns);
    for (k, item) in analysis.items.iter().enumerate() {
        let labels = matrix.categories(k).to_vec();
        let Some(key_code) = labels.iter().position(|l| matches_key(l, &item.key)) else {
            continue;
        };
        let last = labels.len() - 1;
        if key_code == last {
            continue;
        }
        let mut mapping: Vec<Option<u8>> = (0..labels.len() as u8).map(Some).collect();
        mapping[key_code] = Some(last as u8);
        mapping[last] = Some(key_code as u8);
        let mut new_labels = labels.clone();
        new_labels.swap(key_code, last);
        matrix = matrix.recode_item(k, &mapping, new_labels);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PredictionError::Cancelled);
    }
    let settings = FitSettings {
        model: ItemType::Nominal,
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let analysis_fit = super::analyse(
        &matrix,
        &settings,
        super::ScoringMethod::Eap,
        progress,
        cancel,
    )?;
    let mut sums = vec![(0.0f64, 0usize); analysis.group_sizes.len()];
    let group_of = |t: u32| score_group(f64::from(t), &analysis.group_cuts);
    for (score, &t) in analysis_fit.scores.iter().zip(&analysis.totals) {
        if let Some(theta) = score.theta {
            let g = group_of(t);
            if let Some(s) = sums.get_mut(g) {
                s.0 += theta;
                s.1 += 1;
            }
        }
    }
    Ok(NominalOverlay {
        items: analysis_fit.calibration.item_parameters(),
        group_theta: sums
            .into_iter()
            .map(|(s, n)| (n > 0).then(|| s / n as f64))
            .collect(),
    })
}

//! Long data held sparse: one entry per (person, item) response, when the wide table would be
//! mostly empty and too large to build — an item bank or adaptive test where 100,000 persons
//! each answer 30 of 10,000 items has 3 million responses but a billion wide cells. Memory
//! follows the number of responses: per response a person index, an item index and a value
//! index into a dictionary of the distinct response values.
//!
//! The persons' other columns form an ordinary table (one row per person), so filters and
//! column steps on them work as usual; the steps that change responses — key scoring, recoding,
//! minimum answered, selecting, dropping and renaming items — work on the sparse responses
//! directly (see [`SparseResponses::apply_step`]).

use std::collections::HashMap;

use polars::prelude::{DataType, Series};

use super::layout::natural_order;
use crate::preprocessing::{Step, Unmatched};

/// A missing response value.
pub const NO_VALUE: u32 = u32::MAX;

/// Responses of long data held sparse.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseResponses {
    /// For each response, the person: its row in the person table.
    pub persons: Vec<u32>,
    /// For each response, the item: an index into `item_names`.
    pub items: Vec<u32>,
    /// For each response, its value: an index into `labels` ([`NO_VALUE`] when missing).
    pub values: Vec<u32>,
    /// The distinct response values.
    pub labels: Vec<String>,
    /// Item names, in natural order.
    pub item_names: Vec<String>,
}

impl SparseResponses {
    /// Number of responses.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.len() * 12 + self.labels.iter().map(|l| l.len() + 24).sum::<usize>()
    }

    /// Builds the responses from per-row person and item ids and the response column.
    /// `item_order` maps an item id to its position in `item_names`.
    pub(crate) fn from_rows(
        rows: &[(u32, u32, u32)],
        response: &Series,
        item_names: Vec<String>,
    ) -> Result<SparseResponses, String> {
        let text = response
            .cast(&DataType::String)
            .map_err(|e| format!("response column: {e}"))?;
        let text = text.str().map_err(|e| format!("response column: {e}"))?;
        let mut dictionary: HashMap<&str, u32> = HashMap::new();
        let mut labels: Vec<String> = Vec::new();
        let mut persons = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        for &(person, item, row) in rows {
            let value = match text.get(row as usize).map(str::trim) {
                None | Some("") => NO_VALUE,
                Some(v) => *dictionary.entry(v).or_insert_with(|| {
                    labels.push(v.to_string());
                    (labels.len() - 1) as u32
                }),
            };
            persons.push(person);
            items.push(item);
            values.push(value);
        }
        Ok(SparseResponses {
            persons,
            items,
            values,
            labels,
            item_names,
        })
    }

    fn intern(&mut self, label: &str) -> u32 {
        match self.labels.iter().position(|l| l == label) {
            Some(i) => i as u32,
            None => {
                self.labels.push(label.to_string());
                (self.labels.len() - 1) as u32
            }
        }
    }

    /// Keeps the responses of persons `keep` lists (old row → new row), dropping the others.
    pub fn remap_persons(&mut self, new_row: &[Option<u32>]) {
        let mut write = 0;
        for read in 0..self.len() {
            if let Some(Some(row)) = new_row.get(self.persons[read] as usize) {
                self.persons[write] = *row;
                self.items[write] = self.items[read];
                self.values[write] = self.values[read];
                write += 1;
            }
        }
        self.persons.truncate(write);
        self.items.truncate(write);
        self.values.truncate(write);
    }

    /// Keeps the items `keep` says (old item → new item), dropping the others' responses.
    fn remap_items(&mut self, new_item: &[Option<u32>], names: Vec<String>) {
        let mut write = 0;
        for read in 0..self.len() {
            if let Some(item) = new_item[self.items[read] as usize] {
                self.persons[write] = self.persons[read];
                self.items[write] = item;
                self.values[write] = self.values[read];
                write += 1;
            }
        }
        self.persons.truncate(write);
        self.items.truncate(write);
        self.values.truncate(write);
        self.item_names = names;
    }

    /// The item index of a name.
    fn item(&self, name: &str) -> Option<usize> {
        self.item_names.iter().position(|n| n == name)
    }

    /// Whether a step touches item columns (and so must run on the responses).
    pub fn touches_items(&self, step: &Step) -> bool {
        let names = |columns: &[String]| columns.iter().any(|c| self.item(c).is_some());
        match step {
            Step::SelectColumns { .. } => true,
            Step::DropColumns { columns } => names(columns),
            Step::RenameColumns { mapping } => mapping.iter().any(|m| self.item(&m.from).is_some()),
            Step::Filter { conditions, .. } => {
                conditions.iter().any(|c| self.item(&c.column).is_some())
            }
            Step::Recode { columns, .. } => columns.is_empty() || names(columns),
            Step::ScoreKey { key } => key.iter().any(|k| self.item(&k.column).is_some()),
            Step::DropMissing { columns } => columns.is_empty() || names(columns),
            Step::MinAnswered { .. } => true,
            Step::FillMissing { columns, .. } => columns.is_empty() || names(columns),
            Step::RemoveDuplicates { columns, .. } => columns.is_empty() || names(columns),
            Step::Cast { column, .. } => self.item(column).is_some(),
        }
    }

    /// Applies a step that touches items to the responses. `person_columns` are the person
    /// table's columns; `n_persons` its rows. Returns the persons to keep (old row → new row)
    /// when the step removes persons, and the person columns to select when it selects columns.
    pub fn apply_step(
        &mut self,
        step: &Step,
        person_columns: &[String],
        n_persons: usize,
    ) -> Result<StepEffect, String> {
        let n_items = self.item_names.len();
        let unknown = |name: &str| {
            format!(
                "column {} not found; the items are held sparse ({n_items} items), the person columns are: {}",
                crate::text::quoted(name),
                person_columns.join(", ")
            )
        };
        let sparse_refusal = |what: &str| {
            format!(
                "{what} is not available for items held sparse (long data with {n_items} items, most of them unanswered by each person); apply it to the long data before loading, or to person columns"
            )
        };
        match step {
            Step::SelectColumns { columns } => {
                let mut new_item = vec![None; self.item_names.len()];
                let mut names = Vec::new();
                let mut persons = Vec::new();
                for column in columns {
                    match self.item(column) {
                        Some(j) => {
                            new_item[j] = Some(names.len() as u32);
                            names.push(column.clone());
                        }
                        None if person_columns.contains(column) => persons.push(column.clone()),
                        None => return Err(unknown(column)),
                    }
                }
                self.remap_items(&new_item, names);
                Ok(StepEffect::SelectPersonColumns(persons))
            }
            Step::DropColumns { columns } => {
                let mut new_item = vec![None; self.item_names.len()];
                let mut names = Vec::new();
                for (j, name) in self.item_names.iter().enumerate() {
                    if !columns.contains(name) {
                        new_item[j] = Some(names.len() as u32);
                        names.push(name.clone());
                    }
                }
                self.remap_items(&new_item, names);
                let persons: Vec<String> = columns
                    .iter()
                    .filter(|c| person_columns.contains(c))
                    .cloned()
                    .collect();
                Ok(StepEffect::DropPersonColumns(persons))
            }
            Step::RenameColumns { mapping } => {
                let mut rest = Vec::new();
                for entry in mapping {
                    match self.item(&entry.from) {
                        Some(j) => {
                            if self.item(&entry.to).is_some() || person_columns.contains(&entry.to)
                            {
                                return Err(format!(
                                    "cannot rename {} to {}: a column of that name exists",
                                    crate::text::quoted(&entry.from),
                                    crate::text::quoted(&entry.to)
                                ));
                            }
                            self.item_names[j] = entry.to.clone();
                        }
                        None => rest.push(entry.clone()),
                    }
                }
                Ok(StepEffect::RenamePersonColumns(rest))
            }
            Step::ScoreKey { key } => {
                let one = self.intern("1");
                let zero = self.intern("0");
                let mut keyed: Vec<Option<String>> = vec![None; self.item_names.len()];
                for entry in key {
                    match self.item(&entry.column) {
                        Some(j) => keyed[j] = Some(entry.key.trim().to_string()),
                        None if person_columns.contains(&entry.column) => {
                            return Err(format!(
                                "{} is a person column, not an item",
                                crate::text::quoted(&entry.column)
                            ));
                        }
                        None => return Err(unknown(&entry.column)),
                    }
                }
                // Per value label: which items it is the key of is checked per response.
                let labels = self.labels.clone();
                for r in 0..self.len() {
                    let v = self.values[r];
                    if v == NO_VALUE {
                        continue;
                    }
                    if let Some(key) = &keyed[self.items[r] as usize] {
                        self.values[r] = if labels[v as usize] == *key {
                            one
                        } else {
                            zero
                        };
                    }
                }
                Ok(StepEffect::None)
            }
            Step::Recode {
                columns,
                mapping,
                unmatched,
            } => {
                let all = columns.is_empty();
                let mut chosen = vec![all; self.item_names.len()];
                for column in columns {
                    match self.item(column) {
                        Some(j) => chosen[j] = true,
                        None if person_columns.contains(column) => {
                            return Err(sparse_refusal(
                                "recoding person and item columns in one step",
                            ));
                        }
                        None => return Err(unknown(column)),
                    }
                }
                let table: HashMap<&str, &str> = mapping
                    .iter()
                    .map(|m| (m.from.trim(), m.to.trim()))
                    .collect();
                let labels = self.labels.clone();
                let mut translated: Vec<Option<u32>> = Vec::with_capacity(labels.len());
                for label in &labels {
                    translated.push(match table.get(label.as_str()) {
                        Some(&"") => Some(NO_VALUE),
                        Some(to) => Some(self.intern(to)),
                        None => None,
                    });
                }
                for r in 0..self.len() {
                    let v = self.values[r];
                    if v == NO_VALUE || !chosen[self.items[r] as usize] {
                        continue;
                    }
                    match translated[v as usize] {
                        Some(new) => self.values[r] = new,
                        None => match unmatched {
                            Unmatched::Keep => {}
                            Unmatched::Missing => self.values[r] = NO_VALUE,
                            Unmatched::Error => {
                                return Err(format!(
                                    "item {}: the value {} is not in the mapping",
                                    crate::text::quoted(&self.item_names[self.items[r] as usize]),
                                    crate::text::quoted(&labels[v as usize])
                                ));
                            }
                        },
                    }
                }
                Ok(StepEffect::None)
            }
            Step::MinAnswered {
                columns,
                min_answered,
            } => {
                let mut counted = vec![columns.is_empty(); self.item_names.len()];
                for column in columns {
                    match self.item(column) {
                        Some(j) => counted[j] = true,
                        None if person_columns.contains(column) => {}
                        None => return Err(unknown(column)),
                    }
                }
                let mut answered = vec![0usize; n_persons];
                for r in 0..self.len() {
                    if self.values[r] != NO_VALUE && counted[self.items[r] as usize] {
                        answered[self.persons[r] as usize] += 1;
                    }
                }
                Ok(StepEffect::KeepPersons(
                    answered.iter().map(|&n| n >= *min_answered).collect(),
                ))
            }
            Step::DropMissing { columns } => {
                let mut required = vec![columns.is_empty(); self.item_names.len()];
                for column in columns {
                    if let Some(j) = self.item(column) {
                        required[j] = true;
                    }
                }
                let needed = required.iter().filter(|r| **r).count();
                let mut answered = vec![0usize; n_persons];
                for r in 0..self.len() {
                    if self.values[r] != NO_VALUE && required[self.items[r] as usize] {
                        answered[self.persons[r] as usize] += 1;
                    }
                }
                Ok(StepEffect::KeepPersons(
                    answered.iter().map(|&n| n >= needed).collect(),
                ))
            }
            Step::Filter { .. } => Err(sparse_refusal("filtering on an item's response")),
            Step::FillMissing { .. } => Err(sparse_refusal("filling missing responses")),
            Step::RemoveDuplicates { .. } => {
                Err(sparse_refusal("removing duplicates by item responses"))
            }
            Step::Cast { .. } => Err(sparse_refusal("changing an item column's type")),
        }
    }

    /// The distinct labels each item uses, in category order: numbers by value, text in natural
    /// order.
    pub fn item_categories(&self) -> Vec<Vec<u32>> {
        let mut used: Vec<Vec<bool>> = vec![vec![false; self.labels.len()]; self.item_names.len()];
        for r in 0..self.len() {
            let v = self.values[r];
            if v != NO_VALUE {
                used[self.items[r] as usize][v as usize] = true;
            }
        }
        used.into_iter()
            .map(|flags| {
                let mut codes: Vec<u32> = flags
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| **u)
                    .map(|(i, _)| i as u32)
                    .collect();
                codes.sort_by(|&a, &b| {
                    let (x, y) = (&self.labels[a as usize], &self.labels[b as usize]);
                    match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(p), Ok(q)) => p.total_cmp(&q),
                        _ => natural_order(x, y),
                    }
                });
                codes
            })
            .collect()
    }
}

/// What a step on sparse responses asks of the person table.
#[derive(Clone, Debug, PartialEq)]
pub enum StepEffect {
    /// Nothing.
    None,
    /// Keep the persons marked true.
    KeepPersons(Vec<bool>),
    /// Keep only these person columns.
    SelectPersonColumns(Vec<String>),
    /// Drop these person columns.
    DropPersonColumns(Vec<String>),
    /// Rename these person columns.
    RenamePersonColumns(Vec<crate::preprocessing::Mapping>),
}

//! The response matrix that the prediction stage works on: persons × items, each response a
//! category code `0..K−1` of its item (or missing), with every item's original category values
//! kept for reports; its construction from a DataFrame or from long (person, item, value) triples
//! with clear errors; and the collapsing of identical response patterns that estimation relies on.
//!
//! Storage follows the data. A complete or nearly complete test is held dense (one byte per
//! person × item); an incomplete design — an item bank or adaptive test where each person answers
//! 30 of 10,000 items — is held sparse (per person, the answered items and their codes), so memory
//! follows the number of responses rather than persons × items. Every consumer reads through the
//! same methods ([`ResponseMatrix::responses_of`], [`ResponseMatrix::response`]), so both storages
//! run through the same estimation.

use std::collections::HashMap;

use polars::prelude::{Column, DataFrame, DataType};

use super::PredictionError;

/// The code of a missing response.
pub const MISSING: u8 = u8::MAX;

/// The most categories an item can have (codes `0..MAX_CATEGORIES`).
pub const MAX_CATEGORIES: usize = 100;

/// A dense matrix is stored sparse when fewer than this fraction of its cells are answered.
const SPARSE_BELOW_DENSITY: f64 = 0.25;

/// How the responses are held.
#[derive(Clone, Debug, PartialEq)]
enum Storage {
    /// Row-major `persons × items` codes, [`MISSING`] where not answered.
    Dense(Vec<u8>),
    /// Per person `offsets[p]..offsets[p + 1]` indexes `items` (ascending) and `codes`.
    Sparse {
        offsets: Vec<usize>,
        items: Vec<u32>,
        codes: Vec<u8>,
    },
}

/// Responses of persons to items: category codes `0..K−1` per item, or missing.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseMatrix {
    person_ids: Vec<String>,
    item_names: Vec<String>,
    /// Per item, the original value of each category code, in code order.
    categories: Vec<Vec<String>>,
    storage: Storage,
}

/// Formats a numeric category value as it was most likely written: `2`, not `2.0`.
pub fn format_category(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

impl ResponseMatrix {
    /// Builds a dense matrix from rows of codes (`None` missing). Item `j` gets
    /// `max code + 1` categories (at least 2), labelled `"0"`, `"1"`, …
    pub fn from_rows(
        person_ids: Vec<String>,
        item_names: Vec<String>,
        rows: &[Vec<Option<u8>>],
    ) -> Result<ResponseMatrix, PredictionError> {
        if person_ids.len() != rows.len() {
            return Err(PredictionError::Data(format!(
                "{} person ids for {} rows of responses",
                person_ids.len(),
                rows.len()
            )));
        }
        let n_items = item_names.len();
        let mut codes = Vec::with_capacity(rows.len() * n_items);
        for (row_index, row) in rows.iter().enumerate() {
            if row.len() != n_items {
                return Err(PredictionError::Data(format!(
                    "row {} has {} responses, expected {} (one per item)",
                    row_index + 1,
                    row.len(),
                    n_items
                )));
            }
            codes.extend(row.iter().map(|v| v.unwrap_or(MISSING)));
        }
        ResponseMatrix::from_codes(person_ids, item_names, codes)
    }

    /// Builds a dense matrix from row-major codes ([`MISSING`] for missing). Item `j` gets
    /// `max code + 1` categories (at least 2), labelled `"0"`, `"1"`, …
    pub fn from_codes(
        person_ids: Vec<String>,
        item_names: Vec<String>,
        codes: Vec<u8>,
    ) -> Result<ResponseMatrix, PredictionError> {
        let n_items = item_names.len();
        if codes.len() != person_ids.len() * n_items {
            return Err(PredictionError::Data(format!(
                "{} response codes for {} persons × {} items",
                codes.len(),
                person_ids.len(),
                n_items
            )));
        }
        let mut highest = vec![1usize; n_items];
        if n_items > 0 {
            for row in codes.chunks_exact(n_items) {
                for (h, &c) in highest.iter_mut().zip(row) {
                    if c != MISSING {
                        *h = (*h).max(c as usize);
                    }
                }
            }
        }
        if let Some(j) = highest.iter().position(|&h| h >= MAX_CATEGORIES) {
            return Err(PredictionError::Data(format!(
                "item \"{}\" has a category code above {}",
                item_names[j],
                MAX_CATEGORIES - 1
            )));
        }
        let categories = highest
            .iter()
            .map(|&h| (0..=h).map(|k| k.to_string()).collect())
            .collect();
        ResponseMatrix::from_labelled_codes(person_ids, item_names, categories, codes)
    }

    /// Builds a matrix from row-major codes ([`MISSING`] for missing) with the given category
    /// values per item.
    pub fn from_labelled_codes(
        person_ids: Vec<String>,
        item_names: Vec<String>,
        categories: Vec<Vec<String>>,
        codes: Vec<u8>,
    ) -> Result<ResponseMatrix, PredictionError> {
        let n_items = item_names.len();
        if codes.len() != person_ids.len() * n_items || categories.len() != n_items {
            return Err(PredictionError::Data(format!(
                "{} response codes and {} category lists for {} persons × {} items",
                codes.len(),
                categories.len(),
                person_ids.len(),
                n_items
            )));
        }
        if n_items > 0
            && let Some(at) = codes
                .iter()
                .enumerate()
                .position(|(i, &c)| c != MISSING && c as usize >= categories[i % n_items].len())
        {
            return Err(PredictionError::Data(format!(
                "item \"{}\": code {} but only {} categories",
                item_names[at % n_items],
                codes[at],
                categories[at % n_items].len()
            )));
        }
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            categories,
            storage: Storage::Dense(codes),
        }
        .compacted())
    }

    /// Builds a matrix from (person, item, code) triples with explicit category labels per item:
    /// the natural constructor of an incomplete design. Later duplicates of a (person, item) pair
    /// replace earlier ones. The storage (dense or sparse) is chosen from the density.
    pub fn from_triples(
        person_ids: Vec<String>,
        item_names: Vec<String>,
        categories: Vec<Vec<String>>,
        triples: &[(u32, u32, u8)],
    ) -> Result<ResponseMatrix, PredictionError> {
        let n_persons = person_ids.len();
        let n_items = item_names.len();
        if categories.len() != n_items {
            return Err(PredictionError::Data(format!(
                "{} category lists for {} items",
                categories.len(),
                n_items
            )));
        }
        let mut per_person = vec![0usize; n_persons + 1];
        for &(p, j, code) in triples {
            let (p, j) = (p as usize, j as usize);
            if p >= n_persons || j >= n_items {
                return Err(PredictionError::Data(format!(
                    "response of person {p} to item {j} is outside {n_persons} persons × {n_items} items"
                )));
            }
            if code as usize >= categories[j].len() {
                return Err(PredictionError::Data(format!(
                    "item \"{}\": code {code} but only {} categories",
                    item_names[j],
                    categories[j].len()
                )));
            }
            per_person[p + 1] += 1;
        }
        for p in 0..n_persons {
            per_person[p + 1] += per_person[p];
        }
        let mut fill = per_person.clone();
        let mut items = vec![0u32; triples.len()];
        let mut codes = vec![0u8; triples.len()];
        for &(p, j, code) in triples {
            let at = fill[p as usize];
            items[at] = j;
            codes[at] = code;
            fill[p as usize] += 1;
        }
        // Sort each person's responses by item and keep the last of duplicates.
        let mut offsets = Vec::with_capacity(n_persons + 1);
        offsets.push(0);
        let mut write = 0usize;
        let mut pairs: Vec<(u32, u8)> = Vec::new();
        for p in 0..n_persons {
            pairs.clear();
            pairs.extend((per_person[p]..per_person[p + 1]).map(|i| (items[i], codes[i])));
            // Stable sort keeps input order within an item, so the last one wins below.
            pairs.sort_by_key(|&(j, _)| j);
            let mut i = 0;
            while i < pairs.len() {
                let mut last = i;
                while last + 1 < pairs.len() && pairs[last + 1].0 == pairs[i].0 {
                    last += 1;
                }
                items[write] = pairs[last].0;
                codes[write] = pairs[last].1;
                write += 1;
                i = last + 1;
            }
            offsets.push(write);
        }
        items.truncate(write);
        codes.truncate(write);
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            categories,
            storage: Storage::Sparse {
                offsets,
                items,
                codes,
            },
        }
        .compacted())
    }

    /// Chooses the storage that suits the density: sparse below a quarter of the cells answered,
    /// dense otherwise.
    fn compacted(self) -> ResponseMatrix {
        let cells = self.n_persons() as f64 * self.n_items() as f64;
        let answered = self.n_responses() as f64;
        let want_sparse = cells > 0.0 && answered < SPARSE_BELOW_DENSITY * cells;
        match (&self.storage, want_sparse) {
            (Storage::Dense(_), true) => self.into_sparse(),
            (Storage::Sparse { .. }, false) => self.into_dense(),
            _ => self,
        }
    }

    fn into_sparse(self) -> ResponseMatrix {
        let mut offsets = Vec::with_capacity(self.n_persons() + 1);
        let mut items = Vec::new();
        let mut codes = Vec::new();
        offsets.push(0);
        for p in 0..self.n_persons() {
            for (j, code) in self.responses_of(p) {
                items.push(j as u32);
                codes.push(code);
            }
            offsets.push(items.len());
        }
        ResponseMatrix {
            storage: Storage::Sparse {
                offsets,
                items,
                codes,
            },
            ..self
        }
    }

    fn into_dense(self) -> ResponseMatrix {
        let n_items = self.n_items();
        let mut dense = vec![MISSING; self.n_persons() * n_items];
        for p in 0..self.n_persons() {
            for (j, code) in self.responses_of(p) {
                dense[p * n_items + j] = code;
            }
        }
        ResponseMatrix {
            storage: Storage::Dense(dense),
            ..self
        }
    }

    /// Reads a wide DataFrame: one row per person, one column per item holding the responses
    /// (numbers, booleans or text; null or empty is missing). Each item's categories are its
    /// distinct values, numbers in numeric order and text in natural order ("2" before "10").
    /// `id_column` names the person-id column (row numbers are used without it); `items` lists
    /// the item columns, or every other column is an item when it is `None`.
    pub fn from_dataframe(
        frame: &DataFrame,
        id_column: Option<&str>,
        items: Option<&[String]>,
    ) -> Result<ResponseMatrix, PredictionError> {
        let all_columns: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let find = |name: &str| {
            if all_columns.iter().any(|c| c == name) {
                Ok(())
            } else {
                Err(PredictionError::ColumnNotFound {
                    column: name.to_string(),
                    available: shorten_list(&all_columns),
                })
            }
        };
        if let Some(id) = id_column {
            find(id)?;
        }
        let item_names: Vec<String> = match items {
            Some(list) => {
                for name in list {
                    find(name)?;
                }
                list.to_vec()
            }
            None => all_columns
                .iter()
                .filter(|c| Some(c.as_str()) != id_column)
                .cloned()
                .collect(),
        };
        let n_persons = frame.height();
        let n_items = item_names.len();
        let person_ids = match id_column {
            Some(id) => column_as_text(frame, id)?,
            None => (1..=n_persons).map(|i| i.to_string()).collect(),
        };
        let mut codes = vec![MISSING; n_persons * n_items];
        let mut categories = Vec::with_capacity(n_items);
        for (item_index, name) in item_names.iter().enumerate() {
            let (item_codes, labels) = column_as_categories(frame, name)?;
            for (person, code) in item_codes.into_iter().enumerate() {
                codes[person * n_items + item_index] = code;
            }
            categories.push(labels);
        }
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            categories,
            storage: Storage::Dense(codes),
        }
        .compacted())
    }

    /// Number of persons (rows).
    pub fn n_persons(&self) -> usize {
        self.person_ids.len()
    }

    /// Number of items (columns).
    pub fn n_items(&self) -> usize {
        self.item_names.len()
    }

    /// Person identifiers, one per row.
    pub fn person_ids(&self) -> &[String] {
        &self.person_ids
    }

    /// Item names, one per column.
    pub fn item_names(&self) -> &[String] {
        &self.item_names
    }

    /// The original values of item `j`'s categories, in code order.
    pub fn categories(&self, item: usize) -> &[String] {
        &self.categories[item]
    }

    /// Number of categories of item `j`.
    pub fn n_categories(&self, item: usize) -> usize {
        self.categories[item].len()
    }

    /// Whether the responses are held sparse (memory follows the number of responses).
    pub fn is_sparse(&self) -> bool {
        matches!(self.storage, Storage::Sparse { .. })
    }

    /// Person `p`'s answered items and codes, in item order.
    pub fn responses_of(&self, person: usize) -> Responses<'_> {
        match &self.storage {
            Storage::Dense(codes) => {
                let n = self.n_items();
                Responses::Dense {
                    row: &codes[person * n..(person + 1) * n],
                    next: 0,
                }
            }
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => {
                let range = offsets[person]..offsets[person + 1];
                Responses::Sparse {
                    items: &items[range.clone()],
                    codes: &codes[range],
                    next: 0,
                }
            }
        }
    }

    /// Person `p`'s codes as a dense row (`MISSING` where not answered), when held dense.
    pub fn dense_row(&self, person: usize) -> Option<&[u8]> {
        match &self.storage {
            Storage::Dense(codes) => {
                let n = self.n_items();
                Some(&codes[person * n..(person + 1) * n])
            }
            Storage::Sparse { .. } => None,
        }
    }

    /// One response: its code, or `None` when missing.
    pub fn response(&self, person: usize, item: usize) -> Option<u8> {
        match &self.storage {
            Storage::Dense(codes) => {
                let code = codes[person * self.n_items() + item];
                (code != MISSING).then_some(code)
            }
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => {
                let range = offsets[person]..offsets[person + 1];
                items[range.clone()]
                    .binary_search(&(item as u32))
                    .ok()
                    .map(|i| codes[range.start + i])
            }
        }
    }

    /// Number of responses given.
    pub fn n_responses(&self) -> usize {
        match &self.storage {
            Storage::Dense(codes) => codes.iter().filter(|&&c| c != MISSING).count(),
            Storage::Sparse { codes, .. } => codes.len(),
        }
    }

    /// Number of missing responses (cells without an answer).
    pub fn n_missing(&self) -> usize {
        self.n_persons() * self.n_items() - self.n_responses()
    }

    /// Number of responses per item and per category of each item.
    pub fn category_counts(&self) -> Vec<Vec<usize>> {
        let mut counts: Vec<Vec<usize>> =
            self.categories.iter().map(|c| vec![0; c.len()]).collect();
        for p in 0..self.n_persons() {
            for (j, code) in self.responses_of(p) {
                if let Some(slot) = counts[j].get_mut(code as usize) {
                    *slot += 1;
                }
            }
        }
        counts
    }

    /// The matrix as a table: `id`, then one column per item holding the original category
    /// values (numbers when every value of the item is a number), empty where missing.
    pub fn to_dataframe(&self) -> Result<DataFrame, PredictionError> {
        if (self.n_persons() as u128) * (self.n_items() as u128)
            > super::tables::MAX_TABLE_CELLS as u128
        {
            return Err(PredictionError::TooLarge(format!(
                "the wide table of {} persons × {} items is too large to build; these responses are held sparse — write them long (id, item, response)",
                crate::text::count(self.n_persons()),
                crate::text::count(self.n_items())
            )));
        }
        let mut columns = Vec::with_capacity(self.n_items() + 1);
        columns.push(Column::new("id".into(), self.person_ids.clone()));
        for (j, name) in self.item_names.iter().enumerate() {
            let labels = &self.categories[j];
            let numbers: Option<Vec<f64>> = labels.iter().map(|l| l.parse::<f64>().ok()).collect();
            let column = match numbers {
                Some(numbers) if numbers.iter().all(|v| v.fract() == 0.0) => {
                    let values: Vec<Option<i64>> = (0..self.n_persons())
                        .map(|p| self.response(p, j).map(|c| numbers[c as usize] as i64))
                        .collect();
                    Column::new(name.as_str().into(), values)
                }
                Some(numbers) => {
                    let values: Vec<Option<f64>> = (0..self.n_persons())
                        .map(|p| self.response(p, j).map(|c| numbers[c as usize]))
                        .collect();
                    Column::new(name.as_str().into(), values)
                }
                None => {
                    let values: Vec<Option<&str>> = (0..self.n_persons())
                        .map(|p| self.response(p, j).map(|c| labels[c as usize].as_str()))
                        .collect();
                    Column::new(name.as_str().into(), values)
                }
            };
            columns.push(column);
        }
        DataFrame::new(self.n_persons(), columns).map_err(|e| PredictionError::Data(e.to_string()))
    }

    /// The responses as a long table: `id`, `item`, `response` (the original value), one row
    /// per answered item — the natural table for a sparse design.
    pub fn to_long_dataframe(&self) -> Result<DataFrame, PredictionError> {
        let n = self.n_responses();
        let mut ids = Vec::with_capacity(n);
        let mut items = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        for p in 0..self.n_persons() {
            for (j, code) in self.responses_of(p) {
                ids.push(self.person_ids[p].as_str());
                items.push(self.item_names[j].as_str());
                values.push(self.categories[j][code as usize].as_str());
            }
        }
        DataFrame::new(
            n,
            vec![
                Column::new("id".into(), ids),
                Column::new("item".into(), items),
                Column::new("response".into(), values),
            ],
        )
        .map_err(|e| PredictionError::Data(e.to_string()))
    }

    /// A copy keeping only the given item columns, in the given order.
    pub fn select_items(&self, item_indices: &[usize]) -> ResponseMatrix {
        let position: HashMap<usize, u32> = item_indices
            .iter()
            .enumerate()
            .map(|(new, &old)| (old, new as u32))
            .collect();
        let storage = match &self.storage {
            Storage::Dense(codes) => {
                let n = self.n_items();
                let mut selected = Vec::with_capacity(self.n_persons() * item_indices.len());
                for row in codes.chunks_exact(n.max(1)).take(self.n_persons()) {
                    selected.extend(item_indices.iter().map(|&j| row[j]));
                }
                Storage::Dense(selected)
            }
            Storage::Sparse { .. } => {
                let mut offsets = Vec::with_capacity(self.n_persons() + 1);
                let mut items = Vec::new();
                let mut codes = Vec::new();
                offsets.push(0);
                let mut row: Vec<(u32, u8)> = Vec::new();
                for p in 0..self.n_persons() {
                    row.clear();
                    row.extend(
                        self.responses_of(p)
                            .filter_map(|(j, c)| position.get(&j).map(|&n| (n, c))),
                    );
                    row.sort_by_key(|&(j, _)| j);
                    for &(j, c) in &row {
                        items.push(j);
                        codes.push(c);
                    }
                    offsets.push(items.len());
                }
                Storage::Sparse {
                    offsets,
                    items,
                    codes,
                }
            }
        };
        ResponseMatrix {
            person_ids: self.person_ids.clone(),
            item_names: item_indices
                .iter()
                .map(|&j| self.item_names[j].clone())
                .collect(),
            categories: item_indices
                .iter()
                .map(|&j| self.categories[j].clone())
                .collect(),
            storage,
        }
        .compacted()
    }

    /// A copy keeping only the given persons (rows), in the given order.
    pub fn select_persons(&self, persons: &[usize]) -> ResponseMatrix {
        let storage = match &self.storage {
            Storage::Dense(codes) => {
                let n = self.n_items();
                let mut selected = Vec::with_capacity(persons.len() * n);
                for &p in persons {
                    selected.extend_from_slice(&codes[p * n..(p + 1) * n]);
                }
                Storage::Dense(selected)
            }
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => {
                let mut new_offsets = Vec::with_capacity(persons.len() + 1);
                let mut new_items = Vec::new();
                let mut new_codes = Vec::new();
                new_offsets.push(0);
                for &p in persons {
                    new_items.extend_from_slice(&items[offsets[p]..offsets[p + 1]]);
                    new_codes.extend_from_slice(&codes[offsets[p]..offsets[p + 1]]);
                    new_offsets.push(new_items.len());
                }
                Storage::Sparse {
                    offsets: new_offsets,
                    items: new_items,
                    codes: new_codes,
                }
            }
        };
        ResponseMatrix {
            person_ids: persons
                .iter()
                .map(|&p| self.person_ids[p].clone())
                .collect(),
            item_names: self.item_names.clone(),
            categories: self.categories.clone(),
            storage,
        }
    }

    /// A copy with item `j`'s categories recoded: `mapping[old code]` is the new code (or
    /// `None` for missing), and `labels` the new categories.
    pub fn recode_item(
        &self,
        item: usize,
        mapping: &[Option<u8>],
        labels: Vec<String>,
    ) -> ResponseMatrix {
        let mut copy = self.clone();
        copy.categories[item] = labels;
        match &mut copy.storage {
            Storage::Dense(codes) => {
                let n = self.n_items();
                for row in codes.chunks_exact_mut(n) {
                    let c = row[item];
                    if c != MISSING {
                        row[item] = mapping
                            .get(c as usize)
                            .copied()
                            .flatten()
                            .unwrap_or(MISSING);
                    }
                }
            }
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => {
                // Dropping responses changes the offsets: rebuild.
                let mut new_offsets = Vec::with_capacity(offsets.len());
                let mut new_items = Vec::with_capacity(items.len());
                let mut new_codes = Vec::with_capacity(codes.len());
                new_offsets.push(0);
                for p in 0..offsets.len() - 1 {
                    for i in offsets[p]..offsets[p + 1] {
                        let code = if items[i] as usize == item {
                            match mapping.get(codes[i] as usize).copied().flatten() {
                                Some(c) => c,
                                None => continue,
                            }
                        } else {
                            codes[i]
                        };
                        new_items.push(items[i]);
                        new_codes.push(code);
                    }
                    new_offsets.push(new_items.len());
                }
                *offsets = new_offsets;
                *items = new_items;
                *codes = new_codes;
            }
        }
        copy
    }

    /// Bytes held by the responses (not counting ids and names).
    pub fn response_bytes(&self) -> usize {
        match &self.storage {
            Storage::Dense(codes) => codes.len(),
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => offsets.len() * 8 + items.len() * 4 + codes.len(),
        }
    }
}

/// The answered items of one person, as `(item, code)` in item order.
pub enum Responses<'a> {
    /// From a dense row.
    Dense {
        /// The row's codes.
        row: &'a [u8],
        /// Next item to look at.
        next: usize,
    },
    /// From sparse storage.
    Sparse {
        /// Answered items.
        items: &'a [u32],
        /// Their codes.
        codes: &'a [u8],
        /// Next entry.
        next: usize,
    },
}

impl Iterator for Responses<'_> {
    type Item = (usize, u8);

    #[inline]
    fn next(&mut self) -> Option<(usize, u8)> {
        match self {
            Responses::Dense { row, next } => {
                while *next < row.len() {
                    let j = *next;
                    *next += 1;
                    if row[j] != MISSING {
                        return Some((j, row[j]));
                    }
                }
                None
            }
            Responses::Sparse { items, codes, next } => {
                let i = *next;
                if i < items.len() {
                    *next += 1;
                    Some((items[i] as usize, codes[i]))
                } else {
                    None
                }
            }
        }
    }
}

/// A list of names shortened for a message: the first eight and how many more.
pub fn shorten_list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| crate::text::shorten(n, 40))
        .collect();
    if names.len() > SHOWN {
        text.push(format!("… ({} more)", names.len() - SHOWN));
    }
    text.join(", ")
}

/// A column's values as text (for person ids); nulls become empty strings.
fn column_as_text(frame: &DataFrame, name: &str) -> Result<Vec<String>, PredictionError> {
    let series = frame
        .column(name)
        .map_err(|e| PredictionError::Data(e.to_string()))?
        .as_materialized_series()
        .cast(&DataType::String)
        .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?;
    let text = series
        .str()
        .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?;
    Ok(text
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// A column's values as category codes and the categories' original values: numbers in numeric
/// order, text in natural order; an error naming the column when it has more distinct values
/// than an item can have.
fn column_as_categories(
    frame: &DataFrame,
    name: &str,
) -> Result<(Vec<u8>, Vec<String>), PredictionError> {
    let data_error =
        |e: polars::error::PolarsError| PredictionError::Data(format!("column \"{name}\": {e}"));
    let series = frame
        .column(name)
        .map_err(data_error)?
        .as_materialized_series();
    let too_many = |count: usize| PredictionError::TooManyCategories {
        column: name.to_string(),
        count,
    };
    match series.dtype() {
        DataType::Null => Ok((vec![MISSING; series.len()], Vec::new())),
        DataType::Int64 => {
            let values = series.i64().map_err(data_error)?;
            if let Some(coded) = small_integer_codes(values) {
                return coded.map_err(&too_many);
            }
            float_codes(series, data_error, too_many)
        }
        _ => float_codes(series, data_error, too_many),
    }
}

/// The codes and labels of a column of integers spanning at most [`DIRECT_RANGE`] values, by
/// direct lookup (a data file's usual response column); `None` for a wider span or no values,
/// `Some(Err(count))` for more than [`MAX_CATEGORIES`] distinct values.
fn small_integer_codes(values: &polars::prelude::Int64Chunked) -> Option<Result<Coded, usize>> {
    let mut range: Option<(i64, i64)> = None;
    for array in values.downcast_iter() {
        for &v in array.iter().flatten() {
            range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
    }
    let (lo, hi) = range?;
    let span = usize::try_from(hi.checked_sub(lo)?).ok()?.checked_add(1)?;
    if span > DIRECT_RANGE {
        return None;
    }
    let mut seen = vec![false; span];
    for array in values.downcast_iter() {
        for &v in array.iter().flatten() {
            seen[(v - lo) as usize] = true;
        }
    }
    let mut code_of = vec![MISSING; span];
    let mut labels = Vec::new();
    for (offset, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        if labels.len() == MAX_CATEGORIES {
            return Some(Err(seen.iter().filter(|s| **s).count()));
        }
        code_of[offset] = labels.len() as u8;
        labels.push(format_category((lo + offset as i64) as f64));
    }
    let mut codes = Vec::with_capacity(values.len());
    let complete = values.null_count() == 0;
    for array in values.downcast_iter() {
        if complete {
            codes.extend(array.values().iter().map(|&v| code_of[(v - lo) as usize]));
        } else {
            codes.extend(
                array
                    .iter()
                    .map(|v| v.map_or(MISSING, |&v| code_of[(v - lo) as usize])),
            );
        }
    }
    Some(Ok((codes, labels)))
}

/// A column's codes and its categories' labels.
type Coded = (Vec<u8>, Vec<String>);

/// Integer columns spanning at most this many values are coded by direct lookup.
const DIRECT_RANGE: usize = 4096;

/// The codes and labels of a column of numbers, booleans or text.
fn float_codes(
    series: &polars::prelude::Series,
    data_error: impl Fn(polars::error::PolarsError) -> PredictionError + Copy,
    too_many: impl Fn(usize) -> PredictionError,
) -> Result<(Vec<u8>, Vec<String>), PredictionError> {
    let name = series.name().to_string();
    match series.dtype() {
        dtype if dtype.is_bool() || dtype.is_primitive_numeric() => {
            let numbers = series.cast(&DataType::Float64).map_err(data_error)?;
            let values = numbers.f64().map_err(data_error)?;
            let mut distinct: Vec<f64> = Vec::new();
            for v in values.iter().flatten() {
                if v.is_nan() {
                    continue;
                }
                if let Err(at) = distinct.binary_search_by(|x| x.total_cmp(&v)) {
                    distinct.insert(at, v);
                    if distinct.len() > MAX_CATEGORIES {
                        return Err(too_many(distinct.len()));
                    }
                }
            }
            let codes = values
                .iter()
                .map(|v| match v {
                    Some(x) if !x.is_nan() => distinct
                        .binary_search_by(|d| d.total_cmp(&x))
                        .map_or(MISSING, |i| i as u8),
                    _ => MISSING,
                })
                .collect();
            Ok((codes, distinct.into_iter().map(format_category).collect()))
        }
        DataType::String => {
            let text = series.str().map_err(data_error)?;
            let mut index: HashMap<&str, usize> = HashMap::new();
            for v in text.iter().flatten() {
                let v = v.trim();
                if v.is_empty() {
                    continue;
                }
                let next = index.len();
                index.entry(v).or_insert(next);
                if index.len() > MAX_CATEGORIES {
                    return Err(too_many(index.len()));
                }
            }
            let mut labels: Vec<&str> = index.keys().copied().collect();
            // Numbers written as text sort as numbers; other text in natural order.
            labels.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => crate::preparation::layout::natural_order(a, b),
            });
            let code_of: HashMap<&str, u8> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| (*l, i as u8))
                .collect();
            let codes = text
                .iter()
                .map(|v| {
                    v.map(str::trim)
                        .and_then(|v| code_of.get(v).copied())
                        .unwrap_or(MISSING)
                })
                .collect();
            Ok((codes, labels.into_iter().map(str::to_string).collect()))
        }
        other => Err(PredictionError::Data(format!(
            "column \"{name}\" holds values of type {other}, which cannot be responses"
        ))),
    }
}

/// Identical response patterns collapsed, with their counts. Dense matrices collapse by
/// hashing rows; sparse ones keep a pattern per person (identical patterns are rare there).
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    pub n_items: usize,
    rows: PatternRows,
    /// How many persons share each pattern.
    pub counts: Vec<f64>,
    /// For every person of the source matrix, the index of their pattern; `None` for persons
    /// with no responses.
    pub person_pattern: Vec<Option<usize>>,
}

#[derive(Clone, Debug)]
enum PatternRows {
    Dense {
        /// Row-major `patterns × n_items` codes.
        codes: Vec<u8>,
        /// `missing_offsets[p]..missing_offsets[p + 1]` indexes `missing_items`.
        missing_offsets: Vec<usize>,
        missing_items: Vec<u32>,
    },
    Sparse {
        offsets: Vec<usize>,
        items: Vec<u32>,
        codes: Vec<u8>,
    },
}

/// One pattern's responses, as the E-step reads them.
pub(crate) enum PatternView<'a> {
    /// Every item's code (`MISSING` where not answered) and the missing items.
    Dense { codes: &'a [u8], missing: &'a [u32] },
    /// The answered items and their codes.
    Sparse { items: &'a [u32], codes: &'a [u8] },
}

impl Patterns {
    /// Collapses the persons of `matrix` that have at least one response.
    pub fn collapse(matrix: &ResponseMatrix) -> Patterns {
        let n_items = matrix.n_items();
        match &matrix.storage {
            Storage::Dense(all) => {
                let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(matrix.n_persons());
                let mut codes = Vec::new();
                let mut counts: Vec<f64> = Vec::new();
                let mut person_pattern = Vec::with_capacity(matrix.n_persons());
                for person in 0..matrix.n_persons() {
                    let row = &all[person * n_items..(person + 1) * n_items];
                    if row.iter().all(|&v| v == MISSING) {
                        person_pattern.push(None);
                        continue;
                    }
                    let next = counts.len();
                    let pattern = *index.entry(row).or_insert(next);
                    if pattern == next {
                        codes.extend_from_slice(row);
                        counts.push(0.0);
                    }
                    counts[pattern] += 1.0;
                    person_pattern.push(Some(pattern));
                }
                let mut missing_offsets = Vec::with_capacity(counts.len() + 1);
                let mut missing_items = Vec::new();
                missing_offsets.push(0);
                for row in codes.chunks_exact(n_items.max(1)) {
                    missing_items.extend(
                        row.iter()
                            .enumerate()
                            .filter(|(_, v)| **v == MISSING)
                            .map(|(j, _)| j as u32),
                    );
                    missing_offsets.push(missing_items.len());
                }
                Patterns {
                    n_items,
                    rows: PatternRows::Dense {
                        codes,
                        missing_offsets,
                        missing_items,
                    },
                    counts,
                    person_pattern,
                }
            }
            Storage::Sparse {
                offsets,
                items,
                codes,
            } => {
                let mut new_offsets = vec![0];
                let mut person_pattern = Vec::with_capacity(matrix.n_persons());
                let mut kept_items = Vec::with_capacity(items.len());
                let mut kept_codes = Vec::with_capacity(codes.len());
                for p in 0..matrix.n_persons() {
                    let range = offsets[p]..offsets[p + 1];
                    if range.is_empty() {
                        person_pattern.push(None);
                        continue;
                    }
                    person_pattern.push(Some(new_offsets.len() - 1));
                    kept_items.extend_from_slice(&items[range.clone()]);
                    kept_codes.extend_from_slice(&codes[range]);
                    new_offsets.push(kept_items.len());
                }
                let counts = vec![1.0; new_offsets.len() - 1];
                Patterns {
                    n_items,
                    rows: PatternRows::Sparse {
                        offsets: new_offsets,
                        items: kept_items,
                        codes: kept_codes,
                    },
                    counts,
                    person_pattern,
                }
            }
        }
    }

    /// Number of distinct patterns.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether the patterns are stored sparse.
    pub fn is_sparse(&self) -> bool {
        matches!(self.rows, PatternRows::Sparse { .. })
    }

    /// Pattern `p`.
    #[inline]
    pub fn view(&self, p: usize) -> PatternView<'_> {
        match &self.rows {
            PatternRows::Dense {
                codes,
                missing_offsets,
                missing_items,
            } => PatternView::Dense {
                codes: &codes[p * self.n_items..(p + 1) * self.n_items],
                missing: &missing_items[missing_offsets[p]..missing_offsets[p + 1]],
            },
            PatternRows::Sparse {
                offsets,
                items,
                codes,
            } => PatternView::Sparse {
                items: &items[offsets[p]..offsets[p + 1]],
                codes: &codes[offsets[p]..offsets[p + 1]],
            },
        }
    }

    /// The answered items and codes of pattern `p`.
    pub fn responses(&self, p: usize) -> impl Iterator<Item = (usize, u8)> + '_ {
        let view = self.view(p);
        let (dense, sparse) = match view {
            PatternView::Dense { codes, .. } => (Some(codes), None),
            PatternView::Sparse { items, codes } => (None, Some((items, codes))),
        };
        let dense_iter = dense.into_iter().flat_map(|codes| {
            codes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c != MISSING)
                .map(|(j, &c)| (j, c))
        });
        let sparse_iter = sparse
            .into_iter()
            .flat_map(|(items, codes)| items.iter().zip(codes).map(|(&j, &c)| (j as usize, c)));
        dense_iter.chain(sparse_iter)
    }

    /// True when some pattern of dense storage has a missing response.
    pub fn has_missing(&self) -> bool {
        match &self.rows {
            PatternRows::Dense { missing_items, .. } => !missing_items.is_empty(),
            PatternRows::Sparse { .. } => true,
        }
    }

    /// Per item, whether some pattern skips it (every item, for sparse patterns).
    pub fn items_with_missing(&self) -> Vec<bool> {
        match &self.rows {
            PatternRows::Dense { missing_items, .. } => {
                let mut with = vec![false; self.n_items];
                for &j in missing_items {
                    with[j as usize] = true;
                }
                with
            }
            PatternRows::Sparse { .. } => vec![true; self.n_items],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_columns_code_as_numbers_do() {
        // The direct lookup for integer columns gives the codes and labels of the general
        // numeric route: with missing values, negative values, gaps, and a wide span.
        let columns: [(&str, Vec<Option<i64>>); 3] = [
            ("plain", vec![Some(1), Some(0), Some(1), Some(1), Some(0)]),
            ("holes", vec![Some(-2), None, Some(7), Some(3), Some(-2)]),
            (
                "wide",
                vec![Some(1_000_000), Some(-5), None, Some(1_000_000), Some(0)],
            ),
        ];
        for (name, values) in columns {
            let frame = DataFrame::new(5, vec![Column::new(name.into(), values)]).unwrap();
            let direct = column_as_categories(&frame, name).unwrap();
            let series = frame.column(name).unwrap().as_materialized_series();
            let general = float_codes(
                series,
                |e| PredictionError::Data(e.to_string()),
                |count| PredictionError::Data(count.to_string()),
            )
            .unwrap();
            assert_eq!(direct, general, "{name}");
        }
        let holes = column_as_categories(
            &DataFrame::new(
                4,
                vec![Column::new(
                    "h".into(),
                    vec![Some(-2i64), None, Some(7), Some(3)],
                )],
            )
            .unwrap(),
            "h",
        )
        .unwrap();
        assert_eq!(holes.0, vec![0, MISSING, 2, 1]);
        assert_eq!(holes.1, vec!["-2", "3", "7"]);
    }

    #[test]
    fn dense_and_sparse_agree() {
        let ids: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let names: Vec<String> = (0..50).map(|j| format!("i{j}")).collect();
        let labels = vec![vec!["0".to_string(), "1".to_string(), "2".to_string()]; 50];
        let triples = vec![(0, 3, 1), (0, 1, 2), (2, 49, 0), (3, 7, 1), (0, 3, 0)];
        let sparse =
            ResponseMatrix::from_triples(ids.clone(), names.clone(), labels.clone(), &triples)
                .unwrap();
        assert!(sparse.is_sparse());
        // The later duplicate (0, 3) wins.
        assert_eq!(sparse.response(0, 3), Some(0));
        assert_eq!(sparse.response(0, 1), Some(2));
        assert_eq!(sparse.response(1, 1), None);
        assert_eq!(sparse.n_responses(), 4);
        let collected: Vec<(usize, u8)> = sparse.responses_of(0).collect();
        assert_eq!(collected, vec![(1, 2), (3, 0)]);
        let dense = sparse.clone().into_dense();
        for p in 0..4 {
            for j in 0..50 {
                assert_eq!(dense.response(p, j), sparse.response(p, j));
            }
        }
        let patterns = Patterns::collapse(&sparse);
        assert_eq!(patterns.len(), 3);
        assert_eq!(patterns.person_pattern[1], None);
        let selected = sparse.select_items(&[3, 1]);
        assert_eq!(selected.response(0, 0), Some(0));
        assert_eq!(selected.response(0, 1), Some(2));
    }

    #[test]
    fn categories_follow_values() {
        let frame = DataFrame::new(
            4,
            vec![
                Column::new("likert".into(), [Some(5i64), Some(1), None, Some(3)]),
                Column::new(
                    "letters".into(),
                    [Some("B"), Some("A"), Some(""), Some("B")],
                ),
                Column::new(
                    "text_numbers".into(),
                    [Some("10"), Some("2"), None, Some("2")],
                ),
            ],
        )
        .unwrap();
        let matrix = ResponseMatrix::from_dataframe(&frame, None, None).unwrap();
        assert_eq!(matrix.categories(0), ["1", "3", "5"]);
        assert_eq!(matrix.response(0, 0), Some(2));
        assert_eq!(matrix.response(2, 0), None);
        assert_eq!(matrix.categories(1), ["A", "B"]);
        assert_eq!(matrix.response(2, 1), None);
        assert_eq!(matrix.categories(2), ["2", "10"]);
        assert_eq!(matrix.response(0, 2), Some(1));
        let back = matrix.to_dataframe().unwrap();
        assert_eq!(
            back.column("likert").unwrap().i64().unwrap().get(0),
            Some(5)
        );
    }
}

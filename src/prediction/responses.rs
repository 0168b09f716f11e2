//! The response matrix (persons × items; 1 correct, 0 wrong, missing) that the prediction stage
//! works on, its construction from a DataFrame with clear errors, and the collapsing of identical
//! response patterns that the estimation relies on.

use std::collections::HashMap;

use polars::prelude::{Column, DataFrame, DataType};

use super::PredictionError;

/// The code of a missing response in [`ResponseMatrix`] rows.
pub const MISSING: u8 = u8::MAX;

/// Dichotomous responses, one row per person and one column per item.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseMatrix {
    person_ids: Vec<String>,
    item_names: Vec<String>,
    /// Row-major, `person_ids.len() × item_names.len()`; 0, 1 or [`MISSING`].
    responses: Vec<u8>,
}

impl ResponseMatrix {
    /// Builds a matrix from rows of `Some(0)`, `Some(1)` or `None` (missing).
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
        let mut responses = Vec::with_capacity(rows.len() * item_names.len());
        for (row_index, row) in rows.iter().enumerate() {
            if row.len() != item_names.len() {
                return Err(PredictionError::Data(format!(
                    "row {} has {} responses, expected {} (one per item)",
                    row_index + 1,
                    row.len(),
                    item_names.len()
                )));
            }
            for (item_index, value) in row.iter().enumerate() {
                responses.push(match value {
                    None => MISSING,
                    Some(v @ (0 | 1)) => *v,
                    Some(other) => {
                        return Err(PredictionError::NonBinary {
                            column: item_names[item_index].clone(),
                            values: other.to_string(),
                        });
                    }
                });
            }
        }
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            responses,
        })
    }

    /// Builds a matrix from a row-major vector of 0 / 1 / [`MISSING`] codes.
    pub fn from_codes(
        person_ids: Vec<String>,
        item_names: Vec<String>,
        responses: Vec<u8>,
    ) -> Result<ResponseMatrix, PredictionError> {
        if responses.len() != person_ids.len() * item_names.len() {
            return Err(PredictionError::Data(format!(
                "{} response codes for {} persons × {} items",
                responses.len(),
                person_ids.len(),
                item_names.len()
            )));
        }
        if let Some(position) = responses.iter().position(|&v| v > 1 && v != MISSING) {
            let column = item_names[position % item_names.len()].clone();
            return Err(PredictionError::NonBinary {
                column,
                values: responses[position].to_string(),
            });
        }
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            responses,
        })
    }

    /// Reads a wide DataFrame: one row per person, the item columns holding 0 / 1 / null
    /// (numbers, booleans or the texts "0" and "1"). `id_column` names the person-id column
    /// (row numbers are used without it); `items` lists the item columns, or every other column
    /// is an item when it is `None`.
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
                    available: all_columns.join(", "),
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
        let mut responses = vec![MISSING; n_persons * n_items];
        for (item_index, name) in item_names.iter().enumerate() {
            let codes = column_as_codes(frame, name)?;
            for (person, code) in codes.into_iter().enumerate() {
                responses[person * n_items + item_index] = code;
            }
        }
        Ok(ResponseMatrix {
            person_ids,
            item_names,
            responses,
        })
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

    /// The codes of one person's responses (0, 1 or [`MISSING`]).
    pub fn row(&self, person: usize) -> &[u8] {
        let n = self.n_items();
        &self.responses[person * n..(person + 1) * n]
    }

    /// One response: `Some(0)`, `Some(1)` or `None` when missing.
    pub fn response(&self, person: usize, item: usize) -> Option<u8> {
        let code = self.responses[person * self.n_items() + item];
        (code != MISSING).then_some(code)
    }

    /// Number of missing responses in the whole matrix.
    pub fn n_missing(&self) -> usize {
        self.responses.iter().filter(|&&v| v == MISSING).count()
    }

    /// The matrix as a table: `id`, then one column per item holding 1, 0 or empty.
    pub fn to_dataframe(&self) -> Result<DataFrame, PredictionError> {
        let mut columns = Vec::with_capacity(self.n_items() + 1);
        columns.push(Column::new("id".into(), self.person_ids.clone()));
        for (j, name) in self.item_names.iter().enumerate() {
            let values: Vec<Option<i32>> = (0..self.n_persons())
                .map(|p| self.response(p, j).map(i32::from))
                .collect();
            columns.push(Column::new(name.as_str().into(), values));
        }
        DataFrame::new(self.n_persons(), columns).map_err(|e| PredictionError::Data(e.to_string()))
    }

    /// A copy keeping only the given item columns, in the given order.
    pub fn select_items(&self, item_indices: &[usize]) -> ResponseMatrix {
        let n = self.n_items();
        let mut responses = Vec::with_capacity(self.n_persons() * item_indices.len());
        for person in 0..self.n_persons() {
            let row = &self.responses[person * n..(person + 1) * n];
            responses.extend(item_indices.iter().map(|&j| row[j]));
        }
        ResponseMatrix {
            person_ids: self.person_ids.clone(),
            item_names: item_indices
                .iter()
                .map(|&j| self.item_names[j].clone())
                .collect(),
            responses,
        }
    }
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

/// A column's values as response codes, or an error naming the column and up to five offending
/// values.
fn column_as_codes(frame: &DataFrame, name: &str) -> Result<Vec<u8>, PredictionError> {
    let data_error =
        |e: polars::error::PolarsError| PredictionError::Data(format!("column \"{name}\": {e}"));
    let series = frame
        .column(name)
        .map_err(data_error)?
        .as_materialized_series();
    let mut offending: Vec<String> = Vec::new();
    let mut note = |value: String| {
        if offending.len() < 5 && !offending.contains(&value) {
            offending.push(value);
        }
    };
    let codes: Vec<u8> = match series.dtype() {
        DataType::String => series
            .str()
            .map_err(data_error)?
            .iter()
            .map(|v| match v.map(str::trim) {
                None | Some("") => MISSING,
                Some("0") | Some("0.0") => 0,
                Some("1") | Some("1.0") => 1,
                Some(other) => {
                    note(format!("\"{other}\""));
                    MISSING
                }
            })
            .collect(),
        DataType::Null => vec![MISSING; series.len()],
        dtype if dtype.is_bool() || dtype.is_primitive_numeric() => {
            let numbers = series.cast(&DataType::Float64).map_err(data_error)?;
            numbers
                .f64()
                .map_err(data_error)?
                .iter()
                .map(|v| match v {
                    None => MISSING,
                    Some(x) if x.is_nan() => MISSING,
                    Some(0.0) => 0,
                    Some(1.0) => 1,
                    Some(x) => {
                        note(x.to_string());
                        MISSING
                    }
                })
                .collect()
        }
        other => {
            return Err(PredictionError::NonBinary {
                column: name.to_string(),
                values: format!("values of type {other}"),
            });
        }
    };
    if !offending.is_empty() {
        return Err(PredictionError::NonBinary {
            column: name.to_string(),
            values: offending.join(", "),
        });
    }
    Ok(codes)
}

/// Identical response patterns collapsed, with their counts.
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    pub n_items: usize,
    /// Row-major `counts.len() × n_items` codes.
    pub codes: Vec<u8>,
    /// How many persons share each pattern.
    pub counts: Vec<f64>,
    /// For every person of the source matrix, the index of their pattern; `None` for persons
    /// with no responses.
    pub person_pattern: Vec<Option<usize>>,
    /// `missing_offsets[p]..missing_offsets[p + 1]` indexes `missing_items` for pattern p.
    pub missing_offsets: Vec<usize>,
    /// Items missing in each pattern, concatenated.
    pub missing_items: Vec<u32>,
}

impl Patterns {
    /// Collapses the rows of `matrix` that have at least one response.
    pub fn collapse(matrix: &ResponseMatrix) -> Patterns {
        let n_items = matrix.n_items();
        let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(matrix.n_persons());
        let mut codes = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        let mut person_pattern = Vec::with_capacity(matrix.n_persons());
        for person in 0..matrix.n_persons() {
            let row = matrix.row(person);
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
            codes,
            counts,
            person_pattern,
            missing_offsets,
            missing_items,
        }
    }

    /// Number of distinct patterns.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// The codes of pattern `p`.
    pub fn row(&self, p: usize) -> &[u8] {
        &self.codes[p * self.n_items..(p + 1) * self.n_items]
    }

    /// The items missing in pattern `p`.
    pub fn missing(&self, p: usize) -> &[u32] {
        &self.missing_items[self.missing_offsets[p]..self.missing_offsets[p + 1]]
    }

    /// True when some pattern has a missing response.
    pub fn has_missing(&self) -> bool {
        !self.missing_items.is_empty()
    }
}

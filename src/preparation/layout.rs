//! Layout: wide data (one row per person) passes through; long data (one row per person and
//! item) is pivoted to wide. Also which columns of the prepared table form the response matrix.

use polars::prelude::{DataFrame, DataType, IdxCa, NewChunkedArray, PlHashMap, Series};
use serde::{Deserialize, Serialize};

use super::PreparationError;
use super::sparse::SparseResponses;

/// Long data pivots to a wide table of at most this many cells; beyond it, or when fewer than
/// one cell in twenty would hold a response (an incomplete design such as an item bank), the
/// responses are held sparse.
pub const WIDE_CELL_LIMIT: usize = 10_000_000;

/// What to do with two rows for the same person and item in long data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Keep the first row.
    #[default]
    First,
    /// Keep the last row.
    Last,
    /// Refuse the data.
    Error,
}

/// The shape of the loaded data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Layout {
    /// One row per person, one column per item.
    #[default]
    Wide,
    /// One row per person and item, pivoted to wide. Other columns are carried along, with the
    /// person's first value.
    Long {
        /// The person-id column.
        person_column: String,
        /// The item column; its values become column names.
        item_column: String,
        /// The response column.
        response_column: String,
        /// Duplicate (person, item) rows.
        #[serde(default)]
        duplicates: DuplicatePolicy,
    },
}

/// What applying a layout did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayoutReport {
    /// Long data whose wide table would be too large: the responses, held sparse (the table
    /// then has only the person columns).
    pub sparse: Option<SparseResponses>,
    /// Rows of the loaded data.
    pub rows_in: usize,
    /// Rows after the layout (persons, for long data).
    pub rows_out: usize,
    /// Duplicate (person, item) rows found in long data.
    pub duplicates: usize,
    /// The item columns the pivot created (empty for wide data).
    pub pivoted_items: Vec<String>,
}

fn column_names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

/// An error for a column that is not in `frame`.
pub fn column_not_found(frame: &DataFrame, column: &str) -> PreparationError {
    PreparationError::ColumnNotFound {
        column: column.to_string(),
        available: column_names(frame).join(", "),
    }
}

impl Layout {
    /// Applies the layout.
    pub fn apply(&self, frame: DataFrame) -> Result<(DataFrame, LayoutReport), PreparationError> {
        self.apply_with_limit(frame, WIDE_CELL_LIMIT)
    }

    /// Applies the layout, holding long data sparse when the wide table would have more than
    /// `wide_cell_limit` cells.
    pub fn apply_with_limit(
        &self,
        frame: DataFrame,
        wide_cell_limit: usize,
    ) -> Result<(DataFrame, LayoutReport), PreparationError> {
        let rows_in = frame.height();
        match self {
            Layout::Wide => Ok((
                frame,
                LayoutReport {
                    rows_in,
                    rows_out: rows_in,
                    ..LayoutReport::default()
                },
            )),
            Layout::Long {
                person_column,
                item_column,
                response_column,
                duplicates,
            } => pivot_long(
                &frame,
                person_column,
                item_column,
                response_column,
                *duplicates,
                wide_cell_limit,
            ),
        }
    }
}

/// A key column as dense ids: for every row the index of its distinct value ([`NO_KEY`] for
/// a missing value), the distinct values as text in order of first appearance, and the row where
/// each first appears. Integer columns are hashed as integers and text as borrowed `&str`, so a
/// million rows cost no allocation per row.
const NO_KEY: u32 = u32::MAX;

struct DenseKeys {
    ids: Vec<u32>,
    names: Vec<String>,
    first_rows: Vec<u32>,
}

fn dense_keys(frame: &DataFrame, name: &str) -> Result<DenseKeys, PreparationError> {
    let series = frame
        .column(name)
        .map_err(|_| column_not_found(frame, name))?
        .as_materialized_series();
    let failed =
        |e: polars::error::PolarsError| PreparationError::Other(format!("column \"{name}\": {e}"));
    let mut ids = Vec::with_capacity(series.len());
    let mut names = Vec::new();
    let mut first_rows = Vec::new();
    if series.dtype().is_integer() {
        let values = series.cast(&DataType::Int64).map_err(failed)?;
        let mut index: PlHashMap<i64, u32> = PlHashMap::default();
        for (row, value) in values.i64().map_err(failed)?.iter().enumerate() {
            ids.push(value.map_or(NO_KEY, |v| {
                *index.entry(v).or_insert_with(|| {
                    names.push(v.to_string());
                    first_rows.push(row as u32);
                    (names.len() - 1) as u32
                })
            }));
        }
    } else {
        let values = series.cast(&DataType::String).map_err(failed)?;
        let mut index: PlHashMap<&str, u32> = PlHashMap::default();
        for (row, value) in values.str().map_err(failed)?.iter().enumerate() {
            ids.push(value.map_or(NO_KEY, |v| {
                *index.entry(v).or_insert_with(|| {
                    names.push(v.to_string());
                    first_rows.push(row as u32);
                    (names.len() - 1) as u32
                })
            }));
        }
    }
    Ok(DenseKeys {
        ids,
        names,
        first_rows,
    })
}

/// Compares names so that "Q2" sorts before "Q10".
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| -> Vec<(String, Option<u128>)> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut digits = false;
        for ch in s.chars() {
            if ch.is_ascii_digit() != digits && !current.is_empty() {
                let number = digits.then(|| current.parse().ok()).flatten();
                parts.push((std::mem::take(&mut current), number));
            }
            digits = ch.is_ascii_digit();
            current.push(ch);
        }
        if !current.is_empty() {
            let number = digits.then(|| current.parse().ok()).flatten();
            parts.push((current, number));
        }
        parts
    };
    let (left, right) = (split(a), split(b));
    for (x, y) in left.iter().zip(&right) {
        let order = match (x.1, y.1) {
            (Some(m), Some(n)) => m.cmp(&n).then_with(|| x.0.cmp(&y.0)),
            _ => x.0.cmp(&y.0),
        };
        if order.is_ne() {
            return order;
        }
    }
    left.len().cmp(&right.len())
}

/// Pivots long data (person, item, response rows) to one row per person and one column per
/// item. Persons keep their order of first appearance; items are in natural order. Columns other
/// than item and response are carried along with each person's first value. A design too large
/// or too incomplete for a wide table is held sparse (see [`pivot_long`]).
pub fn wide_from_long(
    frame: &DataFrame,
    person_column: &str,
    item_column: &str,
    response_column: &str,
    policy: DuplicatePolicy,
) -> Result<(DataFrame, LayoutReport), PreparationError> {
    pivot_long(
        frame,
        person_column,
        item_column,
        response_column,
        policy,
        WIDE_CELL_LIMIT,
    )
}

/// [`wide_from_long`] with the wide table's cell limit: beyond `wide_cell_limit` cells (or when
/// fewer than one cell in twenty would hold a response), the table holds only the person
/// columns and the responses are returned sparse in the report.
pub fn pivot_long(
    frame: &DataFrame,
    person_column: &str,
    item_column: &str,
    response_column: &str,
    policy: DuplicatePolicy,
    wide_cell_limit: usize,
) -> Result<(DataFrame, LayoutReport), PreparationError> {
    for name in [person_column, item_column, response_column] {
        if frame.column(name).is_err() {
            return Err(column_not_found(frame, name));
        }
    }
    if person_column == item_column
        || item_column == response_column
        || person_column == response_column
    {
        return Err(PreparationError::Other(
            "long layout: the person, item and response columns must be three different columns"
                .into(),
        ));
    }
    let persons = dense_keys(frame, person_column)?;
    let items = dense_keys(frame, item_column)?;
    for (ids, column) in [(&persons.ids, person_column), (&items.ids, item_column)] {
        if let Some(row) = ids.iter().position(|&id| id == NO_KEY) {
            return Err(PreparationError::Other(format!(
                "long layout: row {} has no value in column \"{column}\"",
                row + 1
            )));
        }
    }
    // Dense ids, one u32 per row; no copies of the keys (a million rows cost 8 MB here).
    let row_person = &persons.ids;
    let row_item = &items.ids;
    let first_rows = persons.first_rows.clone();
    let n_persons = persons.names.len();
    let n_items = items.names.len();
    let mut item_names: Vec<(&str, u32)> = items
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| (name.as_str(), j as u32))
        .collect();
    item_names.sort_by(|a, b| natural_order(a.0, b.0));

    const NONE: u32 = u32::MAX;
    // Rank of each item id in natural order.
    let mut rank = vec![0u32; n_items];
    for (position, (_, j)) in item_names.iter().enumerate() {
        rank[*j as usize] = position as u32;
    }
    let cells = (n_persons as u128) * (n_items as u128);
    let sparse = cells > wide_cell_limit as u128
        || (cells > 1_000_000 && (frame.height() as u128) * 20 < cells);
    if !sparse {
        // Dense: a cell per person × item, filled in row order (the first or last row kept).
        let mut cell_rows = vec![NONE; n_persons * n_items];
        let mut duplicates = 0usize;
        let mut first_duplicate = None;
        for (row, (&p, &j)) in row_person.iter().zip(row_item).enumerate() {
            let cell = &mut cell_rows[p as usize * n_items + rank[j as usize] as usize];
            if *cell != NONE {
                duplicates += 1;
                first_duplicate.get_or_insert(row);
                if policy == DuplicatePolicy::First {
                    continue;
                }
            }
            *cell = row as u32;
        }
        if policy == DuplicatePolicy::Error
            && let Some(row) = first_duplicate
        {
            return Err(duplicate_error(
                duplicates, row, &persons, &items, row_person, row_item,
            ));
        }
        return dense_pivot(
            frame,
            &cell_rows,
            &first_rows,
            &item_names,
            item_column,
            response_column,
            duplicates,
        );
    }
    // Sparse: (person, item rank, row) per response, sorted, duplicates resolved by the policy.
    let mut entries: Vec<(u32, u32, u32)> = row_person
        .iter()
        .zip(row_item)
        .enumerate()
        .map(|(row, (&p, &j))| (p, rank[j as usize], row as u32))
        .collect();
    entries.sort_unstable();
    let mut duplicates = 0usize;
    let mut first_duplicate: Option<usize> = None;
    let mut kept: Vec<(u32, u32, u32)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match kept.last_mut() {
            Some(last) if last.0 == entry.0 && last.1 == entry.1 => {
                duplicates += 1;
                first_duplicate =
                    Some(first_duplicate.map_or(entry.2 as usize, |f| f.min(entry.2 as usize)));
                if policy == DuplicatePolicy::Last {
                    *last = entry;
                }
            }
            _ => kept.push(entry),
        }
    }
    if policy == DuplicatePolicy::Error
        && let Some(row) = first_duplicate
    {
        return Err(duplicate_error(
            duplicates, row, &persons, &items, row_person, row_item,
        ));
    }
    let responses_column = frame
        .column(response_column)
        .map_err(|_| column_not_found(frame, response_column))?
        .as_materialized_series();
    let names: Vec<String> = item_names.iter().map(|(n, _)| n.to_string()).collect();
    let responses = SparseResponses::from_rows(&kept, responses_column, names)
        .map_err(|e| PreparationError::Other(format!("long layout: {e}")))?;
    let person_frame = person_table(frame, &first_rows, item_column, response_column)?;
    Ok((
        person_frame,
        LayoutReport {
            sparse: Some(responses),
            rows_in: frame.height(),
            rows_out: n_persons,
            duplicates,
            pivoted_items: item_names.iter().map(|(n, _)| n.to_string()).collect(),
        },
    ))
}

/// The error for duplicate (person, item) rows under the "error" policy.
fn duplicate_error(
    duplicates: usize,
    row: usize,
    persons: &DenseKeys,
    items: &DenseKeys,
    row_person: &[u32],
    row_item: &[u32],
) -> PreparationError {
    PreparationError::Other(format!(
        "long layout: {duplicates} duplicate (person, item) rows, the first at row {} (person {}, item {}); choose to keep the first or last",
        row + 1,
        crate::text::quoted(&persons.names[row_person[row] as usize]),
        crate::text::quoted(&items.names[row_item[row] as usize])
    ))
}

/// The wide table from the row of every (person, item) cell.
fn dense_pivot(
    frame: &DataFrame,
    cell_rows: &[u32],
    first_rows: &[u32],
    item_names: &[(&str, u32)],
    item_column: &str,
    response_column: &str,
    duplicates: usize,
) -> Result<(DataFrame, LayoutReport), PreparationError> {
    const NONE: u32 = u32::MAX;
    let n_persons = first_rows.len();
    let n_items = item_names.len();
    let gather = |series: &Series, rows: &IdxCa| -> Result<Series, PreparationError> {
        series
            .take(rows)
            .map_err(|e| PreparationError::Other(format!("pivot: {e}")))
    };
    let first_index = IdxCa::from_vec("rows".into(), first_rows.iter().map(|&r| r as _).collect());
    let mut columns = Vec::new();
    for name in column_names(frame) {
        if name == item_column || name == response_column {
            continue;
        }
        let series = frame
            .column(&name)
            .map_err(|_| column_not_found(frame, &name))?
            .as_materialized_series();
        columns.push(gather(series, &first_index)?.into());
    }
    let responses = frame
        .column(response_column)
        .map_err(|_| column_not_found(frame, response_column))?
        .as_materialized_series();
    let mut pivoted_items = Vec::with_capacity(n_items);
    for (position, (name, _)) in item_names.iter().enumerate() {
        if columns
            .iter()
            .any(|c: &polars::prelude::Column| c.name().as_str() == *name)
        {
            return Err(PreparationError::Other(format!(
                "long layout: item \"{name}\" has the same name as another column; rename that column first"
            )));
        }
        let rows = IdxCa::from_iter_options(
            "rows".into(),
            (0..n_persons).map(|p| {
                let row = cell_rows[p * n_items + position];
                (row != NONE).then_some(row as _)
            }),
        );
        let mut column = gather(responses, &rows)?;
        column.rename((*name).into());
        columns.push(column.into());
        pivoted_items.push(name.to_string());
    }
    let wide = DataFrame::new(n_persons, columns)
        .map_err(|e| PreparationError::Other(format!("pivot: {e}")))?;
    Ok((
        wide,
        LayoutReport {
            rows_in: frame.height(),
            rows_out: n_persons,
            duplicates,
            pivoted_items,
            sparse: None,
        },
    ))
}

/// The person columns of long data: every column but item and response, with each person's
/// first value.
fn person_table(
    frame: &DataFrame,
    first_rows: &[u32],
    item_column: &str,
    response_column: &str,
) -> Result<DataFrame, PreparationError> {
    let index = IdxCa::from_vec("rows".into(), first_rows.iter().map(|&r| r as _).collect());
    let mut columns = Vec::new();
    for name in column_names(frame) {
        if name == item_column || name == response_column {
            continue;
        }
        let series = frame
            .column(&name)
            .map_err(|_| column_not_found(frame, &name))?
            .as_materialized_series();
        columns.push(
            series
                .take(&index)
                .map_err(|e| PreparationError::Other(format!("pivot: {e}")))?
                .into(),
        );
    }
    DataFrame::new(first_rows.len(), columns)
        .map_err(|e| PreparationError::Other(format!("pivot: {e}")))
}

/// Which columns of the prepared table are items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ItemSelection {
    /// Long data: the pivoted item columns; wide data: every column but the person id.
    #[default]
    Auto,
    /// The named columns, in this order.
    Named {
        /// Column names.
        columns: Vec<String>,
    },
    /// Columns whose names match a pattern with `*` (any text) and `?` (one character).
    Pattern {
        /// E.g. `Q*` or `item_??`.
        pattern: String,
    },
}

/// The person-id column and the item columns of the response matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseColumns {
    /// The person-id column (row numbers when `None`).
    pub id_column: Option<String>,
    /// The item columns.
    pub items: ItemSelection,
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character).
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

impl ResponseColumns {
    /// The item columns of `frame`. `pivoted` lists the items a long layout created.
    pub fn item_columns(
        &self,
        frame: &DataFrame,
        pivoted: &[String],
    ) -> Result<Vec<String>, PreparationError> {
        let names = column_names(frame);
        if let Some(id) = &self.id_column
            && !names.contains(id)
        {
            return Err(column_not_found(frame, id));
        }
        let not_id = |n: &&String| Some(n.as_str()) != self.id_column.as_deref();
        let items: Vec<String> = match &self.items {
            ItemSelection::Auto if !pivoted.is_empty() => names
                .iter()
                .filter(|n| pivoted.contains(n))
                .filter(not_id)
                .cloned()
                .collect(),
            ItemSelection::Auto => names.iter().filter(not_id).cloned().collect(),
            ItemSelection::Named { columns } => {
                for c in columns {
                    if !names.contains(c) {
                        return Err(column_not_found(frame, c));
                    }
                }
                columns.clone()
            }
            ItemSelection::Pattern { pattern } => {
                let matched: Vec<String> = names
                    .iter()
                    .filter(|n| matches_pattern(pattern, n))
                    .filter(not_id)
                    .cloned()
                    .collect();
                if matched.is_empty() {
                    return Err(PreparationError::Other(format!(
                        "no column matches the item pattern \"{pattern}\"; columns are: {}",
                        names.join(", ")
                    )));
                }
                matched
            }
        };
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_natural_order() {
        assert!(matches_pattern("Q*", "Q01"));
        assert!(matches_pattern("item_??", "item_12"));
        assert!(!matches_pattern("item_??", "item_123"));
        assert!(matches_pattern("*", ""));
        assert!(matches_pattern("a*b*c", "axxbyyc"));
        assert!(!matches_pattern("a*b", "ac"));
        let mut names = vec!["Q10", "Q2", "Q1", "A"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(names, vec!["A", "Q1", "Q2", "Q10"]);
    }
}

//! The kinds of preprocessing step (one serde variant each) and how each one transforms a
//! DataFrame. Steps take user-typed values as text and interpret them by the column's type.

use std::collections::{HashMap, HashSet};

use polars::prelude::{BooleanChunked, DataFrame, DataType, NamedFrom, NewChunkedArray, Series};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Comparison of a filter condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// `=`
    #[default]
    Equal,
    /// `≠`
    NotEqual,
    /// `<`
    Less,
    /// `≤`
    LessOrEqual,
    /// `>`
    Greater,
    /// `≥`
    GreaterOrEqual,
    /// One of a comma-separated list.
    In,
    /// None of a comma-separated list.
    NotIn,
    /// The value is missing.
    IsMissing,
    /// The value is present.
    IsNotMissing,
    /// The text contains the value.
    Contains,
}

impl FilterOp {
    /// Every operator, for menus.
    pub const ALL: [FilterOp; 11] = [
        FilterOp::Equal,
        FilterOp::NotEqual,
        FilterOp::Less,
        FilterOp::LessOrEqual,
        FilterOp::Greater,
        FilterOp::GreaterOrEqual,
        FilterOp::In,
        FilterOp::NotIn,
        FilterOp::IsMissing,
        FilterOp::IsNotMissing,
        FilterOp::Contains,
    ];

    /// The symbol or words shown to people.
    pub fn symbol(self) -> &'static str {
        match self {
            FilterOp::Equal => "=",
            FilterOp::NotEqual => "≠",
            FilterOp::Less => "<",
            FilterOp::LessOrEqual => "≤",
            FilterOp::Greater => ">",
            FilterOp::GreaterOrEqual => "≥",
            FilterOp::In => "in list",
            FilterOp::NotIn => "not in list",
            FilterOp::IsMissing => "is missing",
            FilterOp::IsNotMissing => "is not missing",
            FilterOp::Contains => "contains",
        }
    }

    /// Whether the operator uses a value.
    pub fn takes_value(self) -> bool {
        !matches!(self, FilterOp::IsMissing | FilterOp::IsNotMissing)
    }
}

/// One condition of a filter: `column op value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Condition {
    /// The column tested.
    pub column: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value as typed (a comma-separated list for `in` / `not in`).
    pub value: String,
}

/// How a filter's conditions combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Keep rows meeting every condition.
    #[default]
    All,
    /// Keep rows meeting at least one condition.
    Any,
}

/// One entry of a mapping table (`from` → `to`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// The value as found.
    pub from: String,
    /// Its replacement; empty means missing.
    pub to: String,
}

/// What a recode does with values its table does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Leave them as they are.
    #[default]
    Keep,
    /// Make them missing.
    Missing,
    /// Stop with an error naming them.
    Error,
}

/// The key of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeyEntry {
    /// The item column.
    pub column: String,
    /// The correct answer, e.g. "B".
    pub key: String,
}

/// Which of a set of duplicate rows to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first.
    #[default]
    First,
    /// The last.
    Last,
}

/// The type a cast converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CastTarget {
    /// Numbers; text that is not a number is an error.
    #[default]
    Number,
    /// Text.
    Text,
}

/// One preprocessing step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Keep only these columns, in this order.
    SelectColumns {
        /// Column names.
        columns: Vec<String>,
    },
    /// Remove these columns.
    DropColumns {
        /// Column names.
        columns: Vec<String>,
    },
    /// Rename columns.
    RenameColumns {
        /// Old name → new name.
        mapping: Vec<Mapping>,
    },
    /// Keep the rows that meet the conditions.
    Filter {
        /// All or any.
        #[serde(default)]
        combine: Combine,
        /// The conditions.
        conditions: Vec<Condition>,
    },
    /// Replace values by a mapping table in chosen columns.
    Recode {
        /// The columns recoded.
        columns: Vec<String>,
        /// The table.
        mapping: Vec<Mapping>,
        /// Values the table does not list.
        #[serde(default)]
        unmatched: Unmatched,
    },
    /// Score answers against a key: equal → 1, other → 0, missing stays missing.
    ScoreKey {
        /// One key per item column.
        key: Vec<KeyEntry>,
    },
    /// Drop rows with a missing value in the chosen columns (all columns when empty).
    DropMissing {
        /// Columns checked.
        #[serde(default)]
        columns: Vec<String>,
    },
    /// Drop rows with fewer than `min_answered` values present in the chosen columns (all when
    /// empty).
    MinAnswered {
        /// Columns counted.
        #[serde(default)]
        columns: Vec<String>,
        /// The least number of answered items a row must have.
        min_answered: usize,
    },
    /// Fill missing values in the chosen columns with a value.
    FillMissing {
        /// Columns filled.
        columns: Vec<String>,
        /// The value, as typed.
        value: String,
    },
    /// Remove duplicate rows, judged by the chosen columns (all when empty).
    RemoveDuplicates {
        /// Columns compared.
        #[serde(default)]
        columns: Vec<String>,
        /// Which row of a duplicate set stays.
        #[serde(default)]
        keep: Keep,
    },
    /// Convert a column to numbers or text.
    Cast {
        /// The column.
        column: String,
        /// Numbers or text.
        to: CastTarget,
    },
}

impl Step {
    /// A short name for the kind of step, as shown in messages: "Filter", "Recode", …
    pub fn kind_label(&self) -> &'static str {
        match self {
            Step::SelectColumns { .. } => "Select columns",
            Step::DropColumns { .. } => "Drop columns",
            Step::RenameColumns { .. } => "Rename columns",
            Step::Filter { .. } => "Filter",
            Step::Recode { .. } => "Recode",
            Step::ScoreKey { .. } => "Score by key",
            Step::DropMissing { .. } => "Drop missing",
            Step::MinAnswered { .. } => "Min answered",
            Step::FillMissing { .. } => "Fill missing",
            Step::RemoveDuplicates { .. } => "Remove duplicates",
            Step::Cast { .. } => "Cast",
        }
    }

    /// A new step of each kind, with empty settings, for an "Add step" menu.
    pub fn templates() -> Vec<Step> {
        vec![
            Step::Filter {
                combine: Combine::All,
                conditions: vec![Condition::default()],
            },
            Step::Recode {
                columns: Vec::new(),
                mapping: vec![Mapping::default()],
                unmatched: Unmatched::Keep,
            },
            Step::ScoreKey { key: Vec::new() },
            Step::SelectColumns {
                columns: Vec::new(),
            },
            Step::DropColumns {
                columns: Vec::new(),
            },
            Step::RenameColumns {
                mapping: vec![Mapping::default()],
            },
            Step::DropMissing {
                columns: Vec::new(),
            },
            Step::MinAnswered {
                columns: Vec::new(),
                min_answered: 1,
            },
            Step::FillMissing {
                columns: Vec::new(),
                value: "0".into(),
            },
            Step::RemoveDuplicates {
                columns: Vec::new(),
                keep: Keep::First,
            },
            Step::Cast {
                column: String::new(),
                to: CastTarget::Number,
            },
        ]
    }

    /// What is still to be filled in before the step can run (a step just added has empty
    /// fields); `None` when it is complete. An incomplete step is skipped, not failed.
    pub fn incomplete(&self) -> Option<&'static str> {
        match self {
            Step::SelectColumns { columns } if columns.is_empty() => {
                Some("choose the columns to keep")
            }
            Step::DropColumns { columns } if columns.is_empty() => {
                Some("choose the columns to drop")
            }
            Step::RenameColumns { mapping } if mapping.iter().all(|m| m.from.is_empty()) => {
                Some("choose a column to rename")
            }
            Step::Filter { conditions, .. }
                if conditions.is_empty() || conditions.iter().all(|c| c.column.is_empty()) =>
            {
                Some("choose a column for the condition")
            }
            Step::Recode {
                columns, mapping, ..
            } if columns.is_empty() || mapping.iter().all(|m| m.from.is_empty()) => {
                Some("choose the columns and the values to recode")
            }
            Step::ScoreKey { key } if key.iter().all(|k| k.column.is_empty()) => {
                Some("add the key of at least one item")
            }
            Step::FillMissing { columns, .. } if columns.is_empty() => {
                Some("choose the columns to fill")
            }
            Step::Cast { column, .. } if column.is_empty() => Some("choose the column to convert"),
            _ => None,
        }
    }

    /// Applies the step. The error says what is wrong, naming columns and values.
    pub fn apply(&self, frame: &DataFrame) -> Result<DataFrame, String> {
        match self {
            Step::SelectColumns { columns } => {
                require_columns(frame, columns)?;
                if columns.is_empty() {
                    return Err("choose at least one column to keep".into());
                }
                frame
                    .select(columns.iter().map(|c| c.as_str()))
                    .map_err(|e| e.to_string())
            }
            Step::DropColumns { columns } => {
                require_columns(frame, columns)?;
                Ok(frame.drop_many(columns.iter().map(|c| c.as_str())))
            }
            Step::RenameColumns { mapping } => {
                let mut out = frame.clone();
                for entry in mapping {
                    if entry.from.is_empty() && entry.to.is_empty() {
                        continue;
                    }
                    require_columns(&out, std::slice::from_ref(&entry.from))?;
                    if entry.to.trim().is_empty() {
                        return Err(format!("the new name for \"{}\" is empty", entry.from));
                    }
                    if entry.to != entry.from && out.column(&entry.to).is_ok() {
                        return Err(format!(
                            "cannot rename \"{}\" to \"{}\": a column of that name exists",
                            entry.from, entry.to
                        ));
                    }
                    out.rename(&entry.from, entry.to.as_str().into())
                        .map_err(|e| e.to_string())?;
                }
                Ok(out)
            }
            Step::Filter {
                combine,
                conditions,
            } => filter(frame, *combine, conditions),
            Step::Recode {
                columns,
                mapping,
                unmatched,
            } => recode(frame, columns, mapping, *unmatched),
            Step::ScoreKey { key } => score_key(frame, key),
            Step::DropMissing { columns } => {
                let columns = columns_or_all(frame, columns)?;
                let mut keep = vec![true; frame.height()];
                for name in &columns {
                    let series = series(frame, name)?;
                    for (k, present) in keep.iter_mut().zip(presence(series)) {
                        *k &= present;
                    }
                }
                filter_rows(frame, &keep)
            }
            Step::MinAnswered {
                columns,
                min_answered,
            } => {
                let columns = columns_or_all(frame, columns)?;
                let mut answered = vec![0usize; frame.height()];
                for name in &columns {
                    for (count, present) in answered.iter_mut().zip(presence(series(frame, name)?))
                    {
                        *count += usize::from(present);
                    }
                }
                let keep: Vec<bool> = answered.iter().map(|&n| n >= *min_answered).collect();
                filter_rows(frame, &keep)
            }
            Step::FillMissing { columns, value } => fill_missing(frame, columns, value),
            Step::RemoveDuplicates { columns, keep } => {
                let columns = columns_or_all(frame, columns)?;
                let texts: Vec<Vec<Option<String>>> = columns
                    .iter()
                    .map(|c| text_values(series(frame, c)?))
                    .collect::<Result<_, _>>()?;
                let height = frame.height();
                let key = |row: usize| -> Vec<Option<&str>> {
                    texts.iter().map(|t| t[row].as_deref()).collect()
                };
                let mut seen = HashSet::with_capacity(height);
                let mut keep_rows = vec![false; height];
                let order: Box<dyn Iterator<Item = usize>> = match keep {
                    Keep::First => Box::new(0..height),
                    Keep::Last => Box::new((0..height).rev()),
                };
                for row in order {
                    keep_rows[row] = seen.insert(key(row));
                }
                filter_rows(frame, &keep_rows)
            }
            Step::Cast { column, to } => {
                let source = series(frame, column)?;
                let converted = match to {
                    CastTarget::Text => {
                        source.cast(&DataType::String).map_err(|e| e.to_string())?
                    }
                    CastTarget::Number => to_number(source)?,
                };
                replace_column(frame, column, converted)
            }
        }
    }
}

fn column_list(frame: &DataFrame) -> String {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_found(frame: &DataFrame, name: &str) -> String {
    if name.is_empty() {
        format!("no column chosen; columns are: {}", column_list(frame))
    } else {
        format!(
            "column \"{name}\" not found; columns are: {}",
            column_list(frame)
        )
    }
}

fn require_columns(frame: &DataFrame, columns: &[String]) -> Result<(), String> {
    for c in columns {
        if frame.column(c).is_err() {
            return Err(not_found(frame, c));
        }
    }
    Ok(())
}

fn columns_or_all(frame: &DataFrame, columns: &[String]) -> Result<Vec<String>, String> {
    require_columns(frame, columns)?;
    Ok(if columns.is_empty() {
        frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    } else {
        columns.to_vec()
    })
}

fn series<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Series, String> {
    frame
        .column(name)
        .map(|c| c.as_materialized_series())
        .map_err(|_| not_found(frame, name))
}

fn is_numeric(series: &Series) -> bool {
    series.dtype().is_primitive_numeric() || series.dtype().is_bool()
}

/// Whether each value is present (not null).
fn presence(series: &Series) -> Vec<bool> {
    match series.is_not_null().iter().collect::<Option<Vec<bool>>>() {
        Some(v) => v,
        None => vec![true; series.len()],
    }
}

fn numbers(series: &Series) -> Result<Vec<Option<f64>>, String> {
    let cast = series
        .cast(&DataType::Float64)
        .map_err(|e| format!("column \"{}\": {e}", series.name()))?;
    let values = cast
        .f64()
        .map_err(|e| format!("column \"{}\": {e}", series.name()))?;
    Ok(values.iter().collect())
}

fn text_values(series: &Series) -> Result<Vec<Option<String>>, String> {
    let cast = series
        .cast(&DataType::String)
        .map_err(|e| format!("column \"{}\": {e}", series.name()))?;
    let values = cast
        .str()
        .map_err(|e| format!("column \"{}\": {e}", series.name()))?;
    Ok(values.iter().map(|v| v.map(str::to_string)).collect())
}

/// Runs `f` over a column's values as `Option<&str>` (casting non-text columns to text first).
fn with_texts<T>(
    series: &Series,
    f: impl FnOnce(&mut dyn Iterator<Item = Option<&str>>) -> T,
) -> Result<T, String> {
    let cast;
    let text = if series.dtype() == &DataType::String {
        series.str().map_err(|e| e.to_string())?
    } else {
        cast = series
            .cast(&DataType::String)
            .map_err(|e| format!("column \"{}\": {e}", series.name()))?;
        cast.str().map_err(|e| e.to_string())?
    };
    Ok(f(&mut text.iter()))
}

fn filter_rows(frame: &DataFrame, keep: &[bool]) -> Result<DataFrame, String> {
    if keep.iter().all(|&k| k) {
        return Ok(frame.clone());
    }
    let mask = BooleanChunked::from_slice("keep".into(), keep);
    frame.filter(&mask).map_err(|e| e.to_string())
}

fn replace_column(frame: &DataFrame, name: &str, mut values: Series) -> Result<DataFrame, String> {
    values.rename(name.into());
    let mut out = frame.clone();
    out.replace(name, values.into())
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A column from texts: integers when every value is an integer, numbers when every value is
/// a number, text otherwise.
fn column_from_texts(name: &str, values: &[Option<&str>]) -> Series {
    let parsed: Vec<Option<f64>> = values.iter().map(|v| v.and_then(parse_number)).collect();
    let all_numbers = values
        .iter()
        .zip(&parsed)
        .all(|(v, p)| v.is_none() || p.is_some());
    if all_numbers {
        if parsed
            .iter()
            .flatten()
            .all(|v| v.fract() == 0.0 && v.abs() < 9e15)
        {
            let ints: Vec<Option<i64>> = parsed.iter().map(|v| v.map(|v| v as i64)).collect();
            return Series::new(name.into(), ints);
        }
        return Series::new(name.into(), parsed);
    }
    Series::new(name.into(), values.to_vec())
}

fn filter(
    frame: &DataFrame,
    combine: Combine,
    conditions: &[Condition],
) -> Result<DataFrame, String> {
    if conditions.is_empty() {
        return Ok(frame.clone());
    }
    let height = frame.height();
    let mut keep = vec![combine == Combine::All; height];
    for (index, condition) in conditions.iter().enumerate() {
        let mask = condition_mask(frame, condition).map_err(|e| {
            if conditions.len() > 1 {
                format!("condition {}: {e}", index + 1)
            } else {
                e
            }
        })?;
        for (k, m) in keep.iter_mut().zip(mask) {
            match combine {
                Combine::All => *k &= m,
                Combine::Any => *k |= m,
            }
        }
    }
    filter_rows(frame, &keep)
}

fn condition_mask(frame: &DataFrame, condition: &Condition) -> Result<Vec<bool>, String> {
    let series = series(frame, &condition.column)?;
    let op = condition.op;
    let value = condition.value.trim();
    match op {
        FilterOp::IsMissing => return Ok(presence(series).into_iter().map(|p| !p).collect()),
        FilterOp::IsNotMissing => return Ok(presence(series)),
        FilterOp::Contains => {
            return with_texts(series, |values| {
                values
                    .map(|v| v.is_some_and(|v| v.contains(value)))
                    .collect()
            });
        }
        _ => {}
    }
    let list: Vec<&str> = if matches!(op, FilterOp::In | FilterOp::NotIn) {
        value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    } else {
        vec![value]
    };
    if is_numeric(series) {
        let targets: Vec<f64> = list
            .iter()
            .map(|v| {
                parse_number(v).ok_or_else(|| {
                    format!(
                        "\"{v}\" is not a number, but column \"{}\" holds numbers",
                        condition.column
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let Some(&target) = targets.first() else {
            return Err("the list of values is empty".into());
        };
        return Ok(numbers(series)?
            .into_iter()
            .map(|v| match v {
                None => false,
                Some(x) => match op {
                    FilterOp::Equal => x == target,
                    FilterOp::NotEqual => x != target,
                    FilterOp::Less => x < target,
                    FilterOp::LessOrEqual => x <= target,
                    FilterOp::Greater => x > target,
                    FilterOp::GreaterOrEqual => x >= target,
                    FilterOp::In => targets.contains(&x),
                    FilterOp::NotIn => !targets.contains(&x),
                    _ => false,
                },
            })
            .collect());
    }
    if list.is_empty() {
        return Err("the list of values is empty".into());
    }
    let target = list[0];
    let target_number = parse_number(target);
    with_texts(series, |values| {
        values
            .map(|v| match v {
                None => false,
                Some(text) => {
                    let order = || match (parse_number(text), target_number) {
                        (Some(a), Some(b)) => {
                            a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
                        }
                        _ => text.trim().cmp(target),
                    };
                    match op {
                        FilterOp::Equal => text.trim() == target,
                        FilterOp::NotEqual => text.trim() != target,
                        FilterOp::Less => order().is_lt(),
                        FilterOp::LessOrEqual => order().is_le(),
                        FilterOp::Greater => order().is_gt(),
                        FilterOp::GreaterOrEqual => order().is_ge(),
                        FilterOp::In => list.contains(&text.trim()),
                        FilterOp::NotIn => !list.contains(&text.trim()),
                        _ => false,
                    }
                }
            })
            .collect()
    })
}

fn recode(
    frame: &DataFrame,
    columns: &[String],
    mapping: &[Mapping],
    unmatched: Unmatched,
) -> Result<DataFrame, String> {
    if columns.is_empty() {
        return Err("choose the columns to recode".into());
    }
    require_columns(frame, columns)?;
    let table: HashMap<&str, Option<&str>> = mapping
        .iter()
        .filter(|m| !(m.from.is_empty() && m.to.is_empty()))
        .map(|m| {
            let to = m.to.trim();
            (m.from.trim(), (!to.is_empty()).then_some(to))
        })
        .collect();
    let numeric_table: Vec<(f64, Option<&str>)> = table
        .iter()
        .filter_map(|(from, to)| parse_number(from).map(|f| (f, *to)))
        .collect();
    let recoded: Vec<Result<Series, String>> = columns
        .par_iter()
        .map(|name| {
            let source = series(frame, name)?;
            let mut unknown: Vec<String> = Vec::new();
            if is_numeric(source) {
                let values = numbers(source)?;
                let formatted: Vec<Option<String>> = values
                    .iter()
                    .map(|v| {
                        let x = (*v)?;
                        match numeric_table.iter().find(|(f, _)| *f == x) {
                            Some((_, to)) => to.map(str::to_string),
                            None => match unmatched {
                                Unmatched::Keep => Some(x.to_string()),
                                Unmatched::Missing => None,
                                Unmatched::Error => {
                                    if unknown.len() < 5 && !unknown.contains(&x.to_string()) {
                                        unknown.push(x.to_string());
                                    }
                                    None
                                }
                            },
                        }
                    })
                    .collect();
                if !unknown.is_empty() {
                    return Err(format!(
                        "column \"{name}\" has values the table does not list: {}",
                        unknown.join(", ")
                    ));
                }
                let borrowed: Vec<Option<&str>> = formatted.iter().map(|v| v.as_deref()).collect();
                return Ok(column_from_texts(name, &borrowed));
            }
            let result = with_texts(source, |values| {
                let mapped: Vec<Option<String>> = values
                    .map(|v| {
                        let text = v?;
                        match table.get(text.trim()) {
                            Some(to) => to.map(str::to_string),
                            None => match unmatched {
                                Unmatched::Keep => Some(text.to_string()),
                                Unmatched::Missing => None,
                                Unmatched::Error => {
                                    let shown = format!("\"{text}\"");
                                    if unknown.len() < 5 && !unknown.contains(&shown) {
                                        unknown.push(shown);
                                    }
                                    None
                                }
                            },
                        }
                    })
                    .collect();
                mapped
            })?;
            if !unknown.is_empty() {
                return Err(format!(
                    "column \"{name}\" has values the table does not list: {}",
                    unknown.join(", ")
                ));
            }
            let borrowed: Vec<Option<&str>> = result.iter().map(|v| v.as_deref()).collect();
            Ok(column_from_texts(name, &borrowed))
        })
        .collect();
    let mut out = frame.clone();
    for (name, series) in columns.iter().zip(recoded) {
        out = replace_column(&out, name, series?)?;
    }
    Ok(out)
}

fn score_key(frame: &DataFrame, key: &[KeyEntry]) -> Result<DataFrame, String> {
    if key.is_empty() {
        return Err("the answer key is empty; give a key for each item column".into());
    }
    for entry in key {
        require_columns(frame, std::slice::from_ref(&entry.column))?;
        if entry.key.trim().is_empty() {
            return Err(format!("the key of column \"{}\" is empty", entry.column));
        }
    }
    let scored: Vec<Result<Series, String>> = key
        .par_iter()
        .map(|entry| {
            let source = series(frame, &entry.column)?;
            let wanted = entry.key.trim();
            let values: Vec<Option<i32>> = match (is_numeric(source), parse_number(wanted)) {
                (true, Some(target)) => numbers(source)?
                    .into_iter()
                    .map(|v| v.map(|x| i32::from(x == target)))
                    .collect(),
                _ => with_texts(source, |values| {
                    values
                        .map(|v| v.map(|t| i32::from(t.trim() == wanted)))
                        .collect()
                })?,
            };
            Ok(Series::new(entry.column.as_str().into(), values))
        })
        .collect();
    let mut out = frame.clone();
    for (entry, series) in key.iter().zip(scored) {
        out = replace_column(&out, &entry.column, series?)?;
    }
    Ok(out)
}

fn fill_missing(frame: &DataFrame, columns: &[String], value: &str) -> Result<DataFrame, String> {
    if columns.is_empty() {
        return Err("choose the columns to fill".into());
    }
    require_columns(frame, columns)?;
    let mut out = frame.clone();
    for name in columns {
        let source = series(frame, name)?;
        let filled = if is_numeric(source) {
            let fill = parse_number(value).ok_or_else(|| {
                format!("\"{value}\" is not a number, but column \"{name}\" holds numbers")
            })?;
            let values: Vec<f64> = numbers(source)?
                .into_iter()
                .map(|v| v.unwrap_or(fill))
                .collect();
            let integral = source.dtype().is_integer() && fill.fract() == 0.0;
            if integral {
                Series::new(
                    name.as_str().into(),
                    values.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                )
            } else {
                Series::new(name.as_str().into(), values)
            }
        } else {
            with_texts(source, |values| {
                let filled: Vec<&str> = values.map(|v| v.unwrap_or(value)).collect();
                Series::new(name.as_str().into(), filled)
            })?
        };
        out = replace_column(&out, name, filled)?;
    }
    Ok(out)
}

fn to_number(source: &Series) -> Result<Series, String> {
    if is_numeric(source) {
        return source.cast(&DataType::Float64).map_err(|e| e.to_string());
    }
    let mut bad: Vec<String> = Vec::new();
    let values = with_texts(source, |values| {
        values
            .map(|v| {
                let text = v?.trim();
                if text.is_empty() {
                    return None;
                }
                let parsed = parse_number(text);
                if parsed.is_none() && bad.len() < 5 && !bad.contains(&format!("\"{text}\"")) {
                    bad.push(format!("\"{text}\""));
                }
                parsed
            })
            .collect::<Vec<Option<f64>>>()
    })?;
    if !bad.is_empty() {
        return Err(format!(
            "column \"{}\" has values that are not numbers: {}",
            source.name(),
            bad.join(", ")
        ));
    }
    Ok(Series::new(source.name().clone(), values))
}

//! The tables the prediction stage produces, as DataFrames ready for export — item parameters,
//! person scores, category probabilities and expected item scores per person or over a θ grid —
//! and reading a user's item-parameter table back.
//!
//! Items tables have `item`, `model`, `categories` (the category values, `|`-separated), then
//! the IRT form: `a`; `b` and `d` for right/wrong items (`b1…`, `d1…` as many as the widest
//! item when any item is polytomous); `c` and `u` where a type has them; `ak0…` for nominal
//! items; each with its standard error (`a_se`, …).

use polars::prelude::{Column, DataFrame, DataType};

use super::PredictionError;
use super::classical::ClassicalStatistics;
use super::estimation::{Calibration, FittedItem};
use super::items::{IrtForm, ItemType, format_categories, parse_categories};
use super::model::ItemParameters;
use super::scoring::PersonScore;

fn frame(height: usize, columns: Vec<Column>) -> Result<DataFrame, PredictionError> {
    DataFrame::new(height, columns).map_err(|e| PredictionError::Data(e.to_string()))
}

/// Which IRT-form columns a set of items needs.
struct Shape {
    a: bool,
    /// `None`: single `b`/`d` columns; `Some(n)`: `b1..bn`, `d1..dn`.
    steps: Option<usize>,
    c: bool,
    u: bool,
    ak: usize,
}

impl Shape {
    fn of<'a>(forms: impl Iterator<Item = &'a IrtForm> + Clone, polytomous: bool) -> Shape {
        let widest = forms
            .clone()
            .map(|f| f.b.len().max(f.d.len()))
            .max()
            .unwrap_or(1);
        Shape {
            a: forms.clone().any(|f| f.a.is_some()),
            steps: polytomous.then_some(widest),
            c: forms.clone().any(|f| f.c.is_some()),
            u: forms.clone().any(|f| f.u.is_some()),
            ak: forms.map(|f| f.ak.len()).max().unwrap_or(0),
        }
    }

    /// (column name, getter) for each IRT column.
    #[allow(clippy::type_complexity)]
    fn columns<T: Copy>(
        &self,
        suffix: &str,
    ) -> Vec<(String, Box<dyn Fn(&IrtForm<T>) -> Option<T>>)> {
        let mut out: Vec<(String, Box<dyn Fn(&IrtForm<T>) -> Option<T>>)> = Vec::new();
        if self.a {
            out.push((format!("a{suffix}"), Box::new(|f: &IrtForm<T>| f.a)));
        }
        match self.steps {
            None => out.push((
                format!("b{suffix}"),
                Box::new(|f: &IrtForm<T>| f.b.first().copied()),
            )),
            Some(n) => {
                for k in 0..n {
                    out.push((
                        format!("b{}{suffix}", k + 1),
                        Box::new(move |f: &IrtForm<T>| f.b.get(k).copied()),
                    ));
                }
            }
        }
        if self.c {
            out.push((format!("c{suffix}"), Box::new(|f: &IrtForm<T>| f.c)));
        }
        if self.u {
            out.push((format!("u{suffix}"), Box::new(|f: &IrtForm<T>| f.u)));
        }
        match self.steps {
            None => out.push((
                format!("d{suffix}"),
                Box::new(|f: &IrtForm<T>| f.d.first().copied()),
            )),
            Some(n) => {
                for k in 0..n {
                    out.push((
                        format!("d{}{suffix}", k + 1),
                        Box::new(move |f: &IrtForm<T>| f.d.get(k).copied()),
                    ));
                }
            }
        }
        for k in 0..self.ak {
            out.push((
                format!("ak{k}{suffix}"),
                Box::new(move |f: &IrtForm<T>| f.ak.get(k).copied()),
            ));
        }
        out
    }
}

/// The leading columns of an items table: `item`, `model`, `categories` and the IRT form.
fn parameter_columns(
    names: &[&str],
    models: &[ItemType],
    categories: &[&[String]],
    forms: &[IrtForm],
) -> (Vec<Column>, Shape) {
    let polytomous = categories.iter().any(|c| c.len() > 2);
    let shape = Shape::of(forms.iter(), polytomous);
    let mut columns = vec![
        Column::new("item".into(), names.to_vec()),
        Column::new(
            "model".into(),
            models.iter().map(|m| m.name()).collect::<Vec<_>>(),
        ),
        Column::new(
            "categories".into(),
            categories
                .iter()
                .map(|c| format_categories(c))
                .collect::<Vec<_>>(),
        ),
    ];
    for (name, get) in shape.columns::<f64>("") {
        columns.push(Column::new(
            name.as_str().into(),
            forms.iter().map(&get).collect::<Vec<Option<f64>>>(),
        ));
    }
    (columns, shape)
}

/// The items table of a calibration: parameters, their standard errors, and the classical
/// statistics (`p_value` is the mean item score over the maximum, `n` the number of
/// responses, `item_rest_r` the item–rest correlation). Items left out of the fit are not
/// listed.
pub fn items_table(
    calibration: &Calibration,
    classical: &ClassicalStatistics,
) -> Result<DataFrame, PredictionError> {
    fitted_items_table(&calibration.items, classical)
}

/// The items table of given fitted items (one group of a multiple-group fit, say): the same
/// columns as [`items_table`].
pub fn fitted_items_table(
    items: &[FittedItem],
    classical: &ClassicalStatistics,
) -> Result<DataFrame, PredictionError> {
    let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
    let models: Vec<ItemType> = items.iter().map(|i| i.model).collect();
    let categories: Vec<&[String]> = items.iter().map(|i| i.categories.as_slice()).collect();
    let forms: Vec<IrtForm> = items.iter().map(|i| i.irt.clone()).collect();
    let (mut columns, shape) = parameter_columns(&names, &models, &categories, &forms);
    for (name, get) in shape.columns::<Option<f64>>("_se") {
        columns.push(Column::new(
            name.as_str().into(),
            items
                .iter()
                .map(|i| get(&i.irt_se).flatten())
                .collect::<Vec<Option<f64>>>(),
        ));
    }
    let stats = |name: &str| classical.items.iter().find(|s| s.item == name);
    columns.push(Column::new(
        "p_value".into(),
        items
            .iter()
            .map(|i| stats(&i.item).and_then(|s| s.p_value))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "n".into(),
        items
            .iter()
            .map(|i| stats(&i.item).map(|s| s.n as u64))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "item_rest_r".into(),
        items
            .iter()
            .map(|i| stats(&i.item).and_then(|s| s.item_rest_r))
            .collect::<Vec<_>>(),
    ));
    frame(items.len(), columns)
}

/// A table of given item parameters in the items table's layout (`item`, `model`,
/// `categories`, IRT form), e.g. parameters entered by hand.
pub fn parameters_table(
    items: &[ItemParameters],
    scaling: f64,
) -> Result<DataFrame, PredictionError> {
    let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
    let models: Vec<ItemType> = items.iter().map(|i| i.model).collect();
    let categories: Vec<&[String]> = items.iter().map(|i| i.categories.as_slice()).collect();
    let forms: Vec<IrtForm> = items.iter().map(|i| i.irt(scaling)).collect();
    let (columns, _) = parameter_columns(&names, &models, &categories, &forms);
    frame(items.len(), columns)
}

/// The scores table: `id,theta,theta_se,n_answered,sum_score`; θ and SE empty where undefined.
pub fn scores_table(scores: &[PersonScore]) -> Result<DataFrame, PredictionError> {
    let columns = vec![
        Column::new(
            "id".into(),
            scores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "theta".into(),
            scores.iter().map(|s| s.theta).collect::<Vec<_>>(),
        ),
        Column::new(
            "theta_se".into(),
            scores.iter().map(|s| s.theta_se).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_answered".into(),
            scores
                .iter()
                .map(|s| s.n_answered as u64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "sum_score".into(),
            scores
                .iter()
                .map(|s| s.sum_score as u64)
                .collect::<Vec<_>>(),
        ),
    ];
    frame(scores.len(), columns)
}

/// Names of an item's probability columns: the item's name for a right/wrong item (P of the
/// higher category), `ITEM_VALUE` per category otherwise.
pub fn probability_column_names(item: &ItemParameters) -> Vec<String> {
    if item.n_categories() == 2 {
        vec![item.item.clone()]
    } else {
        item.categories
            .iter()
            .map(|c| format!("{}_{c}", item.item))
            .collect()
    }
}

/// Probability columns of every item at each θ (`None` → empty cells).
fn probability_columns(items: &[ItemParameters], thetas: &[Option<f64>]) -> Vec<Column> {
    let mut columns = Vec::new();
    for item in items {
        let names = probability_column_names(item);
        let k = item.n_categories();
        let mut values: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(thetas.len()); names.len()];
        let mut p = vec![0.0; k];
        for theta in thetas {
            match theta {
                Some(t) => {
                    item.probabilities_into(*t, &mut p);
                    if k == 2 {
                        values[0].push(Some(p[1]));
                    } else {
                        for (c, column) in values.iter_mut().enumerate() {
                            column.push(Some(p[c]));
                        }
                    }
                }
                None => {
                    for column in values.iter_mut() {
                        column.push(None);
                    }
                }
            }
        }
        for (name, column) in names.iter().zip(values) {
            columns.push(Column::new(name.as_str().into(), column));
        }
    }
    columns
}

/// The most cells (rows × columns) a computed table may have (about 800 MB of numbers).
pub const MAX_TABLE_CELLS: usize = 100_000_000;

/// Refuses, before computing it, a table of `rows` × `columns` numbers larger than
/// [`MAX_TABLE_CELLS`].
pub fn check_table_size(rows: usize, columns: usize, what: &str) -> Result<(), PredictionError> {
    let cells = rows as u128 * columns as u128;
    if cells > MAX_TABLE_CELLS as u128 {
        return Err(PredictionError::TooLarge(format!(
            "the {what} table would have {} rows × {} columns ({} of numbers), more than irtlab writes; choose fewer rows (a coarser θ grid) or fewer items",
            crate::text::count(rows),
            crate::text::count(columns),
            crate::text::human_bytes(cells as f64 * 8.0)
        )));
    }
    Ok(())
}

/// Number of probability columns of `items` (one per right/wrong item, one per category
/// otherwise).
pub fn probability_columns_count(items: &[ItemParameters]) -> usize {
    items
        .iter()
        .map(|i| {
            if i.n_categories() == 2 {
                1
            } else {
                i.n_categories()
            }
        })
        .sum()
}

/// Category probabilities for every person (at their θ estimate) × item: `id`, then the
/// items' probability columns (see [`probability_column_names`]); empty for persons without a
/// θ.
pub fn person_probabilities_table(
    items: &[ItemParameters],
    scores: &[PersonScore],
) -> Result<DataFrame, PredictionError> {
    check_table_size(
        scores.len(),
        probability_columns_count(items),
        "probabilities",
    )?;
    let mut columns = vec![Column::new(
        "id".into(),
        scores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
    )];
    let thetas: Vec<Option<f64>> = scores.iter().map(|s| s.theta).collect();
    columns.extend(probability_columns(items, &thetas));
    frame(scores.len(), columns)
}

/// Category probabilities over a θ grid: `theta`, then the items' probability columns.
pub fn grid_probabilities_table(
    items: &[ItemParameters],
    thetas: &[f64],
) -> Result<DataFrame, PredictionError> {
    check_table_size(
        thetas.len(),
        probability_columns_count(items),
        "probabilities",
    )?;
    let mut columns = vec![Column::new("theta".into(), thetas.to_vec())];
    let thetas: Vec<Option<f64>> = thetas.iter().map(|t| Some(*t)).collect();
    columns.extend(probability_columns(items, &thetas));
    frame(thetas.len(), columns)
}

/// Expected item scores (`Σ k·P_k`) per person: `id`, then one column per item.
pub fn expected_scores_table(
    items: &[ItemParameters],
    scores: &[PersonScore],
) -> Result<DataFrame, PredictionError> {
    check_table_size(scores.len(), items.len(), "expected scores")?;
    let mut columns = vec![Column::new(
        "id".into(),
        scores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
    )];
    for item in items {
        columns.push(Column::new(
            item.item.as_str().into(),
            scores
                .iter()
                .map(|s| s.theta.map(|t| item.expected_score(t)))
                .collect::<Vec<_>>(),
        ));
    }
    frame(scores.len(), columns)
}

/// Expected item scores over a θ grid: `theta`, then one column per item.
pub fn grid_expected_scores_table(
    items: &[ItemParameters],
    thetas: &[f64],
) -> Result<DataFrame, PredictionError> {
    check_table_size(thetas.len(), items.len(), "expected scores")?;
    let mut columns = vec![Column::new("theta".into(), thetas.to_vec())];
    for item in items {
        columns.push(Column::new(
            item.item.as_str().into(),
            thetas
                .iter()
                .map(|&t| item.expected_score(t))
                .collect::<Vec<_>>(),
        ));
    }
    frame(thetas.len(), columns)
}

/// The most points a θ grid may have.
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// An evenly spaced θ grid from `from` to `to` (inclusive, within rounding) by `step`.
pub fn theta_grid(from: f64, to: f64, step: f64) -> Result<Vec<f64>, PredictionError> {
    let bad = |reason: &str| {
        PredictionError::InvalidSetting(format!("θ grid {from}:{to}:{step} {reason}"))
    };
    if !(from.is_finite() && to.is_finite() && step.is_finite()) {
        return Err(bad("must have finite numbers"));
    }
    if step <= 0.0 || to < from {
        return Err(bad("must run upward with a positive step"));
    }
    if from.abs() > 1e6 || to.abs() > 1e6 {
        return Err(bad("is outside ±1,000,000"));
    }
    // Counted in floating point first, so a huge range cannot overflow the conversion.
    let count = ((to - from) / step + 1e-9).floor() + 1.0;
    if !count.is_finite() || count > MAX_GRID_POINTS as f64 {
        return Err(bad(&format!(
            "has {} points; at most {MAX_GRID_POINTS}",
            if count.is_finite() {
                format!("{count:.0}")
            } else {
                "too many".into()
            }
        )));
    }
    let count = count as usize;
    // Rounded to 10 decimals so −4 + 0.1·k prints as −3.9, not −3.9000000000000004.
    Ok((0..count)
        .map(|k| ((from + step * k as f64) * 1e10).round() / 1e10)
        .collect())
}

/// Parses `FROM:TO:STEP` (e.g. `-4:4:0.1`).
pub fn parse_theta_grid(text: &str) -> Result<Vec<f64>, PredictionError> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || {
        PredictionError::InvalidSetting(format!(
            "θ grid {} must be FROM:TO:STEP, e.g. -4:4:0.1",
            crate::text::quoted(text)
        ))
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
    theta_grid(number(parts[0])?, number(parts[1])?, number(parts[2])?)
}

/// Reads item parameters from a table in the items-table layout: `item`, and the IRT form
/// (`a`, `b` or `b1…`, `d` or `d1…`, `c`, `u`, `ak0…`); `model` (default: `3pl` when a `c` is
/// given and positive, `2pl` otherwise) and `categories` (default `0|1`) are optional. Other
/// columns (standard errors, statistics) are ignored, so an items table written by
/// `irtlab fit` reads back. `scaling` is the D of the table's `a`.
pub fn items_from_table(
    frame: &DataFrame,
    scaling: f64,
) -> Result<Vec<ItemParameters>, PredictionError> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let available = || super::responses::shorten_list(&names);
    let text_column = |name: &str| -> Result<Option<Vec<Option<String>>>, PredictionError> {
        let Ok(column) = frame.column(name) else {
            return Ok(None);
        };
        let series = column
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?;
        let values = series
            .str()
            .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?
            .iter()
            .map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
            .collect();
        Ok(Some(values))
    };
    let number_column = |name: &str| -> Result<Option<Vec<Option<f64>>>, PredictionError> {
        let Ok(column) = frame.column(name) else {
            return Ok(None);
        };
        let series = column.as_materialized_series();
        let as_float = series
            .cast(&DataType::Float64)
            .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?;
        if as_float.null_count() > series.null_count() {
            return Err(PredictionError::Data(format!(
                "column \"{name}\" has values that are not numbers"
            )));
        }
        Ok(Some(
            as_float
                .f64()
                .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?
                .iter()
                .collect(),
        ))
    };
    let item_names = text_column("item")?.ok_or_else(|| PredictionError::ColumnNotFound {
        column: "item".into(),
        available: available(),
    })?;
    let models = text_column("model")?;
    let categories = text_column("categories")?;
    let a = number_column("a")?;
    let c = number_column("c")?;
    let u = number_column("u")?;
    let single_b = number_column("b")?;
    let single_d = number_column("d")?;
    let numbered = |prefix: &str, from: usize| -> Result<Vec<Vec<Option<f64>>>, PredictionError> {
        let mut out = Vec::new();
        let mut k = from;
        while let Some(column) = number_column(&format!("{prefix}{k}"))? {
            out.push(column);
            k += 1;
        }
        Ok(out)
    };
    let b_steps = numbered("b", 1)?;
    let d_steps = numbered("d", 1)?;
    let ak = numbered("ak", 0)?;
    if a.is_none() && models.is_none() {
        return Err(PredictionError::ColumnNotFound {
            column: "a".into(),
            available: available(),
        });
    }
    if single_b.is_none() && single_d.is_none() && b_steps.is_empty() && d_steps.is_empty() {
        return Err(PredictionError::ColumnNotFound {
            column: "b".into(),
            available: available(),
        });
    }
    let mut items = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let at = |column: &Option<Vec<Option<f64>>>| column.as_ref().and_then(|v| v[row]);
        let name = item_names[row].clone().ok_or_else(|| {
            PredictionError::Data(format!("row {}: the item name is empty", row + 1))
        })?;
        let row_error = |message: String| {
            PredictionError::Data(format!(
                "row {} (item {}): {message}",
                row + 1,
                crate::text::quoted(&name)
            ))
        };
        let labels = match categories.as_ref().and_then(|c| c[row].clone()) {
            Some(text) => parse_categories(&text),
            None => vec!["0".to_string(), "1".to_string()],
        };
        let model = match models.as_ref().and_then(|m| m[row].clone()) {
            Some(text) => ItemType::parse(&text).ok_or_else(|| {
                row_error(format!("unknown model {}", crate::text::quoted(&text)))
            })?,
            None if at(&c).is_some_and(|c| c > 0.0) => ItemType::ThreePl,
            None if labels.len() > 2 => ItemType::Graded,
            None => ItemType::TwoPl,
        };
        let take = |columns: &[Vec<Option<f64>>]| -> Vec<f64> {
            columns.iter().map_while(|c| c[row]).collect()
        };
        let mut b: Vec<f64> = take(&b_steps);
        if b.is_empty() {
            b.extend(at(&single_b));
        }
        let mut d: Vec<f64> = take(&d_steps);
        if d.is_empty() {
            d.extend(at(&single_d));
        }
        let form = IrtForm {
            a: at(&a),
            b,
            d,
            c: at(&c),
            u: at(&u),
            ak: take(&ak),
        };
        let item = ItemParameters::from_irt(name.clone(), model, labels, &form, scaling)
            .map_err(PredictionError::Data)?;
        items.push(item);
    }
    if items.is_empty() {
        return Err(PredictionError::Data(
            "the item-parameter table has no rows".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for item in &items {
        if !seen.insert(item.item.as_str()) {
            return Err(PredictionError::Data(format!(
                "the item-parameter table lists item {} twice",
                crate::text::quoted(&item.item)
            )));
        }
    }
    Ok(items)
}

/// Reads θ values from a table with a `theta` column and optionally an `id` column (row
/// numbers otherwise); empty θ cells stay empty. A scores table written by `irtlab fit` reads
/// back.
pub fn scores_from_table(frame: &DataFrame) -> Result<Vec<PersonScore>, PredictionError> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let theta_column = frame
        .column("theta")
        .map_err(|_| PredictionError::ColumnNotFound {
            column: "theta".into(),
            available: super::responses::shorten_list(&names),
        })?
        .as_materialized_series();
    let thetas = theta_column
        .cast(&DataType::Float64)
        .map_err(|e| PredictionError::Data(format!("column \"theta\": {e}")))?;
    if thetas.null_count() > theta_column.null_count() {
        return Err(PredictionError::Data(
            "column \"theta\" has values that are not numbers".into(),
        ));
    }
    let ids: Vec<String> = match frame.column("id") {
        Ok(column) => column
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(|e| PredictionError::Data(format!("column \"id\": {e}")))?
            .str()
            .map_err(|e| PredictionError::Data(format!("column \"id\": {e}")))?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        Err(_) => (1..=frame.height()).map(|i| i.to_string()).collect(),
    };
    let thetas = thetas
        .f64()
        .map_err(|e| PredictionError::Data(format!("column \"theta\": {e}")))?;
    Ok(ids
        .into_iter()
        .zip(thetas.iter())
        .map(|(id, theta)| PersonScore {
            id,
            theta: theta.filter(|t| t.is_finite()),
            theta_se: None,
            n_answered: 0,
            sum_score: 0,
            flag: None,
        })
        .collect())
}

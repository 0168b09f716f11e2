//! The tables the prediction stage produces, as DataFrames ready for export: item parameters,
//! person scores, P(correct) per person × item and over a θ grid; and reading a user's
//! item-parameter table.

use polars::prelude::{Column, DataFrame, DataType};

use super::PredictionError;
use super::classical::ClassicalStatistics;
use super::estimation::Calibration;
use super::model::ItemParameters;
use super::scoring::PersonScore;

fn frame(height: usize, columns: Vec<Column>) -> Result<DataFrame, PredictionError> {
    DataFrame::new(height, columns).map_err(|e| PredictionError::Data(e.to_string()))
}

/// The items table: `item,a,b,c,d,a_se,b_se,c_se,p_value,n,item_rest_r`; empty cells where a
/// parameter is fixed or an SE is unavailable. Items left out of the fit are not listed.
pub fn items_table(
    calibration: &Calibration,
    classical: &ClassicalStatistics,
) -> Result<DataFrame, PredictionError> {
    let items = &calibration.items;
    let stats = |name: &str| classical.items.iter().find(|s| s.item == name);
    let fixed_c = calibration.settings.model != super::model::ModelKind::ThreePl;
    let columns = vec![
        Column::new(
            "item".into(),
            items.iter().map(|i| i.item.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("a".into(), items.iter().map(|i| i.a).collect::<Vec<_>>()),
        Column::new("b".into(), items.iter().map(|i| i.b).collect::<Vec<_>>()),
        Column::new(
            "c".into(),
            items
                .iter()
                .map(|i| (!fixed_c).then_some(i.c))
                .collect::<Vec<_>>(),
        ),
        Column::new("d".into(), items.iter().map(|i| i.d).collect::<Vec<_>>()),
        Column::new(
            "a_se".into(),
            items.iter().map(|i| i.a_se).collect::<Vec<_>>(),
        ),
        Column::new(
            "b_se".into(),
            items.iter().map(|i| i.b_se).collect::<Vec<_>>(),
        ),
        Column::new(
            "c_se".into(),
            items.iter().map(|i| i.c_se).collect::<Vec<_>>(),
        ),
        Column::new(
            "p_value".into(),
            items
                .iter()
                .map(|i| stats(&i.item).and_then(|s| s.p_value))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "n".into(),
            items
                .iter()
                .map(|i| stats(&i.item).map(|s| s.n as u64))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "item_rest_r".into(),
            items
                .iter()
                .map(|i| stats(&i.item).and_then(|s| s.item_rest_r))
                .collect::<Vec<_>>(),
        ),
    ];
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

/// P(correct) for every person (at their θ estimate) × item: `id`, then one column per item;
/// empty for persons without a θ.
pub fn person_probabilities_table(
    items: &[ItemParameters],
    scores: &[PersonScore],
    scaling: f64,
) -> Result<DataFrame, PredictionError> {
    let mut columns = Vec::with_capacity(items.len() + 1);
    columns.push(Column::new(
        "id".into(),
        scores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
    ));
    for item in items {
        columns.push(Column::new(
            item.item.as_str().into(),
            scores
                .iter()
                .map(|s| s.theta.map(|t| item.probability(t, scaling)))
                .collect::<Vec<_>>(),
        ));
    }
    frame(scores.len(), columns)
}

/// P(correct) over a θ grid × items: `theta`, then one column per item (the data behind an ICC
/// plot).
pub fn grid_probabilities_table(
    items: &[ItemParameters],
    thetas: &[f64],
    scaling: f64,
) -> Result<DataFrame, PredictionError> {
    let mut columns = Vec::with_capacity(items.len() + 1);
    columns.push(Column::new("theta".into(), thetas.to_vec()));
    for item in items {
        columns.push(Column::new(
            item.item.as_str().into(),
            thetas
                .iter()
                .map(|&t| item.probability(t, scaling))
                .collect::<Vec<_>>(),
        ));
    }
    frame(thetas.len(), columns)
}

/// An evenly spaced θ grid from `from` to `to` (inclusive, within rounding) by `step`.
pub fn theta_grid(from: f64, to: f64, step: f64) -> Result<Vec<f64>, PredictionError> {
    if !(from.is_finite() && to.is_finite() && step.is_finite()) || step <= 0.0 || to < from {
        return Err(PredictionError::InvalidSetting(format!(
            "θ grid {from}:{to}:{step} must run upward with a positive step"
        )));
    }
    let count = ((to - from) / step + 1e-9).floor() as usize + 1;
    if count > 1_000_000 {
        return Err(PredictionError::InvalidSetting(format!(
            "θ grid {from}:{to}:{step} has {count} points; at most 1,000,000"
        )));
    }
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
            "θ grid \"{text}\" must be FROM:TO:STEP, e.g. -4:4:0.1"
        ))
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
    theta_grid(number(parts[0])?, number(parts[1])?, number(parts[2])?)
}

/// Reads item parameters from a table with columns `item`, `a`, `b` and optionally `c`
/// (0 when absent or empty). Other columns (SEs, statistics) are ignored, so an items table
/// written by `irtlab fit` reads back.
pub fn items_from_table(frame: &DataFrame) -> Result<Vec<ItemParameters>, PredictionError> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let column = |name: &str| {
        frame
            .column(name)
            .map_err(|_| PredictionError::ColumnNotFound {
                column: name.to_string(),
                available: names.join(", "),
            })
    };
    let item_names: Vec<String> = column("item")?
        .as_materialized_series()
        .cast(&DataType::String)
        .map_err(|e| PredictionError::Data(format!("column \"item\": {e}")))?
        .str()
        .map_err(|e| PredictionError::Data(format!("column \"item\": {e}")))?
        .iter()
        .enumerate()
        .map(|(row, v)| {
            v.map(str::to_string).ok_or_else(|| {
                PredictionError::Data(format!("row {}: the item name is empty", row + 1))
            })
        })
        .collect::<Result<_, _>>()?;
    let numbers = |name: &str, default: Option<f64>| -> Result<Vec<f64>, PredictionError> {
        let Ok(col) = column(name) else {
            return match default {
                Some(value) => Ok(vec![value; frame.height()]),
                None => Err(PredictionError::ColumnNotFound {
                    column: name.to_string(),
                    available: names.join(", "),
                }),
            };
        };
        let series = col.as_materialized_series();
        let as_float = series
            .cast(&DataType::Float64)
            .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?;
        let original_nulls = series.null_count();
        if as_float.null_count() > original_nulls {
            return Err(PredictionError::Data(format!(
                "column \"{name}\" has values that are not numbers"
            )));
        }
        as_float
            .f64()
            .map_err(|e| PredictionError::Data(format!("column \"{name}\": {e}")))?
            .iter()
            .enumerate()
            .map(|(row, v)| match (v, default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(PredictionError::Data(format!(
                    "row {} (item \"{}\"): column \"{name}\" is empty",
                    row + 1,
                    item_names[row]
                ))),
            })
            .collect()
    };
    let a = numbers("a", None)?;
    let b = numbers("b", None)?;
    let c = numbers("c", Some(0.0))?;
    let items: Vec<ItemParameters> = item_names
        .into_iter()
        .zip(a.into_iter().zip(b).zip(c))
        .map(|(item, ((a, b), c))| ItemParameters { item, a, b, c })
        .collect();
    for item in &items {
        item.validate().map_err(PredictionError::Data)?;
    }
    if items.is_empty() {
        return Err(PredictionError::Data(
            "the item-parameter table has no rows".into(),
        ));
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
            available: names.join(", "),
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

/// A table of given item parameters: `item,a,b,c,d` (d = −D·a·b), e.g. parameters entered by
/// hand, in the same layout as the fitted items table's first columns.
pub fn parameters_table(
    items: &[ItemParameters],
    scaling: f64,
) -> Result<DataFrame, PredictionError> {
    let columns = vec![
        Column::new(
            "item".into(),
            items.iter().map(|i| i.item.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("a".into(), items.iter().map(|i| i.a).collect::<Vec<_>>()),
        Column::new("b".into(), items.iter().map(|i| i.b).collect::<Vec<_>>()),
        Column::new("c".into(), items.iter().map(|i| i.c).collect::<Vec<_>>()),
        Column::new(
            "d".into(),
            items
                .iter()
                .map(|i| i.intercept(scaling))
                .collect::<Vec<_>>(),
        ),
    ];
    frame(items.len(), columns)
}

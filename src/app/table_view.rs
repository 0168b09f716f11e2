//! A virtualised view of a DataFrame: only the visible rows are formatted, so a table of
//! millions of rows scrolls as smoothly as a small one.

use eframe::egui;
use egui_extras::{Column, TableBuilder};
use polars::prelude::{AnyValue, DataFrame};

/// How many columns a preview shows at most (the rest are counted in a note).
const MAX_COLUMNS: usize = 200;

fn format_value(value: AnyValue<'_>) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Float64(x) => format_number(x),
        AnyValue::Float32(x) => format_number(f64::from(x)),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// A number with up to four decimals, trailing zeros trimmed.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        return format!("{x:.0}");
    }
    let text = format!("{x:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Draws `frame` as a scrollable table with a header of column names and types.
pub fn dataframe_table_ui(ui: &mut egui::Ui, id: &str, frame: &DataFrame, highlight: &[String]) {
    let columns: Vec<&polars::prelude::Column> = frame.columns().iter().take(MAX_COLUMNS).collect();
    if frame.width() > MAX_COLUMNS {
        ui.weak(format!(
            "Showing the first {MAX_COLUMNS} of {} columns.",
            frame.width()
        ));
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    ui.push_id(id, |ui| {
        egui::ScrollArea::horizontal().show(ui, |ui| {
            TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .min_scrolled_height(120.0)
                .max_scroll_height(f32::INFINITY)
                .column(Column::auto().at_least(48.0))
                .columns(
                    Column::initial(96.0).at_least(40.0).clip(true),
                    columns.len(),
                )
                .header(row_height * 2.0, |mut header| {
                    header.col(|ui| {
                        ui.weak("row");
                    });
                    for column in &columns {
                        header.col(|ui| {
                            ui.vertical(|ui| {
                                let name = column.name().as_str();
                                if highlight.iter().any(|h| h == name) {
                                    ui.colored_label(ui.visuals().hyperlink_color, name);
                                } else {
                                    ui.strong(name);
                                }
                                ui.weak(column.dtype().to_string());
                            });
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_height, frame.height(), |mut row| {
                        let index = row.index();
                        row.col(|ui| {
                            ui.weak((index + 1).to_string());
                        });
                        for column in &columns {
                            row.col(|ui| {
                                let text = column.get(index).map(format_value).unwrap_or_default();
                                ui.label(text);
                            });
                        }
                    });
                });
        });
    });
}

//! Tables: virtualised (only the visible rows are formatted, so a million rows scroll as
//! smoothly as ten), scrolling both ways, with copying the way a spreadsheet user expects —
//! right-click a cell to copy the cell, its row, its column or the whole table as tab-separated
//! text; click rows to select them and Ctrl+C copies the selection.

use std::collections::BTreeSet;

use eframe::egui;
use egui_extras::{Column, TableBuilder};
use polars::prelude::{AnyValue, DataFrame};

/// How many columns a preview shows at most (the rest are counted in a note).
const MAX_COLUMNS: usize = 200;

/// A value as shown in a table.
pub fn format_value(value: AnyValue<'_>) -> String {
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

/// What a table shows.
pub struct TableSpec<'a> {
    /// A unique id.
    pub id: &'a str,
    /// Column headers.
    pub headers: Vec<String>,
    /// A second header line per column (types), may be empty.
    pub subheaders: Vec<String>,
    /// Number of rows.
    pub rows: usize,
    /// The text of a cell.
    pub cell: &'a dyn Fn(usize, usize) -> String,
    /// A colour for a row (flagged rows), if any.
    pub row_color: Option<&'a dyn Fn(usize) -> Option<egui::Color32>>,
    /// Columns drawn highlighted.
    pub highlight: &'a [usize],
    /// Columns whose header is a sort button, with the current sort (column, descending).
    pub sortable: Option<&'a [usize]>,
    /// The current sort.
    pub sort: Option<(usize, bool)>,
    /// Show a leading row-number column.
    pub row_numbers: bool,
    /// The most height the table takes (it scrolls within).
    pub max_height: f32,
}

/// What happened in a table this frame.
#[derive(Default)]
pub struct TableResponse {
    /// A sortable header was clicked.
    pub sort_clicked: Option<usize>,
    /// A row was clicked.
    pub row_clicked: Option<usize>,
}

fn tsv_escape(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// The rows (all when `rows` is `None`) of a table as tab-separated text with a header line.
fn tsv(spec: &TableSpec<'_>, rows: Option<&BTreeSet<usize>>, columns: Option<usize>) -> String {
    let cols: Vec<usize> = match columns {
        Some(c) => vec![c],
        None => (0..spec.headers.len()).collect(),
    };
    let mut out = cols
        .iter()
        .map(|&c| tsv_escape(&spec.headers[c]))
        .collect::<Vec<_>>()
        .join("\t");
    out.push('\n');
    let mut push_row = |r: usize| {
        let line: Vec<String> = cols
            .iter()
            .map(|&c| tsv_escape(&(spec.cell)(r, c)))
            .collect();
        out.push_str(&line.join("\t"));
        out.push('\n');
    };
    match rows {
        Some(rows) => rows.iter().for_each(|&r| push_row(r)),
        None => (0..spec.rows).for_each(&mut push_row),
    }
    out
}

/// Draws a table.
pub fn table_ui(ui: &mut egui::Ui, spec: TableSpec<'_>) -> TableResponse {
    let mut response = TableResponse::default();
    let selection_id = egui::Id::unique(("table selection", spec.id));
    let mut selected: BTreeSet<usize> = ui.data(|d| d.get_temp(selection_id)).unwrap_or_default();
    selected.retain(|&r| r < spec.rows);
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let header_height = if spec.subheaders.is_empty() {
        row_height
    } else {
        row_height * 2.0
    };
    let mut copy: Option<String> = None;
    ui.push_id(spec.id, |ui| {
        egui::ScrollArea::horizontal()
            .id_salt("horizontal")
            .show(ui, |ui| {
                let mut builder = TableBuilder::new(ui)
                    .striped(true)
                    .resizable(true)
                    .sense(egui::Sense::click())
                    .min_scrolled_height(80.0_f32.min(spec.max_height))
                    .max_scroll_height(spec.max_height);
                if spec.row_numbers {
                    builder = builder.column(Column::auto().at_least(40.0));
                }
                builder = builder.columns(
                    Column::auto().at_least(56.0).at_most(320.0).clip(true),
                    spec.headers.len(),
                );
                builder
                    .header(header_height, |mut header| {
                        if spec.row_numbers {
                            header.col(|ui| {
                                ui.weak("row");
                            });
                        }
                        for (c, name) in spec.headers.iter().enumerate() {
                            header.col(|ui| {
                                ui.vertical(|ui| {
                                    let sortable = spec.sortable.is_some_and(|s| s.contains(&c));
                                    if sortable {
                                        let arrow = match spec.sort {
                                            Some((column, true)) if column == c => " ▼",
                                            Some((column, false)) if column == c => " ▲",
                                            _ => "",
                                        };
                                        if ui
                                            .button(format!("{name}{arrow}"))
                                            .on_hover_text(format!("Sort by {name}"))
                                            .clicked()
                                        {
                                            response.sort_clicked = Some(c);
                                        }
                                    } else if spec.highlight.contains(&c) {
                                        ui.colored_label(ui.visuals().hyperlink_color, name);
                                    } else {
                                        ui.strong(name);
                                    }
                                    if let Some(sub) = spec.subheaders.get(c) {
                                        ui.weak(sub);
                                    }
                                });
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(row_height, spec.rows, |mut row| {
                            let r = row.index();
                            row.set_selected(selected.contains(&r));
                            let color = spec.row_color.and_then(|f| f(r));
                            if spec.row_numbers {
                                row.col(|ui| {
                                    ui.weak((r + 1).to_string());
                                });
                            }
                            for c in 0..spec.headers.len() {
                                let (_, cell_response) = row.col(|ui| {
                                    let text = (spec.cell)(r, c);
                                    let text = match color {
                                        Some(color) => egui::RichText::new(text).color(color),
                                        None => egui::RichText::new(text),
                                    };
                                    // Not selectable: a click or right-click on the text is
                                    // the cell's (row selection, the copy menu).
                                    ui.add(egui::Label::new(text).selectable(false));
                                });
                                cell_response.context_menu(|ui| {
                                    if ui.button("Copy cell").clicked() {
                                        copy = Some((spec.cell)(r, c));
                                        ui.close();
                                    }
                                    if ui.button("Copy row").clicked() {
                                        copy = Some(tsv(&spec, Some(&BTreeSet::from([r])), None));
                                        ui.close();
                                    }
                                    if ui.button("Copy column").clicked() {
                                        copy = Some(tsv(&spec, None, Some(c)));
                                        ui.close();
                                    }
                                    if ui.button("Copy table").clicked() {
                                        copy = Some(tsv(&spec, None, None));
                                        ui.close();
                                    }
                                });
                            }
                            let row_response = row.response();
                            if row_response.clicked() {
                                let modifiers = row_response.ctx.input(|i| i.modifiers);
                                if modifiers.command || modifiers.shift {
                                    if !selected.remove(&r) {
                                        selected.insert(r);
                                    }
                                } else {
                                    selected = BTreeSet::from([r]);
                                }
                                response.row_clicked = Some(r);
                            }
                        });
                    });
            });
        // Ctrl+C copies the selected rows while the pointer is over this table.
        let over = ui.ui_contains_pointer();
        if over
            && !selected.is_empty()
            && ui.input(|i| i.events.iter().any(|e| matches!(e, egui::Event::Copy)))
        {
            copy = Some(tsv(&spec, Some(&selected), None));
        }
    });
    ui.data_mut(|d| d.insert_temp(selection_id, selected));
    if let Some(text) = copy {
        ui.ctx().copy_text(text);
    }
    response
}

/// Draws a DataFrame as a table, with column types under the names.
pub fn dataframe_table_ui(
    ui: &mut egui::Ui,
    id: &str,
    frame: &DataFrame,
    highlight: &[String],
    max_height: f32,
) {
    let columns: Vec<&polars::prelude::Column> = frame.columns().iter().take(MAX_COLUMNS).collect();
    if frame.width() > MAX_COLUMNS {
        ui.weak(format!(
            "Showing the first {MAX_COLUMNS} of {} columns.",
            frame.width()
        ));
    }
    let headers: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    let subheaders: Vec<String> = columns.iter().map(|c| c.dtype().to_string()).collect();
    let highlighted: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| highlight.contains(h))
        .map(|(i, _)| i)
        .collect();
    let cell = |r: usize, c: usize| columns[c].get(r).map(format_value).unwrap_or_default();
    table_ui(
        ui,
        TableSpec {
            id,
            headers,
            subheaders,
            rows: frame.height(),
            cell: &cell,
            row_color: None,
            highlight: &highlighted,
            sortable: None,
            sort: None,
            row_numbers: true,
            max_height,
        },
    );
}

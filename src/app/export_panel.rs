//! The Export panel: choose a table (probabilities per person × item, over a θ grid, item
//! parameters, person scores, the clean response matrix) and a format (CSV, Parquet, SQLite
//! table); the native save dialog picks the file. Writes are atomic (the library's).

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use polars::prelude::DataFrame;

use super::{Action, IrtlabApp, ParameterSource};
use crate::export::TableFormat;
use crate::prediction::tables;

/// The tables that can be exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExportTable {
    /// P(correct) per person × item.
    #[default]
    PersonProbabilities,
    /// P(correct) over a θ grid × item.
    GridProbabilities,
    /// Item parameters.
    ItemParameters,
    /// Person scores.
    PersonScores,
    /// The response matrix after preprocessing.
    CleanData,
}

impl ExportTable {
    const ALL: [ExportTable; 5] = [
        ExportTable::PersonProbabilities,
        ExportTable::GridProbabilities,
        ExportTable::ItemParameters,
        ExportTable::PersonScores,
        ExportTable::CleanData,
    ];

    fn label(self) -> &'static str {
        match self {
            ExportTable::PersonProbabilities => "Probabilities per person × item",
            ExportTable::GridProbabilities => "Probabilities over a θ grid",
            ExportTable::ItemParameters => "Item parameters",
            ExportTable::PersonScores => "Person scores",
            ExportTable::CleanData => "Clean response matrix",
        }
    }

    /// A default file (and SQLite table) name.
    pub fn file_stem(self) -> &'static str {
        match self {
            ExportTable::PersonProbabilities => "probabilities",
            ExportTable::GridProbabilities => "probabilities_grid",
            ExportTable::ItemParameters => "items",
            ExportTable::PersonScores => "scores",
            ExportTable::CleanData => "responses",
        }
    }
}

/// State of the export panel.
#[derive(Clone, Debug)]
pub struct ExportState {
    /// The table.
    pub table: ExportTable,
    /// The format.
    pub format: TableFormat,
    /// θ grid: from, to, step.
    pub grid: [f64; 3],
    /// SQLite table name.
    pub sqlite_table: String,
    /// Replace an existing SQLite table.
    pub replace_table: bool,
    /// The last file written.
    pub last_written: Option<PathBuf>,
    /// The preview table and what it was built from (rebuilt only when that changes).
    preview: Option<(String, Result<Arc<DataFrame>, String>)>,
}

impl Default for ExportState {
    fn default() -> Self {
        ExportState {
            table: ExportTable::default(),
            format: TableFormat::Csv,
            grid: [-4.0, 4.0, 0.1],
            sqlite_table: ExportTable::default().file_stem().into(),
            replace_table: false,
            last_written: None,
            preview: None,
        }
    }
}

/// Builds the chosen table from the app's current results.
pub fn build_table(app: &IrtlabApp) -> Result<DataFrame, String> {
    let (items, scaling) = app.current_items();
    let needs_items = || {
        if items.is_empty() {
            Err("no item parameters yet: fit a model or enter parameters first".to_string())
        } else {
            Ok(())
        }
    };
    let scores = || {
        app.current_scores().ok_or_else(|| {
            "no person scores yet: fit a model (or score with entered parameters) first".to_string()
        })
    };
    let table = match app.export.table {
        ExportTable::PersonProbabilities => {
            needs_items()?;
            tables::person_probabilities_table(&items, &scores()?)
        }
        ExportTable::GridProbabilities => {
            needs_items()?;
            let [from, to, step] = app.export.grid;
            let grid = tables::theta_grid(from, to, step).map_err(|e| e.to_string())?;
            tables::grid_probabilities_table(&items, &grid)
        }
        ExportTable::ItemParameters => match (&app.prediction.source, &app.prediction.analysis) {
            (ParameterSource::Fitted, Some(analysis)) => analysis.items_table(),
            _ => {
                needs_items()?;
                tables::parameters_table(&items, scaling)
            }
        },
        ExportTable::PersonScores => tables::scores_table(&scores()?),
        ExportTable::CleanData => match app.processed.as_ref().map(|p| &p.matrix) {
            Some(Ok(matrix)) => matrix.to_dataframe(),
            Some(Err(error)) => return Err(error.clone()),
            None => return Err("no data prepared yet".into()),
        },
    };
    table.map_err(|e| e.to_string())
}

/// What the preview depends on: the table, the grid, and the results behind them.
fn preview_key(app: &IrtlabApp) -> String {
    let analysis = app.prediction.analysis.as_ref().map(Arc::as_ptr);
    let matrix = app
        .processed
        .as_ref()
        .and_then(|p| p.matrix.as_ref().ok())
        .map(Arc::as_ptr);
    let entered = app.prediction.entered_scores.as_ref().map(Arc::as_ptr);
    format!(
        "{:?} {:?} {:?} {analysis:?} {matrix:?} {entered:?} {:?} {}",
        app.export.table,
        app.export.grid,
        app.prediction.source,
        app.prediction.entered,
        app.prediction.entered_scaling
    )
}

/// Draws the panel.
pub fn export_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let mut action = Action::None;
    ui.heading("Export");
    let state = &mut app.export;
    egui::Grid::new("export")
        .num_columns(2)
        .spacing([16.0, 8.0])
        .show(ui, |ui| {
            ui.label("Table");
            ui.vertical(|ui| {
                for table in ExportTable::ALL {
                    if ui
                        .radio_value(&mut state.table, table, table.label())
                        .changed()
                    {
                        state.sqlite_table = table.file_stem().into();
                    }
                }
            });
            ui.end_row();
            if state.table == ExportTable::GridProbabilities {
                ui.label("θ grid");
                ui.horizontal(|ui| {
                    ui.label("from");
                    ui.add(
                        egui::DragValue::new(&mut state.grid[0])
                            .speed(0.1)
                            .range(-20.0..=20.0),
                    );
                    ui.label("to");
                    ui.add(
                        egui::DragValue::new(&mut state.grid[1])
                            .speed(0.1)
                            .range(-20.0..=20.0),
                    );
                    ui.label("step");
                    ui.add(
                        egui::DragValue::new(&mut state.grid[2])
                            .speed(0.01)
                            .range(0.001..=10.0),
                    );
                });
                ui.end_row();
            }
            ui.label("Format");
            ui.horizontal(|ui| {
                for format in TableFormat::ALL {
                    ui.radio_value(&mut state.format, format, format.label());
                }
            });
            ui.end_row();
            if state.format == TableFormat::Sqlite {
                ui.label("Table name");
                ui.text_edit_singleline(&mut state.sqlite_table);
                ui.end_row();
                ui.label("");
                ui.vertical(|ui| {
                    ui.checkbox(&mut state.replace_table, "Replace the table if it exists");
                });
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    let key = preview_key(app);
    let stale = app.export.preview.as_ref().is_none_or(|(k, _)| *k != key);
    if stale {
        app.export.preview = Some((key, build_table(app).map(Arc::new)));
    }
    let preview = match &app.export.preview {
        Some((_, preview)) => preview.clone(),
        None => Err("no table".into()),
    };
    match &preview {
        Ok(table) => {
            ui.label(format!(
                "{} rows × {} columns",
                super::format_count(table.height()),
                table.width()
            ));
            if ui
                .button(egui::RichText::new("Export…").strong())
                .on_hover_text("Ctrl+E opens this panel")
                .clicked()
            {
                action = Action::Export;
            }
        }
        Err(error) => {
            ui.colored_label(ui.visuals().warn_fg_color, error);
        }
    }
    if let Some(path) = &app.export.last_written {
        ui.label(format!("Last written: {}", path.display()));
    }
    if let Ok(table) = &preview {
        ui.separator();
        super::table_view::dataframe_table_ui(ui, "export preview", table, &[]);
    }
    action
}

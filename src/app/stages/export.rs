//! The Export stage: choose a table — category probabilities or expected item scores per
//! person or over a θ grid, item parameters, person scores, the clean response matrix — and a
//! format (CSV, Parquet, SQLite table); File → Export… (Ctrl+E) or the button asks for the
//! file. The table is built and written in the background, through the library's output set:
//! the data source is never overwritten and a file appears whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use polars::prelude::DataFrame;

use super::{AppEvent, StageContext, StageId, StagePart, StageStatus};
use crate::app::JobOutput;
use crate::app::commands::{Command, CommandId};
use crate::app::dialogs::DialogPurpose;
use crate::app::jobs::{JobError, JobKind, JobQueue};
use crate::app::state::{AppState, Inputs, ParameterSource};
use crate::app::table_view::dataframe_table_ui;
use crate::export::{Destination, OutputSet, TableFormat};
use crate::prediction::{Analysis, ItemParameters, PersonScore, ResponseMatrix, tables};
use crate::text::count;

/// The tables that can be exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExportTable {
    /// Category probabilities per person × item.
    #[default]
    PersonProbabilities,
    /// Category probabilities over a θ grid × item.
    GridProbabilities,
    /// Expected item scores per person × item.
    PersonExpected,
    /// Expected item scores over a θ grid × item.
    GridExpected,
    /// Item parameters.
    ItemParameters,
    /// Person scores.
    PersonScores,
    /// The response matrix after preprocessing.
    CleanData,
}

impl ExportTable {
    /// Every table, in the panel's order.
    pub const ALL: [ExportTable; 7] = [
        ExportTable::PersonProbabilities,
        ExportTable::GridProbabilities,
        ExportTable::PersonExpected,
        ExportTable::GridExpected,
        ExportTable::ItemParameters,
        ExportTable::PersonScores,
        ExportTable::CleanData,
    ];

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            ExportTable::PersonProbabilities => "Probabilities per person × item",
            ExportTable::GridProbabilities => "Probabilities over a θ grid",
            ExportTable::PersonExpected => "Expected item scores per person × item",
            ExportTable::GridExpected => "Expected item scores over a θ grid",
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
            ExportTable::PersonExpected => "expected_scores",
            ExportTable::GridExpected => "expected_scores_grid",
            ExportTable::ItemParameters => "items",
            ExportTable::PersonScores => "scores",
            ExportTable::CleanData => "responses",
        }
    }

    fn uses_grid(self) -> bool {
        matches!(
            self,
            ExportTable::GridProbabilities | ExportTable::GridExpected
        )
    }
}

/// Everything a table is built from, owned, so that it can be built on a job thread.
#[derive(Clone)]
pub struct TableInputs {
    items: Vec<ItemParameters>,
    scaling: f64,
    scores: Option<Arc<Vec<PersonScore>>>,
    analysis: Option<Arc<Analysis>>,
    matrix: Result<Arc<ResponseMatrix>, String>,
    grid: [f64; 3],
}

impl TableInputs {
    /// The inputs in `state`, with θ grid `grid` (from, to, step).
    pub fn of(state: &AppState, grid: [f64; 3]) -> TableInputs {
        let (items, scaling) = state.results.items();
        let analysis = match state.results.source {
            ParameterSource::Fitted => state.results.fit.as_ref().map(|f| f.analysis.clone()),
            ParameterSource::Entered => None,
        };
        let matrix = match state.data.processed.as_ref().map(|p| &p.matrix) {
            Some(Ok(matrix)) => Ok(matrix.clone()),
            Some(Err(error)) => Err(error.clone()),
            None => Err("no data prepared yet".into()),
        };
        TableInputs {
            items,
            scaling,
            scores: state.results.scores(),
            analysis,
            matrix,
            grid,
        }
    }

    /// Builds `table`; with `limit`, only its first rows (for the preview).
    pub fn build(&self, table: ExportTable, limit: Option<usize>) -> Result<DataFrame, String> {
        let needs_items = || {
            if self.items.is_empty() {
                Err("no item parameters yet: fit a model or enter parameters first".to_string())
            } else {
                Ok(())
            }
        };
        let scores = || -> Result<&[PersonScore], String> {
            let scores = self.scores.as_ref().ok_or_else(|| {
                "no person scores yet: fit a model (or score with entered parameters) first"
                    .to_string()
            })?;
            Ok(match limit {
                Some(n) => &scores[..n.min(scores.len())],
                None => scores,
            })
        };
        let grid = || -> Result<Vec<f64>, String> {
            let [from, to, step] = self.grid;
            let mut grid = tables::theta_grid(from, to, step).map_err(|e| e.to_string())?;
            if let Some(n) = limit {
                grid.truncate(n);
            }
            Ok(grid)
        };
        let table = match table {
            ExportTable::PersonProbabilities => {
                needs_items()?;
                tables::person_probabilities_table(&self.items, scores()?)
            }
            ExportTable::GridProbabilities => {
                needs_items()?;
                tables::grid_probabilities_table(&self.items, &grid()?)
            }
            ExportTable::PersonExpected => {
                needs_items()?;
                tables::expected_scores_table(&self.items, scores()?)
            }
            ExportTable::GridExpected => {
                needs_items()?;
                tables::grid_expected_scores_table(&self.items, &grid()?)
            }
            ExportTable::ItemParameters => match &self.analysis {
                Some(analysis) => analysis.items_table(),
                None => {
                    needs_items()?;
                    tables::parameters_table(&self.items, self.scaling)
                }
            },
            ExportTable::PersonScores => tables::scores_table(scores()?),
            ExportTable::CleanData => {
                let matrix = self.matrix.clone()?;
                match limit {
                    Some(n) if n < matrix.n_persons() => {
                        let persons: Vec<usize> = (0..n).collect();
                        matrix.select_persons(&persons).to_dataframe()
                    }
                    _ => matrix.to_dataframe(),
                }
            }
        };
        table.map_err(|e| e.to_string())
    }

    /// The number of rows the whole table will have.
    pub fn rows(&self, table: ExportTable) -> Option<usize> {
        match table {
            ExportTable::PersonProbabilities
            | ExportTable::PersonExpected
            | ExportTable::PersonScores => self.scores.as_ref().map(|s| s.len()),
            ExportTable::GridProbabilities | ExportTable::GridExpected => {
                let [from, to, step] = self.grid;
                tables::theta_grid(from, to, step).ok().map(|g| g.len())
            }
            ExportTable::ItemParameters => Some(self.items.len()),
            ExportTable::CleanData => self.matrix.as_ref().ok().map(|m| m.n_persons()),
        }
    }
}

const PREVIEW_ROWS: usize = 200;

/// The preview: what it was built from, its first rows (or why there are none), and the whole
/// table's row count.
type Preview = (String, Result<Arc<DataFrame>, String>, Option<usize>);

/// The Export stage.
pub struct Export {
    /// The table.
    pub table: ExportTable,
    /// The format offered first in the dialog.
    pub format: TableFormat,
    /// θ grid: from, to, step.
    pub grid: [f64; 3],
    /// SQLite table name.
    pub sqlite_table: String,
    /// Replace an existing SQLite table.
    pub replace_table: bool,
    /// The last file written.
    pub last_written: Option<PathBuf>,
    preview: Option<Preview>,
}

impl Default for Export {
    fn default() -> Self {
        Export {
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

/// What the preview depends on: the table, the grid, and the results behind them.
fn preview_key(export: &Export, state: &AppState) -> String {
    let fit = state.results.fit.as_ref().map(|f| Arc::as_ptr(&f.analysis));
    let matrix = state.data.matrix().map(Arc::as_ptr);
    let entered = state
        .results
        .entered_scores
        .as_ref()
        .map(|(s, _)| Arc::as_ptr(s));
    format!(
        "{:?} {:?} {:?} {fit:?} {matrix:?} {entered:?} {:?} {}",
        export.table,
        export.grid,
        state.results.source,
        state.results.entered,
        state.results.entered_scaling
    )
}

impl Export {
    /// Starts writing the chosen table to `path` in the background.
    fn export_to(&mut self, ctx: &mut StageContext<'_>, path: &Path) {
        let path = if path.extension().is_none() {
            path.with_extension(self.format.extension())
        } else {
            path.to_path_buf()
        };
        let mut outputs = OutputSet::new(vec![ctx.state.document.source_path()]);
        let destination = Destination::for_path(&path, &self.sqlite_table).map(|mut d| {
            d.replace_table = self.replace_table;
            d
        });
        let checked = destination.and_then(|d| outputs.add(d, self.table.file_stem()));
        if let Err(error) = checked {
            ctx.send(Command::Notify(error.to_string(), true));
            return;
        }
        let inputs = TableInputs::of(ctx.state, self.grid);
        let table = self.table;
        ctx.jobs.replace(
            JobKind::Export,
            format!(
                "Exporting {}",
                crate::text::shorten(&path.display().to_string(), 60)
            ),
            move |sink, cancel| {
                sink.report(0.1, "building the table".into());
                let mut frame = inputs.build(table, None).map_err(JobError::Failed)?;
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(JobError::Cancelled);
                }
                sink.report(0.5, format!("writing {} rows", count(frame.height())));
                outputs
                    .write(std::slice::from_mut(&mut frame))
                    .map_err(|e| JobError::Failed(e.to_string()))?;
                Ok(JobOutput::Exported(path))
            },
        );
    }
}

impl StagePart for Export {
    fn id(&self) -> StageId {
        StageId::Export
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(
        &self,
        _state: &AppState,
        jobs: &JobQueue<JobOutput>,
        _inputs: Inputs,
    ) -> StageStatus {
        if jobs.running(JobKind::Export) {
            return StageStatus::at(super::Level::Busy, "writing…");
        }
        match &self.last_written {
            Some(path) => StageStatus::normal(format!(
                "wrote {}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            )),
            None => StageStatus::normal("nothing written yet"),
        }
    }

    fn on_event(&mut self, event: &AppEvent, _ctx: &mut StageContext<'_>) {
        match event {
            AppEvent::Opened => {
                self.last_written = None;
                self.preview = None;
            }
            AppEvent::Written(path) => self.last_written = Some(path.clone()),
            _ => {}
        }
    }

    fn file_name(&self, purpose: DialogPurpose) -> Option<String> {
        (purpose == DialogPurpose::Export)
            .then(|| format!("{}.{}", self.table.file_stem(), self.format.extension()))
    }

    fn picked(&mut self, purpose: DialogPurpose, path: &Path, ctx: &mut StageContext<'_>) -> bool {
        if purpose != DialogPurpose::Export {
            return false;
        }
        self.export_to(ctx, path);
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.heading("Export");
        egui::Grid::new("export")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                ui.label("Table");
                ui.vertical(|ui| {
                    for table in ExportTable::ALL {
                        if ui
                            .radio_value(&mut self.table, table, table.label())
                            .changed()
                        {
                            self.sqlite_table = table.file_stem().into();
                        }
                    }
                });
                ui.end_row();
                if self.table.uses_grid() {
                    ui.label("θ grid");
                    ui.horizontal_wrapped(|ui| {
                        for (label, index, speed) in
                            [("from", 0, 0.1), ("to", 1, 0.1), ("step", 2, 0.01)]
                        {
                            let label = ui.label(label);
                            let range = if index == 2 {
                                0.001..=10.0
                            } else {
                                -20.0..=20.0
                            };
                            ui.add(
                                egui::DragValue::new(&mut self.grid[index])
                                    .speed(speed)
                                    .range(range),
                            )
                            .labelled_by(label.id);
                        }
                    });
                    ui.end_row();
                }
                ui.label("Format");
                ui.horizontal_wrapped(|ui| {
                    for format in TableFormat::ALL {
                        ui.radio_value(&mut self.format, format, format.label());
                    }
                });
                ui.end_row();
                if self.format == TableFormat::Sqlite {
                    let label = ui.label("Table name");
                    ui.text_edit_singleline(&mut self.sqlite_table)
                        .labelled_by(label.id);
                    ui.end_row();
                    ui.label("");
                    ui.checkbox(&mut self.replace_table, "Replace the table if it exists");
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        let key = preview_key(self, ctx.state);
        if self.preview.as_ref().is_none_or(|(k, _, _)| *k != key) {
            let inputs = TableInputs::of(ctx.state, self.grid);
            let preview = inputs.build(self.table, Some(PREVIEW_ROWS)).map(Arc::new);
            self.preview = Some((key, preview, inputs.rows(self.table)));
        }
        let Some((_, preview, rows)) = self.preview.clone() else {
            return;
        };
        let writing = ctx.jobs.running(JobKind::Export);
        match &preview {
            Ok(table) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label(format!(
                        "{} rows × {} columns",
                        count(rows.unwrap_or(table.height())),
                        table.width()
                    ));
                    if ui
                        .add_enabled(
                            !writing,
                            egui::Button::new(egui::RichText::new("Export…").strong()),
                        )
                        .on_hover_text("Ctrl+E: choose the file and write this table")
                        .clicked()
                    {
                        ctx.commands.run(CommandId::Export);
                    }
                    if writing && ui.button("Cancel").clicked() {
                        ctx.send(Command::Cancel(JobKind::Export));
                    }
                });
            }
            Err(error) => {
                ui.colored_label(ui.visuals().warn_fg_color, error);
            }
        }
        if let Some(path) = &self.last_written {
            ui.label(format!("Last written: {}", path.display()));
        }
        if let Ok(table) = &preview {
            ui.separator();
            if rows.is_some_and(|r| r > table.height()) {
                ui.weak(format!("Preview: the first {} rows", table.height()));
            }
            let height = super::fill_height(ui, 200.0);
            dataframe_table_ui(ui, "export preview", table, &[], height);
        }
    }
}

//! The desktop app: one window with the stages down the left (Preparation, Preprocessing,
//! Prediction, Plots, Export), the selected stage's panel in the centre and a status bar with the
//! running job. Every computation is the library's; the app holds state, runs jobs in the
//! background and draws.

mod export_panel;
mod jobs;
mod plots_panel;
mod prediction_panel;
mod preparation_panel;
mod preprocessing_panel;
mod table_view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eframe::egui;
use egui::{Key, KeyboardShortcut, Modifiers};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::export::{Destination, export_table};
use crate::prediction::{self, Analysis, ItemParameters, PersonScore, ResponseMatrix};
use crate::preparation::sqlite::TableInfo;
use crate::preparation::{LayoutReport, Source, SourceKind, sqlite};
use crate::preprocessing::{PipelineRun, PipelineStep};
use crate::project::{self, Project};

pub use export_panel::{ExportState, ExportTable, build_table as export_panel_table};
pub use plots_panel::{PlotKind, PlotsState, Series, SeriesStyle, plot_series, plot_svg};
pub use prediction_panel::{
    ParameterSource, PredictionState, load_parameter_file, parse_pasted_items,
};

use jobs::{Job, JobKind, Poll};

/// The bundled sample project, opened on first start.
pub fn sample_project_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.irtlab.json")
}

/// Opens the app window. `path` is a data or project file to open at once.
pub fn run_app(path: Option<PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("irtlab")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([760.0, 480.0])
            .with_drag_and_drop(true),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "irtlab",
        options,
        Box::new(move |cc| Ok(Box::new(IrtlabApp::new(cc, path)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}

/// The stages, in the order of the analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Stage {
    /// Source and layout.
    #[default]
    Preparation,
    /// The steps.
    Preprocessing,
    /// Fit or enter parameters.
    Prediction,
    /// Curves.
    Plots,
    /// Tables to files.
    Export,
}

impl Stage {
    const ALL: [Stage; 5] = [
        Stage::Preparation,
        Stage::Preprocessing,
        Stage::Prediction,
        Stage::Plots,
        Stage::Export,
    ];

    fn label(self) -> &'static str {
        match self {
            Stage::Preparation => "Preparation",
            Stage::Preprocessing => "Preprocessing",
            Stage::Prediction => "Prediction",
            Stage::Plots => "Plots",
            Stage::Export => "Export",
        }
    }
}

/// What persists between runs (eframe storage).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    /// Dark or light theme.
    pub dark: bool,
    /// Recently opened data and project files, newest first.
    pub recent_files: Vec<PathBuf>,
    /// The project open when the app last closed.
    pub last_project: Option<PathBuf>,
    /// Show the last frame's CPU time in the status bar.
    pub show_frame_time: bool,
    /// The welcome strip was closed.
    pub welcome_dismissed: bool,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            dark: true,
            recent_files: Vec::new(),
            last_project: None,
            show_frame_time: false,
            welcome_dismissed: false,
        }
    }
}

const SETTINGS_KEY: &str = "irtlab-settings";
const RECENT_LIMIT: usize = 10;
const PROCESS_DEBOUNCE: Duration = Duration::from_millis(250);

/// The loaded source data (before layout and steps).
pub struct Loaded {
    /// The table as loaded.
    pub frame: Arc<DataFrame>,
    /// Tables and views when the source is SQLite.
    pub sqlite_tables: Vec<TableInfo>,
}

/// The result of layout + preprocessing + building the response matrix.
pub struct Processed {
    /// What the layout did, or why it failed.
    pub layout: Result<LayoutReport, String>,
    /// The pipeline run (when the layout succeeded).
    pub pipeline: Option<PipelineRun>,
    /// The response matrix, or why it cannot be built.
    pub matrix: Result<Arc<ResponseMatrix>, String>,
}

/// Results of background jobs.
pub enum JobOutput {
    /// The source loaded.
    Loaded(Result<Loaded, String>),
    /// Layout and steps ran; the number is the edit generation they ran for.
    Processed(u64, Box<Processed>),
    /// A fit finished.
    Fitted(Result<Box<Analysis>, String>),
    /// Entered parameters scored the persons.
    Scored(Result<Vec<PersonScore>, String>),
    /// A file was written.
    Exported(Result<PathBuf, String>),
    /// A file dialog closed.
    Picked(DialogPurpose, Option<PathBuf>),
}

/// Why a file dialog was opened.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogPurpose {
    /// Open a data file.
    OpenDataset,
    /// Open a project.
    OpenProject,
    /// Save the project under a new name.
    SaveProjectAs,
    /// Choose where to export a table.
    Export,
    /// Load item parameters from a CSV or SQLite file.
    LoadParameters,
    /// Save the current plot as an image.
    SavePlot,
}

/// What a panel asks the app to do after drawing.
#[must_use]
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Action {
    /// Nothing.
    #[default]
    None,
    /// Reload the source (its path, kind or options changed).
    ReloadSource,
    /// The layout or response columns changed: rerun layout and steps.
    Reprocess,
    /// The steps changed; the vector is the pipeline before the edit, for undo.
    StepsEdited(Vec<PipelineStep>),
    /// Open a file dialog.
    Dialog(DialogPurpose),
    /// Open this file.
    Open(PathBuf),
    /// Fit the model.
    Fit,
    /// Score persons with the entered parameters.
    ScoreEntered,
    /// Cancel the running job of this kind.
    Cancel(JobKind),
    /// Go to a stage.
    Show(Stage),
    /// Save the project (dialog when it has no file yet).
    SaveProject,
    /// Export the chosen table (asks for the file).
    Export,
}

/// A short notification.
struct Toast {
    text: String,
    error: bool,
    until: Instant,
}

/// The app.
pub struct IrtlabApp {
    /// Persisted settings.
    pub settings: AppSettings,
    /// The analysis being edited.
    pub project: Project,
    /// Its file, once saved or opened.
    pub project_path: Option<PathBuf>,
    /// The folder relative source paths are resolved against.
    pub base: Option<PathBuf>,
    saved_json: String,
    /// The stage shown.
    pub stage: Stage,
    /// Loaded source data.
    pub loaded: Option<Loaded>,
    /// Why loading failed.
    pub load_error: Option<String>,
    /// Layout + steps + matrix.
    pub processed: Option<Processed>,
    process_generation: u64,
    process_due: Option<Instant>,
    /// Prediction panel state and results.
    pub prediction: PredictionState,
    /// Plots panel state.
    pub plots: PlotsState,
    /// Export panel state.
    pub export: ExportState,
    /// Preparation panel's editable SQL text.
    pub sql_text: String,
    undo: Vec<Vec<PipelineStep>>,
    redo: Vec<Vec<PipelineStep>>,
    last_undo_push: Option<Instant>,
    last_edit_kept_shape: bool,
    undo_requested: bool,
    redo_requested: bool,
    jobs: Vec<Job<JobOutput>>,
    /// The last message for the status bar.
    pub status: String,
    toasts: Vec<Toast>,
    show_about: bool,
    show_shortcuts: bool,
    last_frame_ms: f32,
    repaint: Option<egui::Context>,
    /// Fit as soon as the response matrix is ready (set when a project is opened, so that it
    /// shows its results at once).
    fit_when_ready: bool,
    /// Choose the person-id column when the new dataset has loaded.
    guess_id_column: bool,
}

impl IrtlabApp {
    /// Creates the app, restoring settings and opening `path`, the last project, or the sample.
    pub fn new(cc: &eframe::CreationContext<'_>, path: Option<PathBuf>) -> IrtlabApp {
        let settings: AppSettings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        install_fonts(&cc.egui_ctx);
        let mut app = IrtlabApp::with_settings(settings);
        app.repaint = Some(cc.egui_ctx.clone());
        cc.egui_ctx.set_theme(if app.settings.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        let start = path
            .or_else(|| app.settings.last_project.clone().filter(|p| p.exists()))
            .or_else(|| Some(sample_project_path()).filter(|p| p.exists()));
        if let Some(path) = start {
            app.open_path(&path);
        }
        app
    }

    /// An app with no window context (for tests) and the given settings.
    pub fn with_settings(settings: AppSettings) -> IrtlabApp {
        let project = Project::new(Source::Csv {
            path: PathBuf::new(),
            options: Default::default(),
        });
        IrtlabApp {
            settings,
            saved_json: project.to_json(None),
            project,
            project_path: None,
            base: None,
            stage: Stage::Preparation,
            loaded: None,
            load_error: None,
            processed: None,
            process_generation: 0,
            process_due: None,
            prediction: PredictionState::default(),
            plots: PlotsState::default(),
            export: ExportState::default(),
            sql_text: String::new(),
            undo: Vec::new(),
            redo: Vec::new(),
            last_undo_push: None,
            last_edit_kept_shape: false,
            undo_requested: false,
            redo_requested: false,
            jobs: Vec::new(),
            status: "Welcome to irtlab".into(),
            toasts: Vec::new(),
            show_about: false,
            show_shortcuts: false,
            last_frame_ms: 0.0,
            repaint: None,
            fit_when_ready: false,
            guess_id_column: false,
        }
    }

    /// A closure that asks for a repaint (from job threads).
    fn repainter(&self) -> impl Fn() + Send + Sync + Clone + 'static {
        let ctx = self.repaint.clone();
        move || {
            if let Some(ctx) = &ctx {
                ctx.request_repaint();
            }
        }
    }

    fn notify(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        self.status = text.clone();
        self.toasts.push(Toast {
            text,
            error,
            until: Instant::now() + Duration::from_secs(if error { 8 } else { 4 }),
        });
    }

    fn remember_recent(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
        self.settings.recent_files.retain(|p| *p != path);
        self.settings.recent_files.insert(0, path);
        self.settings.recent_files.truncate(RECENT_LIMIT);
    }

    /// Whether the project has unsaved changes.
    pub fn is_dirty(&self) -> bool {
        self.project.to_json(None) != self.saved_json
    }

    /// Opens a project file or a data file.
    pub fn open_path(&mut self, path: &Path) {
        let is_project = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".irtlab.json") || n.ends_with(".json"));
        if is_project {
            match Project::load(path) {
                Ok(project) => {
                    self.sql_text = match &project.source {
                        Source::Sqlite {
                            selection: crate::preparation::SqliteSelection::Query { sql },
                            ..
                        } => sql.clone(),
                        _ => String::new(),
                    };
                    self.saved_json = project.to_json(None);
                    self.project = project;
                    self.project_path = Some(path.to_path_buf());
                    self.base = path.parent().map(Path::to_path_buf);
                    self.settings.last_project = std::fs::canonicalize(path).ok();
                    self.after_new_project();
                    self.fit_when_ready = true;
                    self.remember_recent(path);
                    self.notify(format!("Opened project {}", path.display()), false);
                }
                Err(error) => self.notify(error.to_string(), true),
            }
        } else {
            match Source::for_file(path) {
                Ok(source) => {
                    let mut project = Project::new(source);
                    project.model = self.project.model.clone();
                    self.saved_json = String::new();
                    self.project = project;
                    self.project_path = None;
                    self.base = None;
                    self.sql_text.clear();
                    self.after_new_project();
                    self.guess_id_column = true;
                    self.stage = Stage::Preparation;
                    self.remember_recent(path);
                    self.notify(format!("Opened {}", path.display()), false);
                }
                Err(error) => self.notify(error.to_string(), true),
            }
        }
    }

    fn after_new_project(&mut self) {
        self.undo.clear();
        self.redo.clear();
        self.prediction = PredictionState::default();
        self.plots = PlotsState::default();
        self.processed = None;
        self.reload_source();
    }

    /// Starts loading the source in the background.
    pub fn reload_source(&mut self) {
        self.jobs.retain(|j| {
            let obsolete = matches!(j.kind, JobKind::Load | JobKind::Process);
            if obsolete {
                j.request_cancel();
            }
            !obsolete
        });
        let source = self.project.resolved_source(self.base.as_deref());
        if source.path().as_os_str().is_empty() {
            return;
        }
        let label = format!(
            "Loading {}",
            source
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        self.jobs.push(Job::spawn(
            JobKind::Load,
            label,
            self.repainter(),
            move |_, _| {
                let sqlite_tables = if matches!(source, Source::Sqlite { .. }) {
                    sqlite::list_tables(source.path()).unwrap_or_default()
                } else {
                    Vec::new()
                };
                JobOutput::Loaded(
                    source
                        .load(None)
                        .map(|frame| Loaded {
                            frame: Arc::new(frame),
                            sqlite_tables,
                        })
                        .map_err(|e| e.to_string()),
                )
            },
        ));
    }

    /// Schedules layout + steps to rerun shortly (edits are debounced).
    pub fn schedule_process(&mut self) {
        self.process_generation += 1;
        self.process_due = Some(Instant::now() + PROCESS_DEBOUNCE);
    }

    fn start_process(&mut self) {
        self.process_due = None;
        let Some(loaded) = &self.loaded else { return };
        self.jobs.retain(|j| {
            let obsolete = j.kind == JobKind::Process;
            if obsolete {
                j.request_cancel();
            }
            !obsolete
        });
        let frame = loaded.frame.clone();
        let project = self.project.clone();
        let generation = self.process_generation;
        self.jobs.push(Job::spawn(
            JobKind::Process,
            "Preprocessing",
            self.repainter(),
            move |_, _| {
                JobOutput::Processed(generation, Box::new(process(&project, (*frame).clone())))
            },
        ));
    }

    fn start_fit(&mut self) {
        let Some(Ok(matrix)) = self.processed.as_ref().map(|p| p.matrix.clone()) else {
            self.notify("Nothing to fit yet: the response matrix is not ready", true);
            return;
        };
        if self.jobs.iter().any(|j| j.kind == JobKind::Fit) {
            return;
        }
        let settings = self.project.model.clone();
        let scoring = self.project.scoring;
        let max_cycles = settings.max_cycles;
        self.prediction.fit_error = None;
        self.jobs.push(Job::spawn(
            JobKind::Fit,
            format!("Fitting {}", settings.model.label()),
            self.repainter(),
            move |sink, cancel| {
                let result = prediction::analyse(
                    &matrix,
                    &settings,
                    scoring,
                    &mut |p| match p.standard_errors {
                        Some((done, total)) => sink.report(
                            done as f32 / total.max(1) as f32,
                            format!("standard errors {done}/{total} parameters"),
                        ),
                        None => sink.report(
                            (p.cycle as f32 / max_cycles as f32).min(1.0),
                            format!("cycle {}  log-likelihood {:.3}", p.cycle, p.log_likelihood),
                        ),
                    },
                    cancel,
                );
                JobOutput::Fitted(result.map(Box::new).map_err(|e| e.to_string()))
            },
        ));
    }

    fn start_scoring_entered(&mut self) {
        let Some(Ok(matrix)) = self.processed.as_ref().map(|p| p.matrix.clone()) else {
            self.notify("No response matrix to score: prepare data first", true);
            return;
        };
        let items = self.prediction.entered.clone();
        let options = prediction::ScoringOptions {
            method: self.project.scoring,
            ..Default::default()
        };
        self.jobs.push(Job::spawn(
            JobKind::Score,
            "Scoring persons",
            self.repainter(),
            move |_, _| {
                let result = prediction::align_items(&matrix, &items)
                    .and_then(|aligned| prediction::score_persons(&aligned, &items, &options));
                JobOutput::Scored(result.map_err(|e| e.to_string()))
            },
        ));
    }

    fn open_dialog(&mut self, purpose: DialogPurpose) {
        if self.jobs.iter().any(|j| j.kind == JobKind::Dialog) {
            return;
        }
        let start_dir = self
            .project_path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let export_format = self.export.format;
        let export_name = self.export.table.file_stem().to_string();
        let label = match purpose {
            DialogPurpose::OpenDataset => "Choose a data file",
            DialogPurpose::OpenProject => "Choose a project",
            DialogPurpose::SaveProjectAs => "Save the project as",
            DialogPurpose::Export => "Choose where to export",
            DialogPurpose::LoadParameters => "Choose an item-parameter table",
            DialogPurpose::SavePlot => "Save the plot as",
        };
        self.jobs.push(Job::spawn(
            JobKind::Dialog,
            label,
            self.repainter(),
            move |_, _| {
                let mut dialog = rfd::FileDialog::new();
                if let Some(dir) = start_dir {
                    dialog = dialog.set_directory(dir);
                }
                let path = match &purpose {
                    DialogPurpose::OpenDataset => dialog
                        .add_filter(
                            "Data (CSV, SQLite, Parquet)",
                            &["csv", "tsv", "txt", "sqlite", "sqlite3", "db", "parquet"],
                        )
                        .add_filter("All files", &["*"])
                        .pick_file(),
                    DialogPurpose::OpenProject => {
                        dialog.add_filter("irtlab project", &["json"]).pick_file()
                    }
                    DialogPurpose::LoadParameters => dialog
                        .add_filter(
                            "Item parameters (CSV, SQLite)",
                            &["csv", "sqlite", "sqlite3", "db"],
                        )
                        .pick_file(),
                    DialogPurpose::SaveProjectAs => dialog
                        .set_file_name("analysis.irtlab.json")
                        .add_filter("irtlab project", &["json"])
                        .save_file(),
                    DialogPurpose::Export => dialog
                        .set_file_name(format!("{export_name}.{}", export_format.extension()))
                        .add_filter(export_format.label(), &[export_format.extension()])
                        .save_file(),
                    DialogPurpose::SavePlot => dialog
                        .set_file_name("plot.png")
                        .add_filter("PNG image", &["png"])
                        .add_filter("SVG drawing", &["svg"])
                        .save_file(),
                };
                JobOutput::Picked(purpose, path)
            },
        ));
    }

    /// Saves the project to `path`.
    pub fn save_project_to(&mut self, path: &Path) {
        // Keep the SQL editor's text in the project.
        match self.project.save(path) {
            Ok(()) => {
                self.saved_json = self.project.to_json(None);
                self.project_path = Some(path.to_path_buf());
                self.settings.last_project = std::fs::canonicalize(path).ok();
                self.remember_recent(path);
                self.notify(format!("Saved {}", path.display()), false);
            }
            Err(error) => self.notify(error.to_string(), true),
        }
    }

    /// Writes the chosen export table to `path`.
    pub fn export_to(&mut self, path: PathBuf) {
        let table = match export_panel::build_table(self) {
            Ok(table) => table,
            Err(error) => {
                self.notify(error, true);
                return;
            }
        };
        let destination = Destination {
            path: path.clone(),
            format: self.export.format,
            table: self.export.sqlite_table.clone(),
            replace_table: self.export.replace_table,
        };
        let source_path = self
            .project
            .resolved_source(self.base.as_deref())
            .path()
            .to_path_buf();
        let inputs = vec![source_path];
        self.jobs.push(Job::spawn(
            JobKind::Export,
            format!("Exporting {}", path.display()),
            self.repainter(),
            move |_, _| {
                let mut table = table;
                JobOutput::Exported(
                    export_table(&mut table, &destination, &inputs)
                        .map(|_| path)
                        .map_err(|e| e.to_string()),
                )
            },
        ));
    }

    /// Applies a panel's action.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::None => {}
            Action::ReloadSource => {
                self.processed = None;
                self.reload_source();
            }
            Action::Reprocess => self.schedule_process(),
            Action::StepsEdited(before) => {
                // Typing in a field edits the same steps many times a second: those edits merge
                // into one undo entry. Adding, removing or moving a step is always its own entry.
                let shape = |steps: &[PipelineStep]| -> Vec<&'static str> {
                    steps.iter().map(|s| s.step.kind_label()).collect()
                };
                let same_shape = shape(&before) == shape(&self.project.steps);
                let coalesce = same_shape
                    && self.last_edit_kept_shape
                    && self
                        .last_undo_push
                        .is_some_and(|t| t.elapsed() < Duration::from_millis(800));
                if !coalesce {
                    self.undo.push(before);
                    self.redo.clear();
                }
                self.last_edit_kept_shape = same_shape;
                self.last_undo_push = Some(Instant::now());
                self.schedule_process();
            }
            Action::Dialog(purpose) => self.open_dialog(purpose),
            Action::Open(path) => self.open_path(&path),
            Action::Fit => self.start_fit(),
            Action::ScoreEntered => self.start_scoring_entered(),
            Action::Cancel(kind) => {
                for job in self.jobs.iter().filter(|j| j.kind == kind) {
                    job.request_cancel();
                }
            }
            Action::Show(stage) => self.stage = stage,
            Action::SaveProject => match self.project_path.clone() {
                Some(path) => self.save_project_to(&path),
                None => self.open_dialog(DialogPurpose::SaveProjectAs),
            },
            Action::Export => self.open_dialog(DialogPurpose::Export),
        }
    }

    fn undo(&mut self) {
        if let Some(previous) = self.undo.pop() {
            self.redo
                .push(std::mem::replace(&mut self.project.steps, previous));
            self.last_undo_push = None;
            self.schedule_process();
            self.status = "Undid a pipeline edit".into();
        }
    }

    fn redo(&mut self) {
        if let Some(next) = self.redo.pop() {
            self.undo
                .push(std::mem::replace(&mut self.project.steps, next));
            self.last_undo_push = None;
            self.schedule_process();
            self.status = "Redid a pipeline edit".into();
        }
    }

    /// Takes finished jobs' results.
    pub fn poll_jobs(&mut self) {
        let mut finished = Vec::new();
        self.jobs.retain_mut(|job| match job.poll() {
            Poll::Running => true,
            Poll::Done(output) => {
                let cancelled = job.cancel.load(Ordering::Relaxed);
                finished.push((job.kind, Ok(output), cancelled));
                false
            }
            Poll::Failed(message) => {
                finished.push((job.kind, Err(message), false));
                false
            }
        });
        for (kind, output, cancelled) in finished {
            match output {
                Err(message) => {
                    if kind == JobKind::Fit {
                        self.prediction.fit_error = Some(message.clone());
                    }
                    self.notify(message, true);
                }
                Ok(output) => self.take_output(kind, output, cancelled),
            }
        }
        if self.process_due.is_some_and(|t| Instant::now() >= t) {
            self.start_process();
        }
    }

    fn take_output(&mut self, kind: JobKind, output: JobOutput, cancelled: bool) {
        match output {
            JobOutput::Loaded(result) => {
                if cancelled {
                    return;
                }
                match result {
                    Ok(loaded) => {
                        if std::mem::take(&mut self.guess_id_column) {
                            self.project.response_columns.id_column =
                                guess_id_column(&loaded.frame);
                        }
                        self.status = format!(
                            "Loaded {} rows × {} columns",
                            format_count(loaded.frame.height()),
                            loaded.frame.width()
                        );
                        self.loaded = Some(loaded);
                        self.load_error = None;
                        self.process_generation += 1;
                        self.start_process();
                    }
                    Err(error) => {
                        self.loaded = None;
                        self.processed = None;
                        self.load_error = Some(error.clone());
                        self.notify(error, true);
                    }
                }
            }
            JobOutput::Processed(generation, processed) => {
                if generation == self.process_generation {
                    let ready = processed.matrix.is_ok();
                    self.processed = Some(*processed);
                    if ready && std::mem::take(&mut self.fit_when_ready) {
                        self.start_fit();
                    }
                }
            }
            JobOutput::Fitted(result) => match result {
                Ok(analysis) => {
                    let c = &analysis.calibration;
                    let text = format!(
                        "{} fitted: log-likelihood {:.3}, {} cycles{}",
                        c.model_label(),
                        c.log_likelihood,
                        c.cycles,
                        if c.converged {
                            ""
                        } else {
                            " — NOT converged"
                        }
                    );
                    self.notify(text, !c.converged);
                    self.plots
                        .on_new_items(&analysis.calibration.item_parameters());
                    self.prediction.fitted_scores = Some(Arc::new(analysis.scores.clone()));
                    self.prediction.analysis = Some(Arc::new(*analysis));
                }
                Err(error) => {
                    let error = if error == "cancelled" {
                        "Fit cancelled".to_string()
                    } else {
                        error
                    };
                    self.prediction.fit_error = Some(error.clone());
                    self.notify(error, true);
                }
            },
            JobOutput::Scored(result) => match result {
                Ok(scores) => {
                    self.status = format!("Scored {} persons", format_count(scores.len()));
                    self.prediction.entered_scores = Some(Arc::new(scores));
                }
                Err(error) => self.notify(error, true),
            },
            JobOutput::Exported(result) => match result {
                Ok(path) => {
                    self.export.last_written = Some(path.clone());
                    self.notify(format!("Wrote {}", path.display()), false);
                }
                Err(error) => self.notify(error, true),
            },
            JobOutput::Picked(purpose, path) => {
                let _ = kind;
                if let Some(path) = path {
                    self.picked(purpose, path);
                }
            }
        }
    }

    fn picked(&mut self, purpose: DialogPurpose, path: PathBuf) {
        match purpose {
            DialogPurpose::OpenDataset | DialogPurpose::OpenProject => self.open_path(&path),
            DialogPurpose::SaveProjectAs => {
                let path = if path.to_string_lossy().ends_with(".json") {
                    path
                } else {
                    path.with_extension("irtlab.json")
                };
                self.save_project_to(&path)
            }
            DialogPurpose::Export => self.export_to(path),
            DialogPurpose::LoadParameters => match prediction_panel::load_parameter_file(
                &path,
                self.prediction.entered_scaling.max(1.0),
            ) {
                Ok(items) => {
                    self.notify(
                        format!("Loaded {} items from {}", items.len(), path.display()),
                        false,
                    );
                    self.plots.on_new_items(&items);
                    self.prediction.entered = items;
                    self.prediction.source = ParameterSource::Entered;
                    self.prediction.entered_scores = None;
                }
                Err(error) => self.notify(error, true),
            },
            DialogPurpose::SavePlot => match plots_panel::save_plot(self, &path) {
                Ok(()) => self.notify(format!("Saved {}", path.display()), false),
                Err(error) => self.notify(error, true),
            },
        }
    }

    /// The item parameters in use: fitted, or entered.
    pub fn current_items(&self) -> (Vec<ItemParameters>, f64) {
        match self.prediction.source {
            ParameterSource::Fitted => match &self.prediction.analysis {
                Some(a) => (
                    a.calibration.item_parameters(),
                    a.calibration.settings.scaling,
                ),
                None => (Vec::new(), 1.0),
            },
            ParameterSource::Entered => (
                self.prediction.entered.clone(),
                self.prediction.entered_scaling,
            ),
        }
    }

    /// Person scores in use (from the fit, or from scoring with entered parameters).
    pub fn current_scores(&self) -> Option<Arc<Vec<PersonScore>>> {
        match self.prediction.source {
            ParameterSource::Fitted => self.prediction.fitted_scores.clone(),
            ParameterSource::Entered => self.prediction.entered_scores.clone(),
        }
    }

    /// The one-line status of a stage, and whether it has an error.
    pub fn stage_status(&self, stage: Stage) -> (String, bool) {
        match stage {
            Stage::Preparation => {
                if let Some(error) = &self.load_error {
                    return (first_line(error), true);
                }
                if self.jobs.iter().any(|j| j.kind == JobKind::Load) {
                    return ("loading…".into(), false);
                }
                match (&self.loaded, &self.processed) {
                    (Some(_), Some(Processed { layout: Err(e), .. })) => (first_line(e), true),
                    (Some(loaded), _) => (
                        format!(
                            "{} rows × {} columns",
                            format_count(loaded.frame.height()),
                            loaded.frame.width()
                        ),
                        false,
                    ),
                    _ => ("no data".into(), false),
                }
            }
            Stage::Preprocessing => {
                let steps = self.project.steps.len();
                match self.processed.as_ref().and_then(|p| p.pipeline.as_ref()) {
                    Some(run) => {
                        if let Some(error) = &run.error {
                            return (format!("step {} failed", error.position), true);
                        }
                        let rows_in = run
                            .reports
                            .first()
                            .map_or(run.output.height(), |r| r.rows_in);
                        (
                            format!(
                                "{steps} steps, {} → {} rows",
                                format_count(rows_in),
                                format_count(run.output.height())
                            ),
                            false,
                        )
                    }
                    None => (format!("{steps} steps"), false),
                }
            }
            Stage::Prediction => {
                if self.jobs.iter().any(|j| j.kind == JobKind::Fit) {
                    return ("fitting…".into(), false);
                }
                if let Some(error) = &self.prediction.fit_error {
                    return (first_line(error), true);
                }
                match (self.prediction.source, &self.prediction.analysis) {
                    (ParameterSource::Entered, _) => (
                        format!("{} entered items", self.prediction.entered.len()),
                        false,
                    ),
                    (ParameterSource::Fitted, Some(a)) => (
                        format!(
                            "{}, logL {:.1}{}",
                            a.calibration.model_label(),
                            a.calibration.log_likelihood,
                            if a.calibration.converged {
                                ""
                            } else {
                                ", not converged"
                            }
                        ),
                        !a.calibration.converged,
                    ),
                    (ParameterSource::Fitted, None) => {
                        match self.processed.as_ref().map(|p| &p.matrix) {
                            Some(Ok(m)) => (
                                format!(
                                    "ready: {} × {} items",
                                    format_count(m.n_persons()),
                                    m.n_items()
                                ),
                                false,
                            ),
                            Some(Err(e)) => (first_line(e), true),
                            None => ("waiting for data".into(), false),
                        }
                    }
                }
            }
            Stage::Plots => {
                let (items, _) = self.current_items();
                if items.is_empty() {
                    ("no item parameters yet".into(), false)
                } else {
                    (
                        format!(
                            "{} of {} items shown",
                            self.plots.selected.len(),
                            items.len()
                        ),
                        false,
                    )
                }
            }
            Stage::Export => match &self.export.last_written {
                Some(path) => (
                    format!(
                        "wrote {}",
                        path.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    ),
                    false,
                ),
                None => ("nothing written yet".into(), false),
            },
        }
    }

    fn handle_shortcuts(&mut self, ctx: &egui::Context) -> Action {
        let shortcut = |modifiers, key| KeyboardShortcut::new(modifiers, key);
        let shift_command = Modifiers::COMMAND | Modifiers::SHIFT;
        let mut action = Action::None;
        ctx.input_mut(|input| {
            if input.consume_shortcut(&shortcut(shift_command, Key::S)) {
                action = Action::Dialog(DialogPurpose::SaveProjectAs);
            } else if input.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::S)) {
                action = Action::SaveProject;
            } else if input.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::O)) {
                action = Action::Dialog(DialogPurpose::OpenDataset);
            } else if input.consume_shortcut(&shortcut(shift_command, Key::Z)) {
                action = Action::Show(Stage::Preprocessing);
                self.redo_requested = true;
            } else if input.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Z)) {
                self.undo_requested = true;
            } else if input.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::E)) {
                action = Action::Show(Stage::Export);
            } else if input.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Enter)) {
                action = match self.stage {
                    Stage::Preparation => Action::None,
                    _ => Action::Fit,
                };
            }
        });
        action
    }

    /// The "Recent" submenu, shared by the File menu and the welcome strip.
    fn recent_menu_ui(&self, ui: &mut egui::Ui, action: &mut Action) {
        ui.menu_button("Recent", |ui| {
            if self.settings.recent_files.is_empty() {
                ui.weak("No recent files yet");
            }
            for path in &self.settings.recent_files {
                if ui.button(path.display().to_string()).clicked() {
                    *action = Action::Open(path.clone());
                }
            }
        });
    }

    fn menu_bar_ui(&mut self, ui: &mut egui::Ui) -> Action {
        let mut action = Action::None;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui
                    .add(egui::Button::new("Open dataset…").shortcut_text("Ctrl+O"))
                    .clicked()
                {
                    action = Action::Dialog(DialogPurpose::OpenDataset);
                }
                if ui.button("Open project…").clicked() {
                    action = Action::Dialog(DialogPurpose::OpenProject);
                }
                if ui
                    .add(egui::Button::new("Save project").shortcut_text("Ctrl+S"))
                    .clicked()
                {
                    action = Action::SaveProject;
                }
                if ui
                    .add(egui::Button::new("Save project as…").shortcut_text("Ctrl+Shift+S"))
                    .clicked()
                {
                    action = Action::Dialog(DialogPurpose::SaveProjectAs);
                }
                self.recent_menu_ui(ui, &mut action);
                if ui.button("Open the sample project").clicked() {
                    action = Action::Open(sample_project_path());
                }
                ui.separator();
                if ui
                    .add(egui::Button::new("Export…").shortcut_text("Ctrl+E"))
                    .clicked()
                {
                    action = Action::Show(Stage::Export);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(
                        !self.undo.is_empty(),
                        egui::Button::new("Undo pipeline edit").shortcut_text("Ctrl+Z"),
                    )
                    .clicked()
                {
                    self.undo_requested = true;
                }
                if ui
                    .add_enabled(
                        !self.redo.is_empty(),
                        egui::Button::new("Redo pipeline edit").shortcut_text("Ctrl+Shift+Z"),
                    )
                    .clicked()
                {
                    self.redo_requested = true;
                }
            });
            ui.menu_button("View", |ui| {
                let mut dark = self.settings.dark;
                if ui.radio_value(&mut dark, false, "Light").clicked()
                    || ui.radio_value(&mut dark, true, "Dark").clicked()
                {
                    self.settings.dark = dark;
                    ui.ctx().set_theme(if dark {
                        egui::Theme::Dark
                    } else {
                        egui::Theme::Light
                    });
                }
                ui.checkbox(&mut self.settings.show_frame_time, "Show frame time");
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts").clicked() {
                    self.show_shortcuts = true;
                }
                if ui.button("About irtlab").clicked() {
                    self.show_about = true;
                }
            });
        });
        action
    }

    fn stages_ui(&mut self, ui: &mut egui::Ui) -> Action {
        let mut action = Action::None;
        ui.add_space(6.0);
        let title = self
            .project_path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Unsaved project".into());
        ui.horizontal(|ui| {
            ui.strong(title);
            if self.is_dirty() {
                ui.weak("(modified)");
            }
        });
        ui.add_space(6.0);
        for (index, stage) in Stage::ALL.into_iter().enumerate() {
            let (status, error) = self.stage_status(stage);
            let selected = self.stage == stage;
            let response = ui
                .scope(|ui| {
                    ui.set_width(ui.available_width());
                    let text =
                        egui::RichText::new(format!("{}  {}", index + 1, stage.label())).strong();
                    let label = ui.selectable_label(selected, text);
                    let status_text = if error {
                        egui::RichText::new(format!("● {status}"))
                            .color(ui.visuals().error_fg_color)
                    } else {
                        egui::RichText::new(status).weak()
                    };
                    ui.add(egui::Label::new(status_text).truncate());
                    label
                })
                .inner;
            if response.clicked() {
                action = Action::Show(stage);
            }
            ui.add_space(8.0);
        }
        action
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) -> Action {
        let mut action = Action::None;
        ui.horizontal(|ui| {
            let running: Vec<(JobKind, String, Option<f32>, String)> = self
                .jobs
                .iter()
                .filter(|j| j.kind != JobKind::Dialog)
                .map(|j| {
                    let seconds = j.started.elapsed().as_secs_f32();
                    let label = if seconds >= 1.0 {
                        format!("{} ({seconds:.0} s)", j.label)
                    } else {
                        j.label.clone()
                    };
                    (j.kind, label, j.fraction, j.detail.clone())
                })
                .collect();
            if let Some((kind, label, fraction, detail)) = running.first() {
                ui.spinner();
                ui.label(label);
                let bar = match fraction {
                    Some(f) => egui::ProgressBar::new(*f).desired_width(160.0),
                    None => egui::ProgressBar::new(0.0)
                        .animate(true)
                        .desired_width(160.0),
                };
                ui.add(bar);
                if !detail.is_empty() {
                    ui.monospace(detail);
                }
                if matches!(
                    kind,
                    JobKind::Fit | JobKind::Load | JobKind::Export | JobKind::Score
                ) && ui.button("Cancel").clicked()
                {
                    action = Action::Cancel(*kind);
                }
                ui.separator();
            }
            ui.add(egui::Label::new(&self.status).truncate());
            if self.settings.show_frame_time {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.monospace(format!("frame {:.1} ms", self.last_frame_ms));
                });
            }
        });
        action
    }

    /// On first start: what is on screen, and the ways to open one's own data.
    fn welcome_strip_ui(&mut self, ui: &mut egui::Ui) -> Action {
        if self.settings.welcome_dismissed {
            return Action::None;
        }
        let mut action = Action::None;
        egui::Frame::group(ui.style())
            .fill(ui.visuals().faint_bg_color)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    ui.strong("Welcome to irtlab.");
                    let on_sample = self.project_path.as_ref().is_some_and(|p| {
                        std::fs::canonicalize(p).ok() == std::fs::canonicalize(sample_project_path()).ok()
                    });
                    if on_sample {
                        ui.label("This is the sample project: a school database, prepared, scored against a key, filtered and fitted with a 2PL. Walk through the stages on the left, or start on your own data:");
                    } else {
                        ui.label("Walk through the stages on the left, or open other data:");
                    }
                    if ui.button("Open dataset…").clicked() {
                        action = Action::Dialog(DialogPurpose::OpenDataset);
                    }
                    if ui.button("Open project…").clicked() {
                        action = Action::Dialog(DialogPurpose::OpenProject);
                    }
                    self.recent_menu_ui(ui, &mut action);
                    if ui.button("✕").on_hover_text("Hide this strip").clicked() {
                        self.settings.welcome_dismissed = true;
                    }
                });
            });
        ui.add_space(4.0);
        action
    }

    fn toasts_ui(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.toasts.retain(|t| t.until > now);
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -40.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for toast in self.toasts.iter().rev().take(4) {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(420.0);
                        if toast.error {
                            ui.colored_label(ui.visuals().error_fg_color, &toast.text);
                        } else {
                            ui.label(&toast.text);
                        }
                    });
                }
            });
        ctx.request_repaint_after(Duration::from_millis(500));
    }

    fn windows_ui(&mut self, ctx: &egui::Context) {
        egui::Window::new("About irtlab")
            .open(&mut self.show_about)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.heading(format!("irtlab {}", env!("CARGO_PKG_VERSION")));
                ui.label("Item Response Theory analysis: prepare, calibrate, score, plot, export.");
                ui.label("Calibration by marginal maximum likelihood (EM, Bock & Aitkin 1981) over 61 quadrature nodes, as in mirt.");
            });
        egui::Window::new("Keyboard shortcuts")
            .open(&mut self.show_shortcuts)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.monospace(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
    }

    fn dropped_files(&mut self, ctx: &egui::Context) -> Action {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        dropped
            .into_iter()
            .next()
            .map_or(Action::None, Action::Open)
    }

    /// Draws the whole window.
    pub fn ui_contents(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        if self.repaint.is_none() {
            self.repaint = Some(ui.ctx().clone());
        }
        let ctx = ui.ctx().clone();
        let mut actions = vec![self.handle_shortcuts(&ctx), self.dropped_files(&ctx)];

        egui::Panel::top("menu").show(ui, |ui| {
            actions.push(self.menu_bar_ui(ui));
        });
        egui::Panel::bottom("status")
            .exact_size(30.0)
            .show(ui, |ui| {
                actions.push(self.status_bar_ui(ui));
            });
        egui::Panel::left("stages")
            .resizable(false)
            .exact_size(220.0)
            .show(ui, |ui| {
                actions.push(self.stages_ui(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            actions.push(self.welcome_strip_ui(ui));
            let action = match self.stage {
                Stage::Preparation => preparation_panel::preparation_ui(ui, self),
                Stage::Preprocessing => preprocessing_panel::preprocessing_ui(ui, self),
                Stage::Prediction => prediction_panel::prediction_ui(ui, self),
                Stage::Plots => plots_panel::plots_ui(ui, self),
                Stage::Export => export_panel::export_ui(ui, self),
            };
            actions.push(action);
        });
        self.windows_ui(&ctx);
        self.toasts_ui(&ctx);
        for action in actions {
            self.apply(action);
        }
        // Undo and redo are asked for from inside input and menu closures, which cannot borrow
        // the app; they run here, once.
        if std::mem::take(&mut self.undo_requested) {
            self.undo();
        }
        if std::mem::take(&mut self.redo_requested) {
            self.redo();
        }
        if self.process_due.is_some() || !self.jobs.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
    }
}

/// Keyboard shortcuts, for the Help window and the README.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+O", "Open a dataset"),
    ("Ctrl+S", "Save the project"),
    ("Ctrl+Shift+S", "Save the project as…"),
    ("Ctrl+Z", "Undo a pipeline edit"),
    ("Ctrl+Shift+Z", "Redo a pipeline edit"),
    ("Ctrl+E", "Export"),
    (
        "Ctrl+Enter",
        "Run the SQL query (Preparation) / fit the model",
    ),
];

impl eframe::App for IrtlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Some(ms) = frame.info().cpu_usage {
            self.last_frame_ms = ms * 1000.0;
        }
        self.ui_contents(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

/// Layout, steps and the response matrix for `project` over the loaded `frame`.
pub fn process(project: &Project, frame: DataFrame) -> Processed {
    match project::prepare_loaded(project, frame) {
        Err(error) => Processed {
            layout: Err(error.to_string()),
            pipeline: None,
            matrix: Err("the layout failed".into()),
        },
        Ok(prepared) => {
            let matrix = project::response_matrix(project, &prepared)
                .map(Arc::new)
                .map_err(|e| e.to_string());
            Processed {
                layout: Ok(prepared.layout),
                pipeline: Some(prepared.pipeline),
                matrix,
            }
        }
    }
}

/// Adds DejaVu Sans (and Mono) after egui's default fonts, for the arrows, math signs and
/// symbols the interface uses (→, ≠, ≤, θ, ▲, ✕, ⚠, …) that the defaults lack.
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "DejaVuSans".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSans.ttf"
        ))),
    );
    fonts.font_data.insert(
        "DejaVuSansMono".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSansMono.ttf"
        ))),
    );
    fonts
        .families
        .entry(egui::FontFamily::Proportional)
        .or_default()
        .push("DejaVuSans".into());
    let monospace = fonts
        .families
        .entry(egui::FontFamily::Monospace)
        .or_default();
    monospace.push("DejaVuSansMono".into());
    monospace.push("DejaVuSans".into());
    ctx.set_fonts(fonts);
}

/// The column that most likely identifies persons in a freshly opened table: one named like an
/// id ("id", "person", "student_id", "respondent", …), else a first column of text.
pub fn guess_id_column(frame: &DataFrame) -> Option<String> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    const WORDS: [&str; 8] = [
        "id",
        "person",
        "student",
        "respondent",
        "subject",
        "participant",
        "examinee",
        "pupil",
    ];
    names
        .iter()
        .find(|n| {
            let lower = n.to_lowercase();
            WORDS.iter().any(|w| {
                lower == *w
                    || lower.starts_with(&format!("{w}_"))
                    || lower.ends_with("_id")
                    || lower.ends_with(" id")
            })
        })
        .cloned()
        .or_else(|| {
            let first = frame.columns().first()?;
            (first.dtype() == &polars::prelude::DataType::String).then(|| first.name().to_string())
        })
}

/// `1234567` as `1,234,567`.
pub fn format_count(n: usize) -> String {
    crate::text::count(n)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// Whether a path looks like a SQLite database.
pub fn is_sqlite(path: &Path) -> bool {
    SourceKind::detect(path) == SourceKind::Sqlite
}
